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
The scripted collection behaviours as a batched policy (``wm-ros collect --mix``).

``expert`` (the scripted expert), ``noisy`` (expert plus Gaussian noise, 0.3 x max speed,
and random bursts: probability 0.08 per step, 2-5 steps of a random velocity),
``explore`` (an Ornstein-Uhlenbeck velocity drawn toward a random block half the time)
and ``perceived`` (the expert on noisy block reads that drop out 15 % of the time and
otherwise lag: what the encoder gives a pixel policy). Each reads the simulator's block
positions (``Observations.block_xy``), so it runs on the tabletop only. Each row draws
from its own generator seeded with the episode's ``policy_seed``, so an episode is
reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wm_ros.interfaces import Observation
from wm_ros.policy.expert import ExpertController

BEHAVIOURS = ('expert', 'noisy', 'explore', 'perceived')


class Behaviour:
    """One episode's scripted behaviour ``kind`` for ``task`` in ``scene``."""

    def __init__(self, kind: str, scene, task, rng: np.random.Generator,
                 board_half: float = 0.25, max_speed: float = 0.2, control_hz: float = 10.0):
        if kind not in BEHAVIOURS:
            raise ValueError(f'unknown behaviour {kind!r}; choose one of {list(BEHAVIOURS)}')
        self.kind, self.rng = kind, rng
        self.expert = ExpertController(scene, task, board_half, max_speed, control_hz)
        self.vmax = max_speed
        self.burst, self.burst_left = np.zeros(2), 0
        self.velocity = np.zeros(2)
        self.target = None
        self.seen: np.ndarray | None = None
        self.read_noise = rng.uniform(0.002, 0.008)     # m: this episode's perception noise

    def act(self, obs: Observation, blocks: np.ndarray) -> np.ndarray:
        """Return the action for ``obs`` with the true block positions ``blocks`` [N, 2]."""
        if self.kind == 'expert':
            return self.expert.act(obs.ee_xy, blocks)
        if self.kind == 'noisy':
            a = self.expert.act(obs.ee_xy, blocks)
            if self.burst_left == 0 and self.rng.random() < 0.08:
                self.burst = self.rng.uniform(-self.vmax, self.vmax, 2)
                self.burst_left = int(self.rng.integers(2, 6))
            if self.burst_left > 0:
                self.burst_left -= 1
                return self.burst.astype(np.float32)
            return (a + self.rng.normal(0, 0.3 * self.vmax, 2)).astype(np.float32)
        if self.kind == 'perceived':
            return self._perceived(obs, blocks)
        return self._explore(obs, blocks)

    def _explore(self, obs: Observation, blocks: np.ndarray) -> np.ndarray:
        """Ornstein-Uhlenbeck velocity, drawn toward a random block half the time."""
        if self.target is None or self.rng.random() < 0.05:
            self.target = int(self.rng.integers(len(blocks))) if self.rng.random() < 0.5 else -1
        pull = np.zeros(2)
        if self.target >= 0:
            d = blocks[self.target] - obs.ee_xy
            pull = 0.7 * self.vmax * d / max(np.linalg.norm(d), 1e-6)
        self.velocity = 0.7 * self.velocity + 0.3 * (pull + self.rng.normal(0, self.vmax, 2))
        return np.clip(self.velocity, -self.vmax, self.vmax).astype(np.float32)

    def _perceived(self, obs: Observation, blocks: np.ndarray) -> np.ndarray:
        """Expert on noisy, lagging block reads (what the encoder gives a pixel policy)."""
        true = blocks.astype(np.float64)
        if self.seen is None:
            self.seen = true.copy()
        fresh = self.rng.random(len(true)) > 0.15             # 15 % of reads drop out
        read = true + self.rng.normal(0, self.read_noise, true.shape)
        self.seen[fresh] = read[fresh]
        return np.asarray(self.expert.act(np.asarray(obs.ee_xy, np.float64), self.seen),
                          np.float32)


class Scripted:
    """Behaviour ``kind`` on every row, as a batched :class:`~wm_ros.policy.base.Policy`."""

    def __init__(self, kind: str, config=None):
        if kind not in BEHAVIOURS:
            raise ValueError(f'unknown behaviour {kind!r}; choose one of {list(BEHAVIOURS)}')
        self.kind = kind
        self.limits = (0.25, 0.2, 10.0) if config is None else (
            config.board_half, config.max_speed, config.control_hz)
        self.rows: list[Behaviour] = []

    def reset(self, episodes: Sequence) -> None:
        """Start one behaviour per episode (its scene, task and ``policy_seed``)."""
        self.rows = [Behaviour(self.kind, e.scene, e.task, np.random.default_rng(e.policy_seed),
                               *self.limits) for e in episodes]

    def act(self, observations) -> np.ndarray:
        """Return each row's action; the rows' block positions come with ``observations``."""
        if observations.block_xy is None:
            raise ValueError('the scripted behaviours read block positions from the physics '
                             'state; these observations have none (imagination)')
        out = np.zeros((len(observations), 2), np.float32)
        for i, row in enumerate(observations.rows):
            out[i] = self.rows[row].act(observations.one(i), observations.block_xy[i])
        return out
