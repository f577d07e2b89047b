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
The loop of ``wm-ros rl``: rollouts, advantages, updates, checkpoints, the output policy.

Each update draws ``starts`` start frames from the pool (seeded), runs ``group``
imagined rollouts from each through the episode driver (:mod:`wm_ros.rl.rollouts`),
and takes the group-relative clipped update on them (:mod:`wm_ros.rl.grpo`). Imagined
success of the deterministic (mean) policy is measured on the held-out imagined starts
before the first update, every ``eval_every`` updates (the learning curve) and after the
last. Each update's record holds the seconds per part (policy, world model, reward
model, state judge, update: what a benchmark of imagined steps per second reads).

Files in ``out``: the policy directory itself (``policy.json`` + ``policy.safetensors``,
the zoo's format: ``policy_path`` of the ``policy`` node, or a name for the registry),
rewritten at every checkpoint and at the end, with the run's summary under ``rl`` in
``policy.json``; ``rl.json`` (summary + per-update history); ``checkpoint/`` every
``checkpoint_every`` updates: ``state.safetensors`` (network, log-std, Adam moments) and
``state.json`` (update count, the ``numpy`` generator's state, history, config). Nothing
is pickled. ``resume`` continues from the checkpoint and gives the same weights as an
uninterrupted run (the rollouts' noise, start draws and minibatch orders all come from
the one saved generator; the world model and the update are deterministic on the CPU).
"""

from __future__ import annotations

from collections.abc import Sequence
import json
from pathlib import Path
import time

import numpy as np
import torch
from tqdm import tqdm

from wm_ros.episodes.driver import PartClock
from wm_ros.episodes.env import Start
from wm_ros.rl.actor import GaussianActor, Sampling
from wm_ros.rl.grpo import advantages, flatten, update
from wm_ros.rl.rollouts import collect, Imagination

CHECKPOINT = 'checkpoint'
FREE_KEYS = ('updates', 'checkpoint_every')   # may change between a run and its resume


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged, or from another run."""


class Trainer:
    """Group-relative policy optimisation of ``actor`` in ``world`` (module docstring)."""

    def __init__(self, actor: GaussianActor, world: Imagination, pool: Sequence[Start],
                 eval_starts: Sequence[Start], out: str | Path, about: dict | None = None):
        self.actor, self.world, self.cfg = actor, world, world.cfg
        self.pool, self.eval_starts = list(pool), list(eval_starts)
        self.out = Path(out)
        self.about = dict(about or {})
        if 'real_success' in actor.policy.meta:      # measured for the base, not this one
            self.about['base_real_success'] = actor.policy.meta.pop('real_success')
        self.optimizer = torch.optim.Adam([p for p in actor.parameters() if p.requires_grad],
                                          lr=self.cfg.lr)
        self.rng = np.random.default_rng(self.cfg.seed)
        self.done, self.history, self.before = 0, [], None
        self.judge = world.judge_for(self.pool + self.eval_starts)

    # ------------------------------------------------------------------ the loop
    def run(self, resume: bool = False, progress: bool = True,
            stop_after: int | None = None) -> dict:
        """Train to ``cfg.updates`` (``stop_after``: stop there, as if interrupted)."""
        torch.manual_seed(self.cfg.seed)
        torch.set_num_threads(self.cfg.threads)
        if resume:
            self.restore()
        if self.before is None:
            self.before = self.imagined()
        bar = tqdm(range(self.done, self.cfg.updates), desc='rl', disable=not progress,
                   initial=self.done, total=self.cfg.updates)
        for _ in bar:
            record = self.step()
            self.history.append(record)
            self.done += 1
            bar.set_postfix(success=f"{record['success']:.2f}",
                            kept=f"{record['kept_groups']}/{record['groups']}")
            if self.done % self.cfg.checkpoint_every == 0 or self.done == self.cfg.updates:
                self.checkpoint()
            if stop_after is not None and self.done >= stop_after:
                return self.summary(None)
        summary = self.summary(self.imagined())
        self.write_policy(summary)
        return summary

    def step(self) -> dict:
        """Run one update: draw starts, roll out, judge, weight, update; return its record."""
        t0 = time.perf_counter()
        n = min(self.cfg.starts, len(self.pool))
        starts = [self.pool[i] for i in np.sort(self.rng.choice(len(self.pool), n, False))]
        self.world.clock = clock = PartClock()
        batch = collect(self.world, Sampling(self.actor, self.rng), starts, self.rng)
        adv = advantages(batch, self.cfg)
        steps = flatten(self.actor, batch, adv)
        with clock('update'):
            stats = update(self.actor, self.optimizer, steps, self.cfg, self.rng)
        record = {'update': self.done + 1, 'success': float(batch.success.mean()),
                  'return': float(batch.returns(self.cfg.shaping).mean()),
                  'rollouts': len(batch.success), 'groups': adv.groups,
                  'kept_groups': adv.kept_groups, 'dropped': batch.dropped,
                  'steps': int(batch.steps.sum()), 'trained_steps': len(steps),
                  'std': self.actor.log_std.exp().tolist(),
                  **{k: round(v, 6) if isinstance(v, float) else v for k, v in stats.items()},
                  'seconds': round(time.perf_counter() - t0, 2),
                  'part_seconds': {k: round(v, 3) for k, v in clock.seconds.items()}}
        if self.cfg.eval_every and (self.done + 1) % self.cfg.eval_every == 0:
            record['imagined'] = self.imagined()
        return record

    def imagined(self) -> dict:
        """Return the deterministic policy's imagined success on the eval starts, per family."""
        if not self.eval_starts:
            return {}
        results = self.world.episodes(Sampling(self.actor, self.rng, deterministic=True),
                                      self.eval_starts)
        out: dict[str, list[bool]] = {}
        for start, result in zip(self.eval_starts, results):
            out.setdefault(start.task_family, []).append(bool(result.success))
        table = {f: {'success_pct': round(100 * float(np.mean(v)), 1), 'n': len(v)}
                 for f, v in out.items()}
        table['mean_pct'] = round(float(np.mean([t['success_pct'] for t in table.values()])), 1)
        return table

    # ------------------------------------------------------------------ files
    def summary(self, after: dict | None) -> dict:
        """Return the summary of the run so far (``after`` None: not finished)."""
        return {**self.about, 'judge': self.judge, 'config': self.cfg.to_dict(),
                'updates': self.done, 'finished': after is not None,
                'imagined_before': self.before, 'imagined_after': after,
                'rollouts': int(sum(h['rollouts'] for h in self.history)),
                'dropped': {k: int(sum(h['dropped'][k] for h in self.history))
                            for k in ('uncertain', 'disagree')},
                'robot_episodes': 0, 'log_std': self.actor.log_std.tolist(),
                'pool': len(self.pool), 'eval_starts': len(self.eval_starts)}

    def write_policy(self, summary: dict) -> None:
        """Write the policy directory and ``rl.json`` (summary + history) into ``out``."""
        self.actor.save(self.out, rl=summary)
        (self.out / 'rl.json').write_text(json.dumps({**summary, 'history': self.history},
                                                     indent=1))

    def checkpoint(self) -> Path:
        """Write ``out/checkpoint`` (and the policy as it is now); return its directory."""
        from safetensors.torch import save_file
        path = self.out / CHECKPOINT
        path.mkdir(parents=True, exist_ok=True)
        tensors = {f'net.{k}': v.detach().contiguous() for k, v in
                   self.actor.net.state_dict().items()}
        tensors['log_std'] = self.actor.log_std.detach().clone()
        opt = self.optimizer.state_dict()
        for pid, state in opt['state'].items():
            for key, value in state.items():
                tensors[f'opt.{pid}.{key}'] = torch.as_tensor(value).contiguous()
        save_file(tensors, str(path / 'state.safetensors'))
        doc = {'update': self.done, 'rng': self.rng.bit_generator.state,
               'history': self.history, 'before': self.before, 'config': self.cfg.to_dict(),
               'about': self.about, 'param_groups': opt['param_groups']}
        (path / 'state.json').write_text(json.dumps(doc))
        self.write_policy(self.summary(None))
        return path

    def restore(self) -> None:
        """Load ``out/checkpoint`` into this trainer; refuse one of another run."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        path = self.out / CHECKPOINT
        try:
            doc = json.loads((path / 'state.json').read_text())
            tensors = load_file(str(path / 'state.safetensors'))
        except (OSError, ValueError, SafetensorError) as exc:
            raise CheckpointError(f'cannot resume from {path} ({exc}); run without --resume '
                                  'into a new --out') from None
        self._same_run(doc, path)
        self.actor.net.load_state_dict({k[4:]: v for k, v in tensors.items()
                                        if k.startswith('net.')})
        with torch.no_grad():
            self.actor.log_std.copy_(tensors['log_std'])
        state: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith('opt.'):
                _, pid, name = key.split('.', 2)
                state.setdefault(int(pid), {})[name] = value
        self.optimizer.load_state_dict({'state': state, 'param_groups': doc['param_groups']})
        self.rng.bit_generator.state = doc['rng']
        self.done, self.history, self.before = doc['update'], doc['history'], doc['before']

    def _same_run(self, doc: dict, path: Path) -> None:
        """Refuse a checkpoint written with another config or base policy."""
        old = {k: v for k, v in doc.get('config', {}).items() if k not in FREE_KEYS}
        new = {k: v for k, v in json.loads(json.dumps(self.cfg.to_dict())).items()
               if k not in FREE_KEYS}
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if changed or doc.get('about', {}).get('base') != self.about.get('base'):
            raise CheckpointError(f'{path} is from another run (config keys {changed} or the '
                                  'base policy differ); resume with the same --policy and '
                                  '--config, or give a new --out')
