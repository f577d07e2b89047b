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
Scripted expert for every task family, driven by the physics state.

The expert turns a task into a list of sub-goals "push block B to point P" (re-planned
whenever the list runs out before the task is solved, or a sub-goal stalls) and executes
each with a pushing controller: go to a staging point behind the block on the far side
from the target (walking around the block if needed), then push along the block-target
line with a lateral correction. With ``settle`` it does not stop on the first step the
task counts as solved but finishes the sub-goal it is on, whose target lies inside the
success region with a margin: a policy that reads blocks from a camera (the perception
expert) should not park a block on the threshold, where a few millimetres of perception
error, or a judge reading the frame, can call it either way. It sees block centres, not
images, so it is a policy only for the reference robot; :class:`ExpertPolicy` adapts it
to the :class:`Policy` protocol by reading the tabletop's state, and the ROS
``expert_driver`` node feeds it from topics.
"""

from __future__ import annotations

from dataclasses import dataclass
import itertools

import numpy as np

from wm_ros.interfaces import Observation
from wm_ros.sim.scene import BLOCK_RADIUS, PUSHER_RADIUS, Scene
from wm_ros.sim.tasks import APART, NEXT_TO, Task

CONTACT = BLOCK_RADIUS + PUSHER_RADIUS + 0.004   # pusher-centre to block-centre when pushing
SLOT_GAP = 0.068                                 # centre spacing of blocks placed side by side
SETTLE_TOL = 0.008                               # m, a settling sub-goal's tolerance (a pixel)


@dataclass(frozen=True)
class Subgoal:
    """Push block ``block`` (scene index) to ``target`` or, if ``anchor`` >= 0, next to it."""

    block: int
    target: tuple[float, float] = (0.0, 0.0)
    anchor: int = -1
    tol: float = 0.015

    def goal(self, xy: np.ndarray) -> np.ndarray:
        """Return where the block should go, given current block centres ``xy: float[N, 2]``."""
        if self.anchor < 0:
            return np.asarray(self.target)
        away = xy[self.block] - xy[self.anchor]
        away = away / max(np.linalg.norm(away), 1e-6)
        return xy[self.anchor] + SLOT_GAP * away


class ExpertController:
    """Pushing expert; ``act(ee_xy, block_xy) -> float32[2]`` velocity in m/s."""

    def __init__(self, scene: Scene, task: Task, board_half: float = 0.25,
                 max_speed: float = 0.2, control_hz: float = 10.0, stall_steps: int = 60,
                 settle: bool = False):
        self.scene, self.task = scene, task
        self.half, self.vmax, self.dt = board_half, max_speed, 1.0 / control_hz
        self.stall_steps, self.settle = stall_steps, settle
        self.reset()

    def reset(self):
        """Forget the current plan."""
        self.plan: list[Subgoal] = []
        self._steps_on_goal = 0

    # ------------------------------------------------------------------ planning
    def subgoals(self, xy: np.ndarray) -> list[Subgoal]:
        """Return the sub-goals that solve the task from block centres ``xy: float[N, 2]``."""
        t, s = self.task, self.scene
        idx = [s.index(n) for n in t.blocks]
        if t.family == 'block_to_region':
            return [Subgoal(idx[0], tuple(t.region_xy(self.half)), tol=0.02)]
        if t.family == 'block_to_block':
            return [Subgoal(idx[0], anchor=idx[1], tol=(NEXT_TO - SLOT_GAP) * 0.8)]
        if t.family == 'separate':
            return [self._separate(xy, idx[0], idx[1])]
        if t.family == 'group_by_colour':
            return self._group(xy)
        return self._line(xy)

    def _clip(self, p: np.ndarray, margin: float = 0.06) -> np.ndarray:
        return np.clip(p, -self.half + margin, self.half - margin)

    def _separate(self, xy, a, b) -> Subgoal:
        away = xy[a] - xy[b]
        base = np.arctan2(away[1], away[0])
        for k in itertools.chain.from_iterable((i, -i) for i in range(7)):
            ang = base + k * np.pi / 6
            target = self._clip(xy[a] + (APART + 0.04) * np.array([np.cos(ang), np.sin(ang)]))
            if np.linalg.norm(target - xy[b]) >= APART + 0.025:
                return Subgoal(a, tuple(target), tol=0.02)
        return Subgoal(b, tuple(self._clip(-xy[a])), tol=0.02)

    def _group(self, xy) -> list[Subgoal]:
        colours = sorted({b.colour for b in self.scene.blocks})
        k = len(colours)
        ang = np.pi / 2 + np.arange(k) * 2 * np.pi / k
        points = 0.13 * np.stack([np.cos(ang), np.sin(ang)], 1) if k > 1 else np.zeros((1, 2))
        members = {c: [i for i, b in enumerate(self.scene.blocks) if b.colour == c]
                   for c in colours}
        best, best_cost = None, np.inf
        for perm in itertools.permutations(range(k)):
            cost = sum(min(np.linalg.norm(xy[i] - points[p]) for i in members[c])
                       for c, p in zip(colours, perm))
            if cost < best_cost:
                best, best_cost = perm, cost
        goals = []
        for c, p in zip(colours, best):
            anchor = min(members[c], key=lambda i: np.linalg.norm(xy[i] - points[p]))
            goals.append(Subgoal(anchor, tuple(points[p]), tol=0.03))
            goals += [Subgoal(i, anchor=anchor, tol=0.015) for i in members[c] if i != anchor]
        return goals

    def _line(self, xy) -> list[Subgoal]:
        n = len(xy)
        y0 = float(np.clip(np.median(xy[:, 1]), -0.1, 0.1))
        xs = np.linspace(-1, 1, n) * min(self.half - 0.06, 0.5 * SLOT_GAP * 1.6 * (n - 1))
        order = np.argsort(xy[:, 0])
        return [Subgoal(int(i), (float(x), y0), tol=0.01) for i, x in zip(order, xs)]

    # ------------------------------------------------------------------ control
    def act(self, ee_xy: np.ndarray, block_xy: np.ndarray) -> np.ndarray:
        """Return the velocity ``float32[2]`` (m/s) for pusher ``ee_xy`` and blocks ``[N, 2]``."""
        ee, xy = np.asarray(ee_xy, np.float64), np.asarray(block_xy, np.float64)
        solved = self.task.success(self.scene, xy, self.half)
        if solved and not self._settling():
            self.plan = []
            return np.zeros(2, np.float32)
        while True:
            if not self.plan or self._steps_on_goal > self.stall_steps:
                self.plan, self._steps_on_goal = self.subgoals(xy), 0
            goal = self.plan[0]
            target = goal.goal(xy)
            tol = min(goal.tol, SETTLE_TOL) if solved else goal.tol   # solved: settling
            if np.linalg.norm(xy[goal.block] - target) > tol:
                break
            self.plan.pop(0)
            self._steps_on_goal = 0
            if not self.plan:      # plan done but task unsolved: re-plan next call
                return np.zeros(2, np.float32)
        self._steps_on_goal += 1
        return self._push(ee, xy[goal.block], target).astype(np.float32)

    def _settling(self) -> bool:
        """Return whether to push on past the success threshold to the sub-goal's target."""
        return self.settle and bool(self.plan) and self._steps_on_goal <= self.stall_steps

    def _push(self, ee, block, target) -> np.ndarray:
        d = target - block
        dist = np.linalg.norm(d)
        d = d / max(dist, 1e-9)
        perp = np.array([-d[1], d[0]])
        rel = ee - block
        along, lateral = rel @ d, rel @ perp
        if along < -0.6 * CONTACT and abs(lateral) < 0.012:
            speed = min(self.vmax, max(0.04, 0.8 * dist / self.dt))
            v = d * speed - perp * lateral * 4.0 / self.dt * 0.25
            return self._limit(v)
        stage = block - d * (CONTACT + 0.02)
        if _segment_distance(block, ee, stage) < CONTACT + 0.004:
            stage = self._orbit(block, rel, -d)
        return self._limit((stage - ee) / self.dt)

    def _orbit(self, block, rel, want) -> np.ndarray:
        """Return a waypoint 50 degrees further around the block toward direction ``want``."""
        now = np.arctan2(rel[1], rel[0])
        goal = np.arctan2(want[1], want[0])
        delta = (goal - now + np.pi) % (2 * np.pi) - np.pi
        ang = now + np.clip(delta, -np.deg2rad(50), np.deg2rad(50))
        return block + (CONTACT + 0.02) * np.array([np.cos(ang), np.sin(ang)])

    def _limit(self, v: np.ndarray) -> np.ndarray:
        return np.clip(v, -self.vmax, self.vmax)


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Return the distance from point ``p`` to the segment ``a``-``b``."""
    ab = b - a
    t = np.clip((p - a) @ ab / max(ab @ ab, 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(p - (a + t * ab)))


class ExpertPolicy:
    """:class:`Policy` adapter: reads the tabletop's physics state instead of the image."""

    def __init__(self, env):
        self.env = env
        self.controller: ExpertController | None = None

    def reset(self):
        """Re-plan for the environment's current scene and task."""
        c = self.env.config
        self.controller = ExpertController(self.env.scene, self.env.task, c.board_half,
                                           c.max_speed, c.control_hz)

    def act(self, observation: Observation) -> np.ndarray:
        """Return the expert action for the environment's current state."""
        if self.controller is None or self.controller.task is not self.env.task:
            self.reset()
        return self.controller.act(observation.ee_xy, self.env.block_states()[:, :2])


