# Copyright 2026 wm_ros developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Group-relative advantages and the clipped policy update (GRPO, as World-Gymnast runs it).

Each start frame's G rollouts form a group. A group is kept when its success rate (over
the rollouts the world model is sure of) lies in ``[keep_min, keep_max]`` and its
returns differ; a kept rollout's advantage is its return minus the group mean, over the
group's standard deviation, and every one of its steps carries it. The loss is the
clipped surrogate with asymmetric clipping (``1 - clip_low``, ``1 + clip_high``: "clip
higher") averaged over steps, with no KL term and no critic.

Why the update is written here and not taken from a library: TorchRL 0.14's
``ClipPPOLoss`` has the asymmetric clip, but its advantage modules (GAE, TD) need a
critic and know no group-relative advantage, its loss wants the actor wrapped as a
``ProbabilisticActor`` over TensorDicts, and it pins ``tensordict<0.15`` and brings a
compiled extension and three more packages (checked: torchrl 0.14.0 installs with torch
2.13.0 and tensordict 0.14.3 only; tensordict 0.15 refuses it) for a loss of a dozen
lines. Stable-Baselines3 runs its own rollout loop over a gymnasium ``VecEnv`` with
auto-reset and its own policy classes: rollouts would bypass the one episode driver and
the behaviour-cloned network would need porting into its policy API. Here the driver
runs the rollouts, and the update is plain torch on the recorded steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wm_ros.rl.actor import GaussianActor
from wm_ros.rl.config import RLConfig
from wm_ros.rl.rollouts import Batch


@dataclass
class Advantages:
    """Per rollout: ``value`` float[N] (0 where not kept), ``keep`` bool[N]; group counts."""

    value: np.ndarray
    keep: np.ndarray
    groups: int
    kept_groups: int


def advantages(batch: Batch, cfg: RLConfig) -> Advantages:
    """Return the group-relative advantages of ``batch`` (module docstring)."""
    returns = batch.returns(cfg.shaping)
    value, keep = np.zeros(len(returns)), np.zeros(len(returns), bool)
    groups = np.unique(batch.group)
    kept = 0
    for g in groups:
        rows = np.flatnonzero((batch.group == g) & (batch.weight > 0))
        if len(rows) < 2:
            continue
        rate = batch.success[rows].mean()
        sd = returns[rows].std()
        if not cfg.keep_min <= rate <= cfg.keep_max or sd < 1e-8:
            continue
        value[rows] = (returns[rows] - returns[rows].mean()) / (sd + 1e-6)
        keep[rows] = True
        kept += 1
    return Advantages(value, keep, len(groups), kept)


@dataclass
class Steps:
    """The kept rollouts' steps, flattened: what the update trains on."""

    images: np.ndarray          # uint8[n, S, S, 3]
    ee: np.ndarray              # float32[n, 2]
    actions: np.ndarray         # float32[n, 2] (units of max_speed, unclipped)
    logp: np.ndarray            # float32[n]: log-probability when sampled
    advantage: np.ndarray       # float32[n]
    instruction: np.ndarray     # int64[n]: index into ``lang``
    lang: np.ndarray            # float32[U, 1+W, 384]

    def __len__(self) -> int:
        return len(self.logp)


def flatten(actor: GaussianActor, batch: Batch, adv: Advantages) -> Steps:
    """Return the steps of the kept rollouts of ``batch``, each with its advantage."""
    rows = np.flatnonzero(adv.keep)
    texts = sorted({batch.instructions[r] for r in rows})
    index = {t: i for i, t in enumerate(texts)}
    parts = [batch.trajectories[r] for r in rows]

    def cat(key, dtype):
        if not parts:
            return np.zeros((0,), dtype)
        return np.concatenate([p[key] for p in parts]).astype(dtype, copy=False)
    per_step = [np.full(len(p['logp']), v, np.float32)
                for p, v in zip(parts, adv.value[rows])]
    which = [np.full(len(p['logp']), index[batch.instructions[r]], np.int64)
             for p, r in zip(parts, rows)]
    return Steps(cat('images', np.uint8), cat('ee', np.float32), cat('actions', np.float32),
                 cat('logp', np.float32),
                 np.concatenate(per_step) if parts else np.zeros(0, np.float32),
                 np.concatenate(which) if parts else np.zeros(0, np.int64),
                 actor.lang(texts) if texts else np.zeros((0,), np.float32))


def update(actor: GaussianActor, optimizer: torch.optim.Optimizer, steps: Steps,
           cfg: RLConfig, rng: np.random.Generator) -> dict:
    """Take ``cfg.epochs`` passes of clipped minibatch steps over ``steps``; return stats."""
    stats = {'loss': 0.0, 'clipped': 0.0, 'kl': 0.0, 'gradient_steps': 0}
    if not len(steps):
        return stats
    for _ in range(cfg.epochs):
        order = rng.permutation(len(steps))
        for chunk in np.array_split(order, max(1, -(-len(steps) // cfg.minibatch))):
            loss, clipped, kl = _surrogate(actor, steps, np.sort(chunk), cfg)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in actor.parameters() if p.requires_grad],
                                           cfg.grad_clip)
            optimizer.step()
            stats['loss'] += loss.item()
            stats['clipped'] += clipped
            stats['kl'] += kl
            stats['gradient_steps'] += 1
    n = stats['gradient_steps']
    return {k: (v / n if k != 'gradient_steps' else v) for k, v in stats.items()}


def _surrogate(actor: GaussianActor, steps: Steps, idx: np.ndarray,
               cfg: RLConfig) -> tuple[torch.Tensor, float, float]:
    """Return (loss, fraction of clipped ratios, approximate KL) of minibatch ``idx``."""
    mean = actor.mean(steps.images[idx], steps.ee[idx], steps.lang[steps.instruction[idx]])
    logp = actor.log_prob(mean, torch.from_numpy(steps.actions[idx]))
    log_ratio = logp - torch.from_numpy(steps.logp[idx])
    ratio = log_ratio.exp()
    a = torch.from_numpy(steps.advantage[idx])
    clipped = ratio.clamp(1.0 - cfg.clip_low, 1.0 + cfg.clip_high)
    loss = -torch.minimum(ratio * a, clipped * a).mean()
    with torch.no_grad():
        frac = float(((ratio < 1.0 - cfg.clip_low) | (ratio > 1.0 + cfg.clip_high))
                     .float().mean())
        kl = float(((ratio - 1.0) - log_ratio).mean())
    return loss, frac, kl
