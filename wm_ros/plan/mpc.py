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
Model-predictive control inside the world model, one sub-goal at a time.

:class:`SubgoalCost` is the :class:`~wm_ros.plan.solver.Costable` of one
:class:`~wm_ros.plan.decompose.Step` from one encoded state: the ``N`` candidate action
sequences are rolled out as one batch through the runtime contract (``rollout`` +
``objects``, so any family with an object read-out plans unchanged), and each costs

* the pushed block's distance to its goal at the end (and, less, along the way),
* how far the pusher stays from the staging point behind the block (so that samples that
  never touch the block still rank: reach first, then push),
* how far every other block is moved (steps already done must stay done),
* the model's own uncertainty summed over the rollout (``uncertainty_weight``, metres of
  ensemble spread; plans through states the model is unsure of are penalised), for
  families with that capability.

The pusher's path is integrated from the actions (a velocity-commanded pusher, clipped to
the board), not read from the model. :class:`TaskCost` scores a whole task the same way
without sub-goals (the flat-MPC baseline of the benchmark): a smooth distance to the
task's success set, summed over its blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wm_ros.plan.decompose import Step
from wm_ros.policy.expert import CONTACT, SLOT_GAP
from wm_ros.runtime.base import ObjectReadout, State, Uncertainty, WorldModelRuntime
from wm_ros.sim.tasks import APART, NEXT_TO, REGION_RADIUS_FRAC, Task


@dataclass(frozen=True)
class CostWeights:
    """Weights of the cost terms (metres each)."""

    final: float = 1.0
    path: float = 0.2
    reach: float = 0.3
    disturb: float = 0.5
    uncertainty: float = 2.0
    effort: float = 0.01


def pusher_path(ee0: np.ndarray, actions: np.ndarray, dt: float, board_half: float
                ) -> np.ndarray:
    """Return the pusher positions ``[N, H, 2]`` after each action (m/s, clipped board)."""
    path = np.asarray(ee0, np.float64)[None, None] + np.cumsum(actions, axis=1) * dt
    return np.clip(path, -board_half, board_half)


