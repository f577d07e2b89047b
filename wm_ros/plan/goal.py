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
  yaw difference), as the tabletop planner compares blocks;
* a family with :class:`~wm_ros.runtime.base.ObjectPoses` only (the free slots: objects
  without names, yaw counted from each encoding): mode ``'poses'``. Before each search
  :meth:`Goal.bind` matches every goal object to the nearest slot of the encoded frame
  (position plus ``yaw_radius`` x the turn ``runtime.turn`` measures between the two
  looks) and expresses the goal yaw in the frame's encoding; the distance is then that
  slot's, as above. Two terms only this mode has (it knows where the pusher is):
  ``pusher`` x the pusher's distance to where the goal image shows it (the published
  planners' goals include the pusher), and ``approach`` x the distance from the pusher to
  ``standoff`` m behind the object (opposite the way it must go), so that plans reach
  the object before a goal distance can change. With ``step_m`` / ``step_yaw`` > 0 the
  target is a **sub-goal**: the pose interpolated (position and yaw together) from the
  object's pose now toward its goal, at most that far; re-bound at every search, it is
  re-planned as each is reached, and the pusher term applies only at the goal itself.

With several goal images (the same goal pose seen with the pusher in several places), a
state's distance is the smallest over them: the goal is then a set of states (the T at
its goal, the pusher anywhere), and the pusher is not pulled to where one picture has it.

