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
The one contract every consumer of a world model uses, whatever the model family.

``encode(images uint8[B,S,S,3], ee float32[B,2]) -> State``,
``step(State, actions float32[B,T,2]) -> State``, ``rollout(State, actions) -> iterator of
State`` (one per step), ``decode(State) -> (images uint8[B,S,S,3], ee float32[B,2])``.

:class:`State` is an *opaque*, explicit bundle of named, batch-first arrays (no hidden
state): its keys, shapes and dtypes come from the model's metadata (``model.json``
``state``), never from a family's code, so the planner, evaluator, RL and nodes can batch,
slice, store and pass it on without knowing what is inside. What only some families can
do is a small capability protocol checked with ``isinstance``: :class:`ObjectReadout`
(which objects a state holds: kind, position, yaw, presence), :class:`ObjectPoses`
(where the objects are, for families that find objects without names), :class:`Uncertainty`
(the model's own error estimate, metres) and :class:`Embedding` (a vector a planner may
compare states by: the distance of an imagined state to a goal image's).

Inputs are checked here, once, for every backend: wrong image size/dtype, non-finite
values, actions beyond float32's range and states that do not fit the spec raise a
:class:`RuntimeInputError` that names what was expected; nothing is stepped then. Finite
actions beyond the model's speed limit are clipped, as the robot clips them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

F32_MAX = float(np.finfo(np.float32).max)


class RuntimeInputError(ValueError):
    """Input that a world-model runtime refuses (shape, dtype, NaN)."""


class State:
    """
    Opaque bundle of named arrays ``{key: array[B, ...]}`` (batch first).

    Consumers use only :attr:`batch`, :meth:`select`, :meth:`concat` and pass it back to
    the runtime that made it; the keys belong to the model family.
    """

    __slots__ = ('_arrays',)

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self._arrays = {k: np.asarray(v) for k, v in arrays.items()}
        sizes = {len(v) for v in self._arrays.values()}
        if len(sizes) > 1:
            raise RuntimeInputError(f'state arrays disagree on the batch size: '
                                    f'{ {k: len(v) for k, v in self._arrays.items()} }')

    def __getitem__(self, key: str) -> np.ndarray:
        return self._arrays[key]

    def keys(self) -> tuple[str, ...]:
        """Return the names of the arrays, in the family's order."""
        return tuple(self._arrays)

    def as_tuple(self, keys: tuple[str, ...] | None = None) -> tuple[np.ndarray, ...]:
        """Return the arrays in the order of ``keys`` (default: stored order)."""
        return tuple(self._arrays[k] for k in (keys or self._arrays))

    @classmethod
    def from_tuple(cls, keys: tuple[str, ...], arrays) -> 'State':
        """Build from arrays in ``keys`` order (accepts torch tensors too)."""
        return cls({k: np.asarray(a.detach().cpu() if hasattr(a, 'detach') else a)
                    for k, a in zip(keys, arrays)})

    def updated(self, arrays: Mapping[str, np.ndarray]) -> 'State':
        """Return a state with ``arrays`` in place of those keys (a step's changed keys)."""
        return State({k: arrays.get(k, v) for k, v in self._arrays.items()})

    @property
    def batch(self) -> int:
        """Return the batch size."""
        return len(next(iter(self._arrays.values())))

    def select(self, index) -> 'State':
        """Return the batch rows ``index`` (a slice, list or array)."""
        return State({k: v[index] for k, v in self._arrays.items()})

    @staticmethod
    def concat(states: list['State']) -> 'State':
        """Stack several states of one model along the batch axis."""
        keys = states[0].keys()
        return State({k: np.concatenate([s[k] for s in states]) for k in keys})

    def __repr__(self) -> str:
        inner = ', '.join(f'{k}: {v.dtype}{list(v.shape)}' for k, v in self._arrays.items())
        return f'State({inner})'


@dataclass(frozen=True)
class StateSpec:
    """Keys, per-row shapes and dtypes of a family's :class:`State`, from ``model.json``."""

    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]

    @classmethod
    def from_metadata(cls, meta: dict) -> 'StateSpec':
        """Read ``meta['state']`` = ``{key: {'shape': [...], 'dtype': '...'}}``."""
        spec = meta['state']
        return cls({k: tuple(v['shape']) for k, v in spec.items()},
                   {k: v['dtype'] for k, v in spec.items()})

    @property
    def keys(self) -> tuple[str, ...]:
        """Return the keys in the model's order."""
        return tuple(self.shapes)

    def check(self, state: State) -> None:
        """Raise :class:`RuntimeInputError` unless ``state`` fits this spec."""
        if not isinstance(state, State):
            raise RuntimeInputError(f"expected a State from this runtime's encode(), got "
                                    f'{type(state).__name__}')
        if set(state.keys()) != set(self.keys):
            raise RuntimeInputError(f"state has keys {sorted(state.keys())}, this model's "
                                    f'state has {sorted(self.keys)}: it came from another model')
        for k in self.keys:
            v = state[k]
            if v.shape[1:] != self.shapes[k] or v.dtype != np.dtype(self.dtypes[k]):
                raise RuntimeInputError(
                    f'state[{k!r}] is {v.dtype}{list(v.shape)}, this model expects '
                    f'{self.dtypes[k]}[B, {", ".join(map(str, self.shapes[k]))}]')