class _Rollouts:
    """Roll ``N`` candidate sequences out from one state; collect positions and spread."""

    def __init__(self, runtime: WorldModelRuntime, state: State, slots: dict[str, int]):
        if not isinstance(runtime, ObjectReadout):
            raise ValueError(f'planning reads block positions out of the model; '
                             f'{type(runtime).__name__} has no object read-out (ObjectReadout)'
                             ': wrap it in wm_ros.plan.detector.DetectedObjects')
        if state.batch != 1:
            raise ValueError(f'plan from one state (batch 1), got batch {state.batch}')
        self.runtime, self.state, self.slots = runtime, state, slots
        self.names = list(slots)
        self.index = np.array([slots[n] for n in self.names], int)
        self.start = runtime.objects(state).pos[0, self.index].astype(np.float64)

    def __call__(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """
        Return positions ``[N, R, K, 2]`` of the named blocks and spread ``[N, H]``.

        ``R`` is ``H`` for a model that reads objects out of its state, the read steps
        (every ``read_every``-th and the last) for one read through rendered frames.
        """
        n, h, _ = actions.shape
        every = getattr(self.runtime, 'read_every', 1)
        reads = [t for t in range(h) if (t + 1) % every == 0 or t == h - 1]
        batch = self.state.select(np.zeros(n, int))
        pos = np.empty((n, len(reads), len(self.index), 2))
        spread = np.zeros((n, h))
        unsure = isinstance(self.runtime, Uncertainty)
        for t, s in enumerate(self.runtime.rollout(batch, actions)):
            if t in reads:
                pos[:, reads.index(t)] = self.runtime.objects(s).pos[:, self.index]
            if unsure:
                spread[:, t] = self.runtime.uncertainty(s)
        return pos, spread


class _RolloutCost:
    """
    What every cost here shares: the batched rollouts, weights, pusher start.

    ``goal`` (a sub-goal :class:`Step` or a :class:`Task`) is what the subclass's ``_aim``
    sets up to score, over the named blocks ``slots`` (name -> slot of ``state``).
    """

    def __init__(self, runtime: WorldModelRuntime, state: State, ee: np.ndarray,
                 slots: dict[str, int], goal, board_half: float = 0.25,
                 weights: CostWeights = CostWeights()):
        self.roll = _Rollouts(runtime, state, slots)
        self.weights, self.half = weights, board_half
        self.dt = 1.0 / runtime.control_hz
        self.ee0 = np.asarray(ee, np.float64)
        self._aim(goal, self.roll.names)

    def _aim(self, goal, names: list[str]) -> None:
        """Set up what ``goal`` scores over the blocks ``names`` (each subclass's part)."""
        raise NotImplementedError

    def pusher(self, actions: np.ndarray) -> np.ndarray:
        """Return the pusher path ``[N, H, 2]`` of ``actions``."""
        return pusher_path(self.ee0, actions, self.dt, self.half)

    def total(self, dist: np.ndarray, reach: np.ndarray, spread: np.ndarray,
              actions: np.ndarray) -> np.ndarray:
        """Return ``float[N]``: distance ``[N, R]`` at the end and along, reach, spread, effort."""
        w = self.weights
        return (w.final * dist[:, -1] + w.path * dist.mean(1) + w.reach * reach
                + w.uncertainty * spread.sum(1) + w.effort * np.abs(actions).mean((1, 2)))


class SubgoalCost(_RolloutCost):
    """The cost of candidate actions for one :class:`Step` (see the module docstring)."""

    def _aim(self, step: Step, names: list[str]) -> None:
        """Aim at ``step``: its block, its anchor, the staging point behind the block."""
        self.step = step
        if step.block not in names or (step.anchor and step.anchor not in names):
            raise ValueError(f'step "{step.text}" names a block the model does not hold '
                             f'(holds {names})')
        self.k = names.index(step.block)
        self.a = names.index(step.anchor) if step.anchor else -1
        start = {n: self.roll.start[i] for i, n in enumerate(names)}
        goal = step.goal(start)
        block = self.roll.start[self.k]
        away = (block - goal) / max(float(np.linalg.norm(block - goal)), 1e-6)
        self.staging = block + CONTACT * away          # behind the block, seen from the goal

    def goals(self, pos: np.ndarray) -> np.ndarray:
        """Return the goal ``[N, R, 2]`` of the pushed block at the read steps."""
        if self.a < 0:
            return np.broadcast_to(np.asarray(self.step.target), pos.shape[:2] + (2,))
        away = pos[:, :, self.k] - pos[:, :, self.a]
        away /= np.maximum(np.linalg.norm(away, axis=-1, keepdims=True), 1e-6)
        return pos[:, :, self.a] + SLOT_GAP * away

    def cost(self, actions: np.ndarray) -> np.ndarray:
        """Return ``float[N]`` (metres-weighted, lower is better)."""
        w = self.weights
        pos, spread = self.roll(actions)
        dist = np.linalg.norm(pos[:, :, self.k] - self.goals(pos), axis=-1)        # [N, R]
        ee = self.pusher(actions)
        reach = np.linalg.norm(ee - self.staging, axis=-1).min(1)
        others = [i for i in range(pos.shape[2]) if i not in (self.k, self.a)]
        moved = (np.linalg.norm(pos[:, -1, others] - self.roll.start[others], axis=-1).sum(1)
                 if others else 0.0)
        moved_anchor = (np.linalg.norm(pos[:, -1, self.a] - self.roll.start[self.a], axis=-1)
                        if self.a >= 0 else 0.0)
        return self.total(dist, reach, spread, actions) + w.disturb * (moved + moved_anchor)


class TaskCost(_RolloutCost):
    """Flat MPC on a whole task: a smooth distance to its success set (no sub-goals)."""

    def _aim(self, task: Task, names: list[str]) -> None:
        """Aim at ``task``: the slots of its blocks, every block's colour."""
        self.task = task
        self.colour = np.array([n.split(' ')[0] for n in names])
        self.idx = [names.index(b) for b in task.blocks]

    def distance(self, pos: np.ndarray) -> np.ndarray:
        """Return the distance ``[N, H]`` (m) of positions ``[N, H, K, 2]`` from success."""
        t, half = self.task, self.half
        if t.family == 'block_to_region':
            d = np.linalg.norm(pos[:, :, self.idx[0]] - t.region_xy(half), axis=-1)
            return np.maximum(d - 0.5 * REGION_RADIUS_FRAC * half, 0.0)
        if t.family in ('block_to_block', 'separate'):
            d = np.linalg.norm(pos[:, :, self.idx[0]] - pos[:, :, self.idx[1]], axis=-1)
            return (np.maximum(d - 0.8 * NEXT_TO, 0.0) if t.family == 'block_to_block'
                    else np.maximum(APART + 0.02 - d, 0.0))
        if t.family == 'group_by_colour':
            total = np.zeros(pos.shape[:2])
            for c in set(self.colour):
                members = pos[:, :, self.colour == c]
                centre = members.mean(2, keepdims=True)
                total += np.linalg.norm(members - centre, axis=-1).sum(-1)
            return total
        centred = pos - pos.mean(2, keepdims=True)                       # make_line
        cov = np.einsum('nhki,nhkj->nhij', centred, centred)
        return np.sqrt(np.maximum(np.linalg.eigvalsh(cov)[..., 0], 0.0))

    def cost(self, actions: np.ndarray) -> np.ndarray:
        """Return ``float[N]``: distance to success, reach toward the nearest block, spread."""
        pos, spread = self.roll(actions)
        reach = np.linalg.norm(self.pusher(actions)[:, :, None] - self.roll.start[None, None],
                               axis=-1).min(1).min(1)
        return self.total(self.distance(pos), reach, spread, actions)
