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
Degraded pixel policies: wrappers that make a good policy worse in known ways.

A trust check needs policies of different quality: if imagination ranks them as the robot
does, it can be used to choose between them. Each wrapper implements the
:class:`~wm_ros.interfaces.Policy` protocol around an inner policy (the
:class:`~wm_ros.policy.perception_expert.PerceptionExpert`), forwards ``set_task`` and is
deterministic for its seed: ``set_task`` and ``reset`` restart its random stream, so the
same seed gives the same noise on the tabletop and in imagination.

* ``noisy``: Gaussian action noise (0.3 x max speed) plus random bursts (probability 0.08
  per step, 2-5 steps of a random velocity), as the ``noisy`` collection behaviour;
* ``slow``: the inner action at half speed;
* ``laggy``: acts on the observation of 3 control steps ago (0.3 s at 10 Hz).

:func:`make_policy` builds any of ``POLICIES`` (``expert`` is the undegraded one).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from wm_ros.interfaces import Observation
from wm_ros.policy.perception_expert import PerceptionExpert
from wm_ros.runtime.base import WorldModelRuntime
from wm_ros.sim.scene import Scene
from wm_ros.sim.tasks import Task

POLICIES = ('expert', 'noisy', 'slow', 'laggy')


class _Wrapper:
    """Forward ``set_task``/``reset`` to the inner policy and restart this one's state."""

    def __init__(self, inner, seed: int = 0):
        self.inner, self.seed = inner, int(seed)
        self._restart()

    def _restart(self):
        self.rng = np.random.default_rng(self.seed)

    def set_task(self, scene: Scene, task: Task):
        """Start ``task`` in ``scene`` (the inner policy's set_task) from a fresh state."""
        self.inner.set_task(scene, task)
        self._restart()

    def reset(self):
        """Forget the episode (inner policy too)."""
        self.inner.reset()
        self._restart()


class Noisy(_Wrapper):
    """Inner action + Gaussian noise (``sigma`` x max speed) and random bursts."""

    def __init__(self, inner, seed: int = 0, max_speed: float = 0.2, sigma: float = 0.3,
                 burst_prob: float = 0.08):
        self.vmax, self.sigma, self.burst_prob = max_speed, sigma, burst_prob
        super().__init__(inner, seed)

    def _restart(self):
        super()._restart()
        self.burst, self.burst_left = np.zeros(2), 0

    def act(self, observation: Observation) -> np.ndarray:
        """Return the noisy action ``float32[2]`` (m/s)."""
        a = np.asarray(self.inner.act(observation), np.float64)
        if self.burst_left == 0 and self.rng.random() < self.burst_prob:
            self.burst = self.rng.uniform(-self.vmax, self.vmax, 2)
            self.burst_left = int(self.rng.integers(2, 6))
        if self.burst_left > 0:
            self.burst_left -= 1
            return self.burst.astype(np.float32)
        a = a + self.rng.normal(0.0, self.sigma * self.vmax, 2)
        return np.clip(a, -self.vmax, self.vmax).astype(np.float32)


class Slow(_Wrapper):
    """The inner action scaled by ``factor`` (0.5: half speed)."""

    def __init__(self, inner, seed: int = 0, factor: float = 0.5):
        self.factor = factor
        super().__init__(inner, seed)

    def act(self, observation: Observation) -> np.ndarray:
        """Return the slowed action ``float32[2]`` (m/s)."""
        return (self.factor * np.asarray(self.inner.act(observation))).astype(np.float32)


class Laggy(_Wrapper):
    """The inner policy acting on the observation of ``lag`` steps ago (the first repeats)."""

    def __init__(self, inner, seed: int = 0, lag: int = 3):
        self.lag = int(lag)
        super().__init__(inner, seed)

    def _restart(self):
        super()._restart()
        self.frames: deque[Observation] = deque(maxlen=self.lag + 1)

    def act(self, observation: Observation) -> np.ndarray:
        """Return the inner action for the frame ``lag`` steps old."""
        if not self.frames:
            self.frames.extend([observation] * self.lag)
        self.frames.append(observation)
        return np.asarray(self.inner.act(self.frames[0]), np.float32)


def make_policy(name: str, runtime: WorldModelRuntime, seed: int = 0,
                board_half: float = 0.25):
    """
    Return policy ``name`` of :data:`POLICIES`, perceiving through ``runtime``'s encoder.

    Call ``set_task(scene, task)`` on it before the first ``act``.
    """
    if name not in POLICIES:
        raise ValueError(f'unknown policy {name!r}; choose from {list(POLICIES)}')
    expert = PerceptionExpert(runtime, board_half, runtime.max_speed, runtime.control_hz)
    if name == 'expert':
        return expert
    if name == 'noisy':
        return Noisy(expert, seed, runtime.max_speed)
    if name == 'slow':
        return Slow(expert, seed)
    return Laggy(expert, seed)