class BatchStateExpert:
    """
    The scripted expert as a batched policy: each row's controller reads that row's blocks.

    It needs the physics state (``Observations.block_xy``), so it runs on a simulator only;
    in imagination, where no physics state exists, it refuses.
    """

    def __init__(self, board_half: float = 0.25, max_speed: float = 0.2,
                 control_hz: float = 10.0):
        self.half, self.vmax, self.hz = board_half, max_speed, control_hz
        self.controllers: list[ExpertController] = []

    def reset(self, episodes) -> None:
        """Plan each row's task in its true scene."""
        if any(e.scene is None for e in episodes):
            raise ValueError("the scripted expert needs each episode's true scene (a "
                             'simulator start), not a first frame')
        self.controllers = [ExpertController(e.scene, e.task, self.half, self.vmax, self.hz)
                            for e in episodes]

    def act(self, observations) -> np.ndarray:
        """Return each row's expert action from its pusher and block positions."""
        if observations.block_xy is None:
            raise ValueError('the scripted expert reads block positions from the physics '
                             'state; these observations have none (imagination): use a '
                             'perceiving expert such as "expert"')
        out = np.zeros((len(observations), 2), np.float32)
        for i, row in enumerate(observations.rows):
            out[i] = self.controllers[row].act(observations.ee_xy[i], observations.block_xy[i])
        return out
