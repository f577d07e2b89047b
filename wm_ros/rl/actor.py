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
The Gaussian action head around a behaviour-cloned policy, and the sampler the driver runs.

The policy directory's :class:`~wm_ros.policy.learned.PolicyNet` gives the mean action
(in units of ``max_speed``, before the clip); :class:`GaussianActor` adds a learnable
log-std per axis. Sampled actions ``a ~ N(mean, std)`` are executed clipped to
``[-1, 1] x max_speed`` (as the policy and the robot clip them); the log-probability is
that of the unclipped sample. The saved result is the plain network: the deterministic
mean policy, in the zoo's format (``policy.json`` + ``policy.safetensors``), so the
``policy`` node and the registry load it with ``policy_path``; the learned std and the
run's summary go into ``policy.json`` under ``rl``.

:class:`Sampling` is a batched :class:`~wm_ros.policy.base.Policy`: the episode driver
runs it like any other; each ``act`` records, per row, the frame, pusher position,
sampled action and its log-probability (the rollout buffer of the update). Noise comes
from a seeded ``numpy`` generator, so a run and its resumed copy draw the same actions.
"""

from __future__ import annotations

from collections.abc import Sequence
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wm_ros.policy.learned import LearnedPolicy

LOG_2PI = math.log(2 * math.pi)


class GaussianActor(nn.Module):
    """``mean(images, ee, lang)`` from the policy network, ``log_std`` float[2] learned."""

    def __init__(self, policy: LearnedPolicy, log_std: float, learn_std: bool = True):
        super().__init__()
        self.policy = policy                    # torch engine: its ``net`` is trained
        self.net = policy.net
        self.log_std = nn.Parameter(torch.full((2,), float(log_std)), requires_grad=learn_std)
        self._lang: dict[str, np.ndarray] = {}

    @classmethod
    def load(cls, path: str | Path, log_std: float, learn_std: bool = True) -> 'GaussianActor':
        """Return the actor around policy directory ``path`` (loaded for torch)."""
        return cls(LearnedPolicy.load(path, engine='torch'), log_std, learn_std)

    @property
    def max_speed(self) -> float:
        """Return the policy's speed limit (m/s)."""
        return float(self.policy.config.max_speed)

    def lang(self, instructions: Sequence[str]) -> np.ndarray:
        """Return float32[B, 1+W, 384]: the instructions as the policy reads them (cached)."""
        new = sorted({t for t in instructions if t not in self._lang})
        if new:
            self._lang.update(zip(new, self.policy.embed(new)))
        return np.stack([self._lang[t] for t in instructions])

    def mean(self, images: np.ndarray, ee: np.ndarray, lang: np.ndarray) -> torch.Tensor:
        """Return float[B, 2]: the mean action in units of ``max_speed`` (with gradient)."""
        return self.net(torch.from_numpy(np.ascontiguousarray(images)),
                        torch.from_numpy(np.asarray(ee, np.float32)),
                        torch.from_numpy(np.asarray(lang, np.float32)))[0]

    def log_prob(self, mean: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Return float[B]: log N(actions | mean, exp(log_std)), summed over the two axes."""
        z = (actions - mean) / self.log_std.exp()
        return (-0.5 * z.pow(2) - self.log_std - 0.5 * LOG_2PI).sum(-1)

    def save(self, out: str | Path, **meta) -> Path:
        """Write the deterministic (mean) policy as a policy directory; ``meta`` -> json."""
        return self.policy.save(out, **meta)


class Sampling:
    """
    The stochastic actor as a batched policy for the episode driver (module docstring).

    After a run, ``trajectory(row)`` returns row ``row``'s steps: ``images``
    uint8[T,S,S,3], ``ee`` float32[T,2], ``actions`` float32[T,2] (unclipped, units of
    ``max_speed``), ``logp`` float32[T], ``executed`` float32[T,2] (m/s, clipped).
    """

    def __init__(self, actor: GaussianActor, rng: np.random.Generator,
                 deterministic: bool = False):
        self.actor, self.rng, self.deterministic = actor, rng, deterministic
        self.steps: list[dict[str, list]] = []
        self.instructions: list[str] = []

    def reset(self, episodes: Sequence) -> None:
        """Start one empty trajectory per episode."""
        self.steps = [{k: [] for k in ('images', 'ee', 'actions', 'logp')} for _ in episodes]
        self.instructions = [e.task.instruction for e in episodes]

    def act(self, observations) -> np.ndarray:
        """Sample every row's action (m/s) and record what it was sampled from."""
        lang = self.actor.lang(list(observations.instructions))
        with torch.no_grad():
            mean = self.actor.mean(observations.image, observations.ee_xy, lang)
            if self.deterministic:
                actions = mean
            else:
                noise = self.rng.standard_normal(mean.shape).astype(np.float32)
                actions = mean + self.actor.log_std.exp() * torch.from_numpy(noise)
            logp = self.actor.log_prob(mean, actions).numpy()
        actions = np.nan_to_num(actions.numpy().astype(np.float32))
        for i, row in enumerate(observations.rows):
            record = self.steps[row]
            record['images'].append(observations.image[i])
            record['ee'].append(observations.ee_xy[i])
            record['actions'].append(actions[i])
            record['logp'].append(logp[i])
        return np.clip(actions, -1.0, 1.0) * self.actor.max_speed

    def trajectory(self, row: int) -> dict[str, np.ndarray]:
        """Return row ``row``'s recorded steps as arrays (see the class docstring)."""
        record = self.steps[row]
        out = {k: np.stack(v) for k, v in record.items() if v}
        out['executed'] = np.clip(out['actions'], -1.0, 1.0) * self.actor.max_speed
        return out
