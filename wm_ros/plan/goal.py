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
Goal images as a planning cost: reach the state a picture shows.

:class:`Goal` turns goal images (``uint8[G, S, S, 3]`` with the pusher position of each,
``float32[G, 2]``) into what a model can compare imagined states with, once per goal:

* a family with the :class:`~wm_ros.runtime.base.Embedding` capability (the JEPA family):
  the goal images' embeddings, and the distance of an imagined state to the goal is the
  mean squared difference of embeddings (as DINO-WM and PLDM plan);
* a family with :class:`~wm_ros.runtime.base.ObjectReadout` (the object slots): the
  goal image's objects, and the distance is, for every object the goal shows, how far
  the imagined object of the same kind is from it (metres, plus ``yaw_radius`` x the
  yaw difference), as the tabletop planner compares blocks.

With several goal images (the same goal pose seen with the pusher in several places), a
state's distance is the smallest over them: the goal is then a set of states (the T at
its goal, the pusher anywhere), and the pusher is not pulled to where one picture has it.

:class:`GoalImageCost` is a :class:`~wm_ros.plan.solver.Costable`: ``N`` candidate
sequences of ``H`` actions, each held for ``repeat`` control periods (frame skip), are
rolled out as one batch from one encoded state; the cost is ``final`` x the distance
after the last action plus ``path`` x the mean distance after each action.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wm_ros.runtime.base import (Embedding, ObjectReadout, RuntimeInputError, State,
                                 WorldModelRuntime)


class GoalError(ValueError):
    """A goal the model cannot plan toward (wrong image size, no usable capability)."""


@dataclass(frozen=True)
class GoalWeights:
    """Weights of the goal cost terms."""

    final: float = 1.0          # distance after the last planned action
    path: float = 0.0           # mean distance after every planned action
    yaw_radius: float = 0.05    # object mode: metres per radian of yaw difference


def mode_of(runtime) -> str:
    """Return ``'embedding'`` or ``'objects'`` for ``runtime``; GoalError if it has neither."""
    if isinstance(runtime, Embedding):
        return 'embedding'
    if isinstance(runtime, ObjectReadout):
        return 'objects'
    raise GoalError(f'a goal image is compared through an embedding or an object read-out; '
                    f'{type(runtime).__name__} has neither (Embedding, ObjectReadout): '
                    'train a model that has one, e.g. `wm-ros train world-model --family '
                    'jepa`')


class Goal:
    """Goal images as ``runtime`` sees them (module docstring); ``distance(states)``."""

    def __init__(self, runtime: WorldModelRuntime, images: np.ndarray, ee: np.ndarray,
                 weights: GoalWeights = GoalWeights()):
        self.runtime, self.weights = runtime, weights
        self.mode = mode_of(runtime)
        images = np.asarray(images)
        images = images[None] if images.ndim == 3 else images
        s = runtime.image_size
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (s, s, 3):
            raise GoalError(f'the goal image must be {s}x{s} rgb8 (uint8[{s}, {s}, 3]), as '
                            f'the model sees its camera; got {images.dtype}'
                            f'{list(images.shape)}: render or resize it to {s}x{s}')
        ee = np.asarray(ee, np.float32).reshape(-1, 2)
        if len(ee) != len(images):
            raise GoalError(f'{len(images)} goal images but {len(ee)} pusher positions')
        try:
            state = runtime.encode(images, ee)
        except RuntimeInputError as exc:
            raise GoalError(f'the goal image cannot be encoded: {exc}') from None
        if self.mode == 'embedding':
            self.target = runtime.embedding(state).astype(np.float64)         # [G, D]
        else:
            objects = runtime.objects(state)
            self.kinds = [objects.kind[g][objects.present[g]] for g in range(len(images))]
            self.pos = [objects.pos[g][objects.present[g]] for g in range(len(images))]
            self.yaw = [objects.yaw[g][objects.present[g]] for g in range(len(images))]
            if not sum(len(k) for k in self.kinds):
                raise GoalError('the model sees no object in the goal image(s); an object '
                                'cost needs the objects the goal shows')

    def __len__(self) -> int:
        return len(self.target) if self.mode == 'embedding' else len(self.kinds)

    def distance(self, state: State) -> np.ndarray:
        """Return float[B]: how far each row of ``state`` is from the nearest goal image."""
        if self.mode == 'embedding':
            z = self.runtime.embedding(state).astype(np.float64)              # [B, D]
            d2 = (z ** 2).sum(1)[:, None] - 2 * z @ self.target.T + (self.target ** 2).sum(1)
            return np.maximum(d2, 0.0).min(1) / z.shape[1]
        return np.min([self._object_distance(state, g) for g in range(len(self))], 0)

    def _object_distance(self, state: State, g: int) -> np.ndarray:
        """Return float[B]: summed distance of ``state``'s objects to goal image ``g``'s."""
        objects = self.runtime.objects(state)
        out = np.zeros(state.batch)
        for kind, pos, yaw in zip(self.kinds[g], self.pos[g], self.yaw[g]):
            same = (objects.kind == kind) & objects.present                    # [B, M]
            d = (np.linalg.norm(objects.pos - pos, axis=-1) + self.weights.yaw_radius
                 * np.abs((objects.yaw - yaw + np.pi) % (2 * np.pi) - np.pi))
            d = np.where(same, d, np.inf).min(1)
            out += np.where(np.isfinite(d), d, 1.0)      # the object is gone: 1 m
        return out


class GoalImageCost:
    """The cost of candidate actions toward a :class:`Goal` from one state (module docstring)."""

    def __init__(self, runtime: WorldModelRuntime, state: State, goal: Goal, repeat: int = 1,
                 weights: GoalWeights | None = None):
        if state.batch != 1:
            raise ValueError(f'plan from one state (batch 1), got batch {state.batch}')
        if repeat < 1:
            raise ValueError(f'repeat must be >= 1, got {repeat}')
        self.runtime, self.state, self.goal, self.repeat = runtime, state, goal, repeat
        self.weights = weights or goal.weights

    def distances(self, actions: np.ndarray) -> np.ndarray:
        """Return float[N, H]: the distance to the goal after each of the ``H`` actions."""
        actions = np.asarray(actions, np.float32)
        n, h, _ = actions.shape
        held = np.repeat(actions, self.repeat, axis=1)
        batch = self.state.select(np.zeros(n, int))
        out = np.empty((n, h))
        for t, s in enumerate(self.runtime.rollout(batch, held)):
            if (t + 1) % self.repeat == 0:
                out[:, t // self.repeat] = self.goal.distance(s)
        return out

    def cost(self, actions: np.ndarray) -> np.ndarray:
        """Return ``float[N]`` for ``actions float32[N, H, 2]`` (lower is better)."""
        d = self.distances(actions)
        return self.weights.final * d[:, -1] + self.weights.path * d.mean(1)