:class:`GoalImageCost` is a :class:`~wm_ros.plan.solver.Costable`: ``N`` candidate
sequences of ``H`` actions, each held for ``repeat`` control periods (frame skip), are
rolled out as one batch from one encoded state; the cost is ``final`` x the distance
after the last action plus ``path`` x the mean distance after each action (plus the
approach term on the last state, pose mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wm_ros.runtime.base import (Embedding, ObjectPoses, ObjectReadout, RuntimeInputError,
                                 State, WorldModelRuntime)

GONE_M = 1.0            # the distance of a goal object the imagined state lost (m)
NEAR_M = 0.01           # pose mode: an object this near its goal (m) needs no pushing
FLIP = 0.6              # pose mode: a turn within this of pi keeps its last direction (rad)


class GoalError(ValueError):
    """A goal the model cannot plan toward (wrong image size, no usable capability)."""


@dataclass(frozen=True)
class GoalWeights:
    """Weights of the goal cost terms, and the sub-goal step (pose mode; 0: the goal)."""

    final: float = 1.0          # distance after the last planned action
    path: float = 0.0           # mean distance after every planned action
    yaw_radius: float = 0.05    # object modes: metres per radian of yaw difference
    pusher: float = 0.0         # pose mode: x the pusher's distance to the goal image's
    approach: float = 0.0       # pose mode: x the pusher's distance to behind the object
    standoff: float = 0.06      # pose mode: how far behind the object's centroid (m)
    step_m: float = 0.0         # pose mode: sub-goals at most this far (m; 0: no sub-goals)
    step_yaw: float = 0.0       # pose mode: ... and this much turn (rad)
    turn_first: float = 0.0     # pose mode: a turn larger than this (rad) is made in place
    turn_yaw_radius: float = 0.0    # ... with this yaw weight (m/rad; 0: yaw_radius)
    near_yaw_radius: float = 0.0    # yaw weight within step_m of the goal position (0: off)


def mode_of(runtime) -> str:
    """Return ``'embedding'``, ``'objects'`` or ``'poses'``; GoalError if none fits."""
    if isinstance(runtime, Embedding):
        return 'embedding'
    if isinstance(runtime, ObjectReadout):
        return 'objects'
    if isinstance(runtime, ObjectPoses):
        return 'poses'
    raise GoalError(f'a goal image is compared through an embedding or an object read-out; '
                    f'{type(runtime).__name__} has neither (Embedding, ObjectReadout, '
                    'ObjectPoses): train a model that has one, e.g. `wm-ros train world-model '
                    '--family jepa`')


def wrap(angle):
    """Return ``angle`` wrapped to [-pi, pi)."""
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


@dataclass
class Binding:
    """Pose mode: goal image ``g``'s objects as slots of one encoded frame (:meth:`Goal.bind`)."""

    slots: np.ndarray           # int[K]: the frame's slot matched to each goal object
    pos: np.ndarray             # float[K, 2]: where each should be (goal or sub-goal, m)
    yaw: np.ndarray             # float[K]: its yaw there, in the frame's encoding (rad)
    ee: np.ndarray              # float[2]: the pusher in the goal image
    at_goal: bool               # the target is the goal itself, not a sub-goal
    behind: np.ndarray          # float[K, 2]: unit vectors opposite each object's way
    needs: np.ndarray           # bool[K]: the object is not at its goal yet (1 cm / yaw)
    yaw_w: np.ndarray = None    # float[K]: metres per radian of yaw difference (schedule)
    turning: np.ndarray = None  # bool[K]: turned in place (turn_first) before it moves
    turn: np.ndarray = None     # float[K]: the turn still to make (rad, after the schedule)

    @property
    def turn_sign(self) -> np.ndarray:
        """Return float[K]: the direction each object is being turned (0: none known)."""
        return np.zeros(len(self.slots)) if self.turn is None else np.sign(self.turn)


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
        self.ee = np.asarray(ee, np.float32).reshape(-1, 2)
        if len(self.ee) != len(images):
            raise GoalError(f'{len(images)} goal images but {len(self.ee)} pusher positions')
        try:
            self.state = runtime.encode(images, self.ee)
        except RuntimeInputError as exc:
            raise GoalError(f'the goal image cannot be encoded: {exc}') from None
        self.bound: list[Binding] = []
        self.last_bound: list[Binding] = []
        if self.mode == 'embedding':
            self.target = runtime.embedding(self.state).astype(np.float64)    # [G, D]
            return
        objects = runtime.objects(self.state)
        self.kinds = [objects.kind[g][objects.present[g]] for g in range(len(images))]
        self.pos = [objects.pos[g][objects.present[g]] for g in range(len(images))]
        self.yaw = [objects.yaw[g][objects.present[g]] for g in range(len(images))]
        if not sum(len(k) for k in self.kinds):
            raise GoalError('the model sees no object in the goal image(s); an object '
                            'cost needs the objects the goal shows')

    def __len__(self) -> int:
        return len(self.ee)

    def bind(self, state: State) -> list[Binding]:
        """Pose mode: match the goal objects to ``state``'s slots (batch 1); module doc."""
        w, objects = self.weights, self.runtime.objects(state)
        here, present = objects.pos[0].astype(np.float64), objects.present[0]
        here_yaw = objects.yaw[0].astype(np.float64)
        self.last_bound, self.bound = self.bound, []
        if not present.any():
            raise GoalError('the model sees no object in the camera frame; nothing to plan')
        for g in range(len(self)):
            goal_slots = np.flatnonzero(objects_present(self.runtime, self.state, g))
            turn = self.runtime.turn(state, self.state.select([g]))[:, goal_slots]
            pos = self.pos[g].astype(np.float64)
            miss = (np.linalg.norm(here[:, None] - pos[None], axis=-1)
                    + w.yaw_radius * np.abs(wrap(turn)))                        # [M, K]
            slots = np.where(present[:, None], miss, np.inf).argmin(0)
            yaw = wrap(turn[slots, np.arange(len(slots))]).astype(np.float64)
            yaw = self._keep_direction(g, slots, yaw)
            delta = pos - here[slots]
            far = np.linalg.norm(delta, axis=-1)
            fp, fy, yaw_w, turning = schedule(w, far, yaw)
            behind = (-delta / np.maximum(far, 1e-9)[:, None]
                      * ((far > NEAR_M) & ~turning)[:, None])
            needs = (far > NEAR_M) | (w.yaw_radius * np.abs(yaw) > NEAR_M)
            self.bound.append(Binding(slots, here[slots] + fp[:, None] * delta,
                                      here_yaw[slots] + fy * yaw,
                                      self.ee[g].astype(np.float64),
                                      bool(min(fp.min(), fy.min()) >= 1.0),
                                      behind, needs, yaw_w, turning, yaw))
        return self.bound

    def _keep_direction(self, g: int, slots: np.ndarray, yaw: np.ndarray) -> np.ndarray:
        """
        Return ``yaw`` turned the way the last binding turned where it is near pi.

        The shorter turn flips side as the error passes pi; near it (within ``FLIP``)
        the turn keeps the direction it had, so successive plans do not undo each other.
        """
        if g >= len(self.last_bound) or len(self.last_bound[g].slots) != len(slots):
            return yaw                  # goal object k stays k: its slot may be renumbered
        was = self.last_bound[g].turn_sign
        flip = (np.abs(yaw) > np.pi - FLIP) & (was != 0) & (np.sign(yaw) != was)
        return np.where(flip, yaw + 2 * np.pi * was, yaw)

    def distance(self, state: State) -> np.ndarray:
        """Return float[B]: how far each row of ``state`` is from the nearest goal image."""
        if self.mode == 'embedding':
            z = self.runtime.embedding(state).astype(np.float64)              # [B, D]
            d2 = (z ** 2).sum(1)[:, None] - 2 * z @ self.target.T + (self.target ** 2).sum(1)
            return np.maximum(d2, 0.0).min(1) / z.shape[1]
        if self.mode == 'poses':
            return self._pose_distance(state).min(0)
        return np.min([self._object_distance(state, g) for g in range(len(self))], 0)

    def approach(self, state: State) -> np.ndarray:
        """Return float[B]: the pusher's distance to behind the objects to move (pose mode)."""
        if self.mode != 'poses' or not self.bound:
            return np.zeros(state.batch)
        objects, ee = self.runtime.objects(state), self.runtime.pusher(state)
        b = self.bound[0]
        out = np.zeros(state.batch)
        for k in np.flatnonzero(b.needs):
            slot = b.slots[k]
            spot = objects.pos[:, slot] + self.weights.standoff * b.behind[k]
            d = np.linalg.norm(ee - spot, axis=-1)
            if not b.behind[k].any():       # nowhere to go: anywhere near the object
                d = np.maximum(d - self.weights.standoff, 0.0)
            out += d
        return out

    def _pose_distance(self, state: State) -> np.ndarray:
        """Return float[G, B]: distance of ``state`` to each bound goal image."""
        if not self.bound:
            raise RuntimeError('pose mode: call bind(state) on the encoded frame first')
        objects, w = self.runtime.objects(state), self.weights
        out = np.zeros((len(self.bound), state.batch))
        for g, b in enumerate(self.bound):
            pos, yaw, present = (objects.pos[:, b.slots], objects.yaw[:, b.slots],
                                 objects.present[:, b.slots])                   # [B, K]
            yaw_w = w.yaw_radius if b.yaw_w is None else b.yaw_w
            d = np.linalg.norm(pos - b.pos, axis=-1) + yaw_w * np.abs(wrap(yaw - b.yaw))
            out[g] = np.where(present, d, GONE_M).sum(1)
            if b.at_goal and w.pusher:
                out[g] += w.pusher * np.linalg.norm(self.runtime.pusher(state) - b.ee, axis=-1)
        return out

    def _object_distance(self, state: State, g: int) -> np.ndarray:
        """Return float[B]: summed distance of ``state``'s objects to goal image ``g``'s."""
        objects = self.runtime.objects(state)
        out = np.zeros(state.batch)
        for kind, pos, yaw in zip(self.kinds[g], self.pos[g], self.yaw[g]):
            same = (objects.kind == kind) & objects.present                    # [B, M]
            d = (np.linalg.norm(objects.pos - pos, axis=-1) + self.weights.yaw_radius
                 * np.abs(wrap(objects.yaw - yaw)))
            d = np.where(same, d, np.inf).min(1)
            out += np.where(np.isfinite(d), d, GONE_M)      # the object is gone: 1 m
        return out


def schedule(w: GoalWeights, far: np.ndarray, yaw: np.ndarray):
    """
    Return the sub-goal schedule of objects ``far`` m and ``yaw`` rad from their goals.

    ``(fp, fy, yaw_w, turning)``: the fractions of the way and of the turn each sub-goal
    goes, its yaw weight (m/rad) and whether it turns in place. Without ``turn_first``
    position and yaw go together (each at most ``step_m`` / ``step_yaw``); a turn larger
    than ``turn_first`` is made first, in place (weight ``turn_yaw_radius``), and within
    ``step_m`` of the goal position yaw weighs ``near_yaw_radius`` (rising from 2 x
    ``step_m``), so that the final approach does not leave the turn for last.
    """
    f = np.ones(len(far))
    if w.step_m > 0:
        f = np.minimum(f, w.step_m / np.maximum(far, 1e-9))
    if w.step_yaw > 0:
        f = np.minimum(f, w.step_yaw / np.maximum(np.abs(yaw), 1e-9))
    yaw_w = np.full(len(far), w.yaw_radius)
    if w.near_yaw_radius > 0 and w.step_m > 0:
        ramp = np.clip((2 * w.step_m - far) / w.step_m, 0.0, 1.0)
        yaw_w = yaw_w + ramp * (w.near_yaw_radius - w.yaw_radius)
    turning = (np.abs(yaw) > w.turn_first) if w.turn_first > 0 else np.zeros(len(far), bool)
    fp, fy = np.where(turning, 0.0, f), f.copy()
    if turning.any():
        step = (w.step_yaw or np.inf) / np.maximum(np.abs(yaw), 1e-9)
        fy = np.where(turning, np.minimum(1.0, step), fy)
        yaw_w = np.where(turning, w.turn_yaw_radius or w.yaw_radius, yaw_w)
    return fp, fy, yaw_w, turning


def objects_present(runtime, state: State, g: int) -> np.ndarray:
    """Return bool[M]: which slots of row ``g`` of ``state`` hold an object."""
    return runtime.objects(state.select([g])).present[0]


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
        if goal.mode == 'poses':
            goal.bind(state)
        self.last_approach = np.zeros(0)

    def distances(self, actions: np.ndarray) -> np.ndarray:
        """Return float[N, H]: the distance to the goal after each of the ``H`` actions."""
        actions = np.asarray(actions, np.float32)
        n, h, _ = actions.shape
        held = np.repeat(actions, self.repeat, axis=1)
        batch = self.state.select(np.zeros(n, int))
        out = np.empty((n, h))
        last = batch
        for t, s in enumerate(self.runtime.rollout(batch, held)):
            if (t + 1) % self.repeat == 0:
                out[:, t // self.repeat] = self.goal.distance(s)
            last = s
        self.last_approach = self.goal.approach(last)
        return out

    def cost(self, actions: np.ndarray) -> np.ndarray:
        """Return ``float[N]`` for ``actions float32[N, H, 2]`` (lower is better)."""
        d = self.distances(actions)
        return (self.weights.final * d[:, -1] + self.weights.path * d.mean(1)
                + self.weights.approach * self.last_approach)
