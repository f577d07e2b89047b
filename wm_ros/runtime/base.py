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
The one interface the planner, evaluator and ROS nodes use to run a world model.

``encode(images uint8[B,S,S,3], ee float32[B,2]) -> State``,
``step(State, actions float32[B,T,2]) -> State``, ``decode(State) -> (images, ee)``.
:class:`State` is an explicit bundle of named arrays (no hidden state). Inputs are checked
here, once, for every backend: wrong image size/dtype and non-finite values raise a
:class:`RuntimeInputError` that names what was expected; nothing is stepped then. Actions
beyond the model's speed limit are clipped, as the robot clips them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol, runtime_checkable

import numpy as np

from wm_ros.model.network import STATE_KEYS


class RuntimeInputError(ValueError):
    """Input that a world-model runtime refuses (shape, dtype, NaN)."""


@dataclass
class State:
    """Object-slot state; see :mod:`wm_ros.model.network` for shapes and units."""

    kind: np.ndarray
    present: np.ndarray
    pos: np.ndarray
    yaw: np.ndarray
    prev_pos: np.ndarray
    ee: np.ndarray
    prev_ee: np.ndarray
    uncertainty: np.ndarray

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        """Return the arrays in ``STATE_KEYS`` order."""
        return tuple(getattr(self, k) for k in STATE_KEYS)

    @classmethod
    def from_tuple(cls, arrays) -> 'State':
        """Inverse of :meth:`as_tuple` (accepts torch tensors too)."""
        return cls(*(np.asarray(a.detach().cpu() if hasattr(a, 'detach') else a)
                     for a in arrays))

    @property
    def batch(self) -> int:
        """Return the batch size."""
        return len(self.ee)

    def select(self, index) -> 'State':
        """Return the batch rows ``index`` (a slice, list or array)."""
        return State(*(getattr(self, f.name)[index] for f in fields(self)))

    @staticmethod
    def concat(states: list['State']) -> 'State':
        """Stack several states along the batch axis."""
        return State(*(np.concatenate([getattr(s, f.name) for s in states])
                       for f in fields(State)))


@runtime_checkable
class WorldModelRuntime(Protocol):
    """What every backend provides (see the module docstring)."""

    image_size: int
    control_hz: float
    max_speed: float
    backend: str

    def encode(self, images: np.ndarray, ee: np.ndarray) -> State:
        """Encode real frames and pusher positions into a state."""

    def step(self, state: State, actions: np.ndarray) -> State:
        """Advance ``state`` by ``actions`` [B, T, 2] (m/s); return the state after T steps."""

    def decode(self, state: State) -> tuple[np.ndarray, np.ndarray]:
        """Render ``images`` uint8[B,S,S,3] and return the pusher ``ee`` [B, 2]."""


class CheckedRuntime:
    """
    Input checks and the T-step loop shared by the backends.

    Backends implement ``_encode``, ``_step`` (one action [B, 2]) and ``_decode``.
    """

    image_size: int
    control_hz: float
    max_speed: float
    backend: str

    def encode(self, images: np.ndarray, ee: np.ndarray) -> State:
        """Encode ``images`` uint8[B,S,S,3] (or one [S,S,3]) and ``ee`` [B,2] (or [2])."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        s = self.image_size
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (s, s, 3):
            raise RuntimeInputError(
                f'model expects {s}x{s} rgb8 images uint8[B, {s}, {s}, 3], got '
                f'{images.dtype}{list(images.shape)}; resize/convert the camera image')
        ee = np.asarray(ee, np.float32).reshape(-1, 2)
        if len(ee) != len(images):
            raise RuntimeInputError(f'{len(images)} images but {len(ee)} ee positions')
        if not np.all(np.isfinite(ee)):
            raise RuntimeInputError(f'ee positions must be finite, got {ee.tolist()}')
        return self._encode(np.ascontiguousarray(images), ee)

    def step(self, state: State, actions: np.ndarray) -> State:
        """Advance ``state`` by ``actions`` [B, T, 2] ([B, 2] means T = 1)."""
        states = list(self.rollout(state, actions))
        return states[-1] if states else state

    def rollout(self, state: State, actions: np.ndarray):
        """Yield the state after each of the T actions ``[B, T, 2]``."""
        actions = np.asarray(actions, np.float32)
        if actions.ndim == 2:
            actions = actions[:, None]
        if actions.ndim != 3 or actions.shape[0] != state.batch or actions.shape[2] != 2:
            raise RuntimeInputError(f'actions must be float32[{state.batch}, T, 2] (m/s), got '
                                    f'{list(actions.shape)}')
        bad = ~np.isfinite(actions)
        if bad.any():
            b, t, _ = np.argwhere(bad)[0]
            raise RuntimeInputError(f'actions contain NaN/inf (batch {b}, step {t}); nothing '
                                    'was stepped')
        actions = np.clip(actions, -self.max_speed, self.max_speed)
        for t in range(actions.shape[1]):
            state = self._step(state, np.ascontiguousarray(actions[:, t]))
            yield state

    def decode(self, state: State) -> tuple[np.ndarray, np.ndarray]:
        """Render the state: ``images`` uint8[B,S,S,3], ``ee`` float32[B,2]."""
        return self._decode(state)