@runtime_checkable
class WorldModelRuntime(Protocol):
    """What every runtime of every family provides (see the module docstring)."""

    image_size: int
    control_hz: float
    max_speed: float
    backend: str
    state_spec: StateSpec

    def encode(self, images: np.ndarray, ee: np.ndarray) -> State:
        """Encode real frames and pusher positions into a state."""

    def step(self, state: State, actions: np.ndarray) -> State:
        """Advance ``state`` by ``actions`` [B, T, 2] (m/s); return the state after T steps."""

    def rollout(self, state: State, actions: np.ndarray) -> Iterator[State]:
        """Yield the state after each of the T actions ``[B, T, 2]``."""

    def decode(self, state: State) -> tuple[np.ndarray, np.ndarray]:
        """Render ``images`` uint8[B,S,S,3] and return the pusher ``ee`` [B, 2]."""


@dataclass(frozen=True)
class Objects:
    """
    The objects a state holds, per batch row and slot (``M`` slots).

    ``kind`` int64[B,M] indexes ``kinds`` (names like ``'red cube'``), ``present``
    bool[B,M], ``pos`` float32[B,M,2] (m, board frame), ``yaw`` float32[B,M] (rad).
    """

    kinds: tuple[str, ...]
    kind: np.ndarray
    present: np.ndarray
    pos: np.ndarray
    yaw: np.ndarray

    def names(self, row: int = 0) -> list[str]:
        """Return the kind name of every slot of batch ``row`` (absent slots too)."""
        return [self.kinds[int(k)] for k in self.kind[row]]


@runtime_checkable
class ObjectReadout(Protocol):
    """Capability: read the objects out of a state (object-centric families)."""

    kinds: tuple[str, ...]

    def objects(self, state: State) -> Objects:
        """Return the objects ``state`` holds."""


@runtime_checkable
class ObjectPoses(Protocol):
    """
    Capability: where a state's objects are, without names for them (label-free families).

    ``objects(state)``: :class:`Objects` whose ``kind`` is no task name (a consumer matches
    objects by pose, not by kind); their ``yaw`` counts from each object's look when it was
    encoded, so two encodings' yaws are related only through ``turn``.
    ``turn(state, reference)``: float32[M, N], the yaw (rad) by which each of row 0 of
    ``state``'s M slots must turn to look like each of row 0 of ``reference``'s N slots.
    ``pusher(state)``: float32[B, 2], the end effector's position (m) in ``state``.
    """

    def objects(self, state: State) -> Objects:
        """Return the objects ``state`` holds (kinds are not names)."""

    def turn(self, state: State, reference: State) -> np.ndarray:
        """Return float32[M, N]: how far (rad) each slot turns to look like each reference slot."""

    def pusher(self, state: State) -> np.ndarray:
        """Return float32[B, 2]: the end effector's position (m)."""


@runtime_checkable
class Uncertainty(Protocol):
    """Capability: the model's own estimate of its error."""

    def uncertainty(self, state: State) -> np.ndarray:
        """Return float32[B]: how unsure the last step was (metres)."""


@runtime_checkable
class Embedding(Protocol):
    """
    Capability: a learned embedding of states, for costs in latent space (goal images).

    ``embedding(state)`` is the float32[B, D] vector a state holds (imagined states too),
    ``embed(images, ee)`` the embedding of real frames (``embedding(encode(images, ee))``).
    Distances between embeddings are what the family was trained to make meaningful
    (the JEPA family: its predictor's error is measured in them).
    """

    embedding_dim: int

    def embedding(self, state: State) -> np.ndarray:
        """Return float32[B, D]: the embedding of ``state``."""

    def embed(self, images: np.ndarray, ee: np.ndarray) -> np.ndarray:
        """Return float32[B, D]: the embeddings of ``images`` uint8[B,S,S,3], ``ee`` [B,2]."""


class CheckedRuntime:
    """
    Input checks and the T-step loop shared by every backend of every family.

    Backends implement ``_encode``, ``_step`` (one action [B, 2]) and ``_decode``, and set
    the attributes of :class:`WorldModelRuntime` (``image_size``, ``control_hz``,
    ``max_speed``, ``backend``, ``state_spec``).
    """

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
        ee = np.asarray(ee, np.float64).reshape(-1, 2)
        if len(ee) != len(images):
            raise RuntimeInputError(f'{len(images)} images but {len(ee)} ee positions')
        if not np.all(np.isfinite(ee)) or np.abs(ee).max(initial=0.0) > F32_MAX:
            raise RuntimeInputError(f'ee positions must be finite float32, got {ee.tolist()}')
        return self._encode(np.ascontiguousarray(images), ee.astype(np.float32))

    def step(self, state: State, actions: np.ndarray) -> State:
        """Advance ``state`` by ``actions`` [B, T, 2] ([B, 2] means T = 1)."""
        states = list(self.rollout(state, actions))
        return states[-1] if states else state

    def rollout(self, state: State, actions: np.ndarray) -> Iterator[State]:
        """Yield the state after each of the T actions ``[B, T, 2]`` (checked up front)."""
        self.state_spec.check(state)
        actions = np.asarray(actions, np.float64)
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
        # finite commands of any size are clipped as the robot clips them (1e39 included)
        actions = np.clip(actions, -self.max_speed, self.max_speed).astype(np.float32)
        return self._rollout(state, actions)

    def _rollout(self, state: State, actions: np.ndarray) -> Iterator[State]:
        return self._steps(state, actions)

    def _steps(self, state: State, actions: np.ndarray) -> Iterator[State]:
        """Yield the state after each action (backends may run all steps at once)."""
        for t in range(actions.shape[1]):
            state = self._step(state, np.ascontiguousarray(actions[:, t]))
            yield state

    def decode(self, state: State) -> tuple[np.ndarray, np.ndarray]:
        """Render the state: ``images`` uint8[B,S,S,3], ``ee`` float32[B,2]."""
        self.state_spec.check(state)
        return self._decode(state)
