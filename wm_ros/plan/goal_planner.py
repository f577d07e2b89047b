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
Goal-image planning: receding-horizon CEM in the world model toward a picture of the goal.

:class:`GoalPlanner` is started with goal images (:meth:`GoalPlanner.start`) and then
asked once per control period for an action (:meth:`GoalPlanner.act` with the newest
camera frame and pusher position). When its queue of actions is empty it encodes the
frame, searches ``H`` actions, each held ``repeat`` control periods (frame skip, as
DINO-WM plans PushT), with the sampling solver (:class:`~wm_ros.plan.solver.Solver` on a
:class:`~wm_ros.plan.goal.GoalImageCost`), queues the first ``execute`` of them and keeps
the rest as the next search's warm start. ``plan_seconds`` and ``actions`` give the time
per planned action. In pose mode, once the goal itself (no sub-goal) is nearer than
``fine_m`` (its distance, metres), plans hold each action ``fine_repeat`` periods at most
``fine_speed`` x the top speed (a second warm-started solver): the last centimetres need
finer pushes than 0.5 s at full speed.

:class:`GoalPolicy` puts one planner per episode behind the batched
:class:`~wm_ros.policy.base.Policy` protocol, so the one episode driver runs it on a
robot (PushT: :mod:`wm_ros.evaluate.goal_planning`) or in imagination.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
import time

import numpy as np

from wm_ros.plan.goal import Goal, GoalError, GoalImageCost, GoalWeights, mode_of
from wm_ros.plan.solver import Solver, SolverConfig
from wm_ros.runtime.base import WorldModelRuntime


@dataclass(frozen=True)
class GoalPlannerConfig:
    """Goal-image planner settings (``config/goal_plan.yaml``; ``tiny`` for tests)."""

    solver: SolverConfig = field(default_factory=lambda: SolverConfig(
        horizon=5, samples=300, elites=30, iterations=10))
    weights: GoalWeights = field(default_factory=GoalWeights)
    repeat: int = 5              # control periods each planned action is held
    execute: int = 1             # planned actions executed before the next search
    fine_m: float = 0.0          # pose mode: nearer the goal than this (its distance), ...
    fine_repeat: int = 2         # ... hold each action this many periods instead, ...
    fine_speed: float = 0.5      # ... at most this fraction of the top speed (precision)

    def __post_init__(self):
        if min(self.repeat, self.fine_repeat) < 1 or not 1 <= self.execute <= self.solver.horizon:
            raise ValueError(f'repeat and fine_repeat must be >= 1 and execute in [1, horizon='
                             f'{self.solver.horizon}], got {self.repeat}, {self.fine_repeat} '
                             f'and {self.execute}')


def load_config(section: str = 'default', path=None, **overrides) -> GoalPlannerConfig:
    """Return ``section`` of ``config/goal_plan.yaml`` (or ``path``) with ``overrides``."""
    from wm_ros import config as config_io
    return config_io.load(GoalPlannerConfig, path or config_io.config_dir() / 'goal_plan.yaml',
                          section, **overrides)


class GoalPlanner:
    """Plans toward goal images in the world model (module docstring)."""

    def __init__(self, runtime: WorldModelRuntime,
                 config: GoalPlannerConfig = GoalPlannerConfig(), seed: int | None = None):
        self.mode = mode_of(runtime)               # refuses a model it cannot compare with
        self.runtime, self.config = runtime, config
        solver = replace(config.solver, bound=runtime.max_speed,
                         seed=config.solver.seed if seed is None else seed)
        self.solver = Solver(solver)
        self.fine = Solver(replace(solver, bound=runtime.max_speed * config.fine_speed))
        self.goal: Goal | None = None
        self.queue: list[np.ndarray] = []
        self.plan_seconds: list[float] = []
        self.actions = self.fine_plans = 0
        self.last_distance = float('nan')

    def start(self, images: np.ndarray, ee: np.ndarray) -> None:
        """Aim at goal ``images`` uint8[G,S,S,3] (pusher ``ee`` [G,2]); forget the last plan."""
        self.goal = Goal(self.runtime, images, ee, self.config.weights)
        self.solver.reset()
        self.fine.reset()
        self.queue, self.plan_seconds, self.actions = [], [], 0
        self.fine_plans = 0

    def act(self, image: np.ndarray, ee: np.ndarray) -> np.ndarray:
        """Return the next action ``float32[2]`` (m/s) for the newest frame and pusher."""
        if self.goal is None:
            raise RuntimeError('call start(goal_images, goal_ee) before act()')
        if not self.queue:
            self._plan(image, ee)
        self.actions += 1
        return self.queue.pop(0)

    def _plan(self, image: np.ndarray, ee: np.ndarray) -> None:
        t0 = time.perf_counter()
        c = self.config
        state = self.runtime.encode(np.asarray(image)[None], np.asarray(ee, np.float32)[None])
        try:
            cost = GoalImageCost(self.runtime, state, self.goal, c.repeat, c.weights)
        except GoalError:               # pose mode, no object seen in this frame: hold still
            self.queue = [np.zeros(2, np.float32)] * c.repeat
            self.plan_seconds.append(time.perf_counter() - t0)
            return
        solver, repeat = self.solver, c.repeat
        if self._near(state):           # the last centimetres: shorter, slower actions
            solver, repeat = self.fine, c.fine_repeat
            cost.repeat = repeat
            self.fine_plans += 1
        best, info = solver.solve(cost)
        self.queue = [a.astype(np.float32) for a in np.repeat(best[:c.execute], repeat, 0)]
        solver.mean = best.astype(np.float32)
        solver.shift(c.execute)
        self.last_distance = float(info['cost'])
        self.plan_seconds.append(time.perf_counter() - t0)

    def _near(self, state) -> bool:
        """Pose mode: whether the goal itself is bound and nearer than ``fine_m``."""
        if not self.config.fine_m or self.goal.mode != 'poses':
            return False
        near = [b.at_goal for b in self.goal.bound]
        return any(near) and float(self.goal.distance(state)[0]) < self.config.fine_m


class GoalPolicy:
    """
    One :class:`GoalPlanner` per episode, as a batched policy for the episode driver.

    ``goal_of(episode) -> (images uint8[G,S,S,3], ee float32[G,2])`` gives each episode's
    goal images; each row's solver is seeded with the episode's ``policy_seed``.
    """

    def __init__(self, runtime: WorldModelRuntime, config: GoalPlannerConfig,
                 goal_of: Callable[[object], tuple[np.ndarray, np.ndarray]]):
        mode_of(runtime)
        self.runtime, self.config, self.goal_of = runtime, config, goal_of
        self.rows: list[GoalPlanner] = []

    def reset(self, episodes: Sequence) -> None:
        """Start a planner per episode toward its goal images."""
        self.rows = []
        for e in episodes:
            planner = GoalPlanner(self.runtime, self.config, seed=int(e.policy_seed) % 2**32)
            planner.start(*self.goal_of(e))
            self.rows.append(planner)

    def act(self, observations) -> np.ndarray:
        """Return each running row's planned action (m/s)."""
        out = np.zeros((len(observations), 2), np.float32)
        for i, row in enumerate(observations.rows):
            out[i] = self.rows[row].act(observations.image[i], observations.ee_xy[i])
        return out
