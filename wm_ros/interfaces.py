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
The narrow interfaces every part of wm_ros is written against.

``Env`` follows the gymnasium API (``reset(seed=, options=) -> (obs, info)`` and
``step(action) -> (obs, reward, terminated, truncated, info)``) so standard wrappers work.
Observations are dicts ``{'image': uint8[H, W, 3], 'ee_xy': float32[2]}``; the info dict
carries ``instruction``, ``t`` and ``success``. :class:`Observation` bundles the two for
policies, which therefore cannot tell the tabletop from an imagined environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Observation:
    """What a policy sees: ``image`` uint8[H, W, 3], ``ee_xy`` float32[2], instruction, step."""

    image: np.ndarray
    ee_xy: np.ndarray
    instruction: str
    t: int

    @classmethod
    def from_step(cls, obs: dict, info: dict) -> 'Observation':
        """Build from a gymnasium ``(obs, info)`` pair."""
        return cls(obs['image'], obs['ee_xy'], info.get('instruction', ''), int(info.get('t', 0)))


@runtime_checkable
class Env(Protocol):
    """The tabletop and the imagination both implement this (gymnasium-shaped)."""

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """Start an episode; ``options`` may hold a scene, a task or an initial frame."""

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        """Apply ``action`` float32[2] (m/s) for one control period."""


@runtime_checkable
class Policy(Protocol):
    """Maps an :class:`Observation` to an action ``float32[2]`` (end-effector velocity, m/s)."""

    def reset(self) -> None:
        """Forget any per-episode state."""

    def act(self, observation: Observation) -> np.ndarray:
        """Return the next action."""


@runtime_checkable
class BatchPolicy(Protocol):
    """A policy that acts for B episodes at once (evaluation in imagination is batched)."""

    def act_batch(self, images: np.ndarray, ee_xy: np.ndarray,
                  instructions: list[str]) -> np.ndarray:
        """Return actions float32[B, 2] for images uint8[B, H, W, 3], ee_xy float32[B, 2]."""


@runtime_checkable
class RewardModel(Protocol):
    """Judges success from pixels: the same judge works on camera and on imagined frames."""

    def score(self, images: np.ndarray, instructions: list[str]) -> np.ndarray:
        """Return P(success) float32[B] for images uint8[B, H, W, 3] and B instructions."""
