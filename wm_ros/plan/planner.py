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
The hierarchical planner: instruction -> sub-goals -> receding-horizon MPC in the world model.

``start(instruction, image, ee)`` recognises the blocks in the camera frame through the
model's object read-out, or, for a family without one (or when given), through a block
detector trained on tabletop frames (:mod:`wm_ros.plan.detector`: the camera frame
directly, imagined states rendered first), splits the instruction into tasks and each task
into sub-goals (:mod:`wm_ros.plan.decompose`); an impossible instruction raises
``PlanRefused`` before anything moves. ``act(image, ee)`` is then called once per control
period with the newest frame (the robot's camera, or the imagination's): it re-encodes the
frame, tracks each block by name (:func:`~wm_ros.reward.matching.match_names` with the
last positions as a prior), advances to the next sub-goal when the current one is done,
and, when its queue of planned actions is empty, plans the current sub-goal with the
sampling solver (:class:`~wm_ros.plan.solver.Solver` on a
:class:`~wm_ros.plan.mpc.SubgoalCost`) and queues the first ``execute`` actions of the
best sequence (receding horizon; the solver is warm-started from the rest of it).

A block the current sub-goal needs but the frame does not show (under the pusher, or
read as another kind) is not planned blind: the pusher backs off (back along its last
planned action, else away from where the block was last seen) and looks again (``lost``
counts these steps); while a block is lost it is looked for by kind alone, not near where
it was last seen, since it may have been pushed while hidden. A block that stays unseen
for ``back_off_steps`` (pushed against another block, the encoder no longer separates
the two) is planned from the world model's *belief*: the state of the last frame that
showed every needed block, stepped with every action executed since (``believed`` counts
these plans), for at most ``belief_steps`` actions after the block was last seen; then
it backs off again until the sub-goal's budget runs out. Sub-goals and tasks are only
judged done on what the camera shows.

A sub-goal that is not done within ``step_budget`` actions, or a task still unsolved when
its sub-goals run out, is re-decomposed from the newest frame, at most ``retries`` times;
then the planner reports failure and commands zero. With ``hierarchical: false`` each
task is planned whole (:class:`~wm_ros.plan.mpc.TaskCost`): the flat-MPC baseline.

With a reward model (``judge``), the last sub-goal of each task is also scored by it
(:mod:`wm_ros.plan.judging`: ``judged``, ``rejudged``, ``judged_done``).

After every plan the chosen sequence is rolled out once more and decoded: ``video``
(frames of the imagined future), ``plan_paths`` (pusher and block paths, for markers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import time

import numpy as np

from wm_ros.plan.decompose import Decomposer, PlanRefused, scene_of, Step, steps_for
from wm_ros.plan.detector import DetectedObjects, Detector, ReadoutDetector
from wm_ros.plan.judging import judge_frame, rerank
from wm_ros.plan.mpc import CostWeights, pusher_path, SubgoalCost, TaskCost
from wm_ros.plan.solver import Solver, SolverConfig
from wm_ros.reward.matching import match_names, unique_names
from wm_ros.runtime.base import ObjectReadout, WorldModelRuntime
from wm_ros.sim.tasks import Task

__all__ = ['HierarchicalPlanner', 'load_config', 'PlannerConfig', 'PlanRefused']


@dataclass(frozen=True)
class PlannerConfig:
    """Planner settings (``config/plan.yaml``; ``tiny`` for tests)."""

    solver: SolverConfig = field(default_factory=SolverConfig)
    weights: CostWeights = field(default_factory=CostWeights)
    execute: int = 3             # actions executed per plan before replanning
    step_budget: int = 90        # actions per sub-goal before it is re-decomposed
    retries: int = 3             # re-decompositions before the planner gives up
    hierarchical: bool = True    # false: flat MPC on each task (no sub-goals)
    video: bool = True           # decode the chosen plan after every plan
    board_half: float = 0.25
    detector_read_every: int = 6  # with a detector: read imagined blocks every n-th step
    judge_weight: float = 0.3     # with a reward model: cost of a plan it judges a failure
    judge_candidates: int = 8     # with a reward model: best candidates it re-ranks
    back_off_steps: int = 3       # a needed block unseen: back off this many steps first,
    belief_steps: int = 40        # then plan from the belief, this many actions at most

    def __post_init__(self):
        if not 1 <= self.execute <= self.solver.horizon:
            raise ValueError(f'execute must be in [1, horizon={self.solver.horizon}]')


def load_config(section: str = 'default', path=None, **overrides) -> PlannerConfig:
    """Return ``section`` of ``config/plan.yaml`` (or ``path``) with ``overrides``."""
    from wm_ros import config as config_io
    return config_io.load(PlannerConfig, path or config_io.config_dir() / 'plan.yaml',
                          section, **overrides)


class HierarchicalPlanner:
    """Plans and executes an instruction in the world model (module docstring)."""

    def __init__(self, runtime: WorldModelRuntime, config: PlannerConfig = PlannerConfig(),
                 decomposer: Decomposer | None = None,
                 detector: Detector | ReadoutDetector | None = None,
                 judge=None):
        if detector is not None:
            runtime = DetectedObjects(runtime, detector, config.detector_read_every)
        elif not isinstance(runtime, ObjectReadout):
            raise ValueError(f'the planner reads the blocks out of the world model, and '
                             f'{type(runtime).__name__} has no object read-out: give it a '
                             'block detector (--detector DIR / the detector parameter): a '
                             'world model with an object read-out, such as the shipped '
                             'wm_ros/models/world_model, or a `wm-ros train detector` '
                             'directory')
        self.runtime, self.config, self.judge = runtime, config, judge
        self.decomposer = decomposer or Decomposer()
        solver = config.solver
        if abs(solver.bound - runtime.max_speed) > 1e-9:
            from dataclasses import replace
            solver = replace(solver, bound=runtime.max_speed)
        self.solver = Solver(solver)
        self.instruction = ''
        self._last_image: np.ndarray | None = None
        self.names: list[str] = []
        self.tasks: list[Task] = []
        self.steps: list[Step] = []
        self.video = np.zeros((0, runtime.image_size, runtime.image_size, 3), np.uint8)
        self.plan_paths: dict[str, np.ndarray] = {}
        self._reset_progress()

    def _reset_progress(self):
        self.task_index = self.step_index = self.retries = self.steps_on_step = 0
        self.queue: list[np.ndarray] = []
        self.xy: dict[str, np.ndarray] = {}
        self.done = self.failed = False
        self.message = ''
        self.plans = self.lost = self.rejudged = self.lost_run = self.believed = 0
        self._belief = None          # (state, match) of the last full view
        self._since: list[np.ndarray] = []   # actions executed since that view (capped)
        self.last_action = np.zeros(2, np.float32)
        self.plan_seconds: list[float] = []
        self.judged = self.judged_done = None   # reward model: P(success) of plan / frame

    # ------------------------------------------------------------------ perception
    def _perceive(self, image: np.ndarray, ee: np.ndarray):
        self._last_image = np.asarray(image)
        state = self.runtime.encode(image, ee)
        objects = self.runtime.objects(state)
        present, kinds = objects.present[0], objects.names(0)
        if not self.names:                                   # first frame: name every block
            slots = [int(j) for j in np.flatnonzero(present)]
            self.names = unique_names([kinds[j] for j in slots], {}, self.runtime.kinds)
            match = dict(zip(self.names, slots))
        else:
            # looking for a lost block: by kind alone (it may have moved while hidden)
            prior = (dict(self.xy) or None) if not self.lost_run else None
            match = match_names(self.names, kinds, present, objects.pos[0], prior).slot
        for n, j in match.items():
            self.xy[n] = objects.pos[0, j].astype(np.float64)
        return state, match

    def _scene_xy(self) -> tuple:
        names = [n for n in self.names if n in self.xy]
        xy = np.array([self.xy[n] for n in names]).reshape(-1, 2)
        return scene_of(names, xy), xy

    # ------------------------------------------------------------------ task logic
    def start(self, instruction: str, image: np.ndarray, ee: np.ndarray) -> list[Step]:
        """Recognise the scene, decompose ``instruction``; return the sub-goals of task 1."""
        self.names, self.instruction = [], instruction
        self._reset_progress()
        self._perceive(image, ee)
        self.tasks = self.decomposer.tasks(instruction, self.names)
        self.solver.reset()
        self._decompose()
        return list(self.steps)

    def _decompose(self):
        task = self.tasks[self.task_index]
        scene, xy = self._scene_xy()
        if self.config.hierarchical:
            self.steps = steps_for(task, scene, xy, self.config.board_half)
        else:
            self.steps = [Step(task.instruction, task.blocks[0] if task.blocks else '',
                               task=task)]
        self.step_index = self.steps_on_step = 0
        self.queue = []
        self.solver.reset()

    def task_done(self, task: Task) -> bool:
        """Return whether ``task`` holds on the block positions read from the camera."""
        scene, xy = self._scene_xy()
        try:
            return bool(task.success(scene, xy, self.config.board_half))
        except ValueError:          # a named block not seen now
            return False

    def _advance(self) -> None:
        """Move to the next sub-goal / task / retry as the newest positions say."""
        while not (self.done or self.failed):
            task = self.tasks[self.task_index]
            if self.task_done(task):
                if self.task_index + 1 < len(self.tasks):
                    self.task_index += 1
                    self._decompose()
                    continue
                undone = [k for k, t in enumerate(self.tasks) if not self.task_done(t)]
                if not undone:
                    self.done, self.message = True, 'done'
                    self._judge_done()
                    return
                self.task_index = undone[0]  # a later task undid an earlier one: redo it
                if self._retry(self.tasks[undone[0]]):
                    return
                continue
            step = self.steps[self.step_index] if self.step_index < len(self.steps) else None
            if step is not None and self.config.hierarchical and step.done(self.xy):
                self.step_index += 1
                self.steps_on_step, self.queue = 0, []
                self.solver.reset()
                continue
            if step is None or self.steps_on_step >= self.config.step_budget:
                if self._retry(task):
                    return
                continue
            return

    def _retry(self, task: Task) -> bool:
        """Re-decompose the current task from the newest frame; True when out of retries."""
        self.retries += 1
        if self.retries > self.config.retries:
            self.failed = True
            self.message = (f'gave up on "{task.instruction}" after {self.config.retries} '
                            're-decompositions')
            return True
        self._decompose()
        return False

    # ------------------------------------------------------------------ control
    def act(self, image: np.ndarray, ee: np.ndarray) -> np.ndarray:
        """Return the next action ``float32[2]`` (m/s) for the newest frame and pusher."""
        if not self.tasks:
            raise RuntimeError('call start(instruction, image, ee) before act()')
        if self.done or self.failed:
            return np.zeros(2, np.float32)
        state, match = self._perceive(image, ee)
        self._advance()
        if self.done or self.failed:
            return np.zeros(2, np.float32)
        ee = np.asarray(ee, np.float64)
        missing = [n for n in self._needed() if n not in match]
        if not missing:                 # a full view: the belief starts again from it
            self._belief, self._since = (state, match), []
        if not self.queue:
            if not missing:
                self.lost_run = 0
                self._plan(state, match, ee)
            elif self._believable():    # long unseen (against another block?): the belief
                self.lost_run += 1
                self.believed += 1
                self._plan(*self.belief(), ee)
            else:                       # hidden (under the pusher?): back off, look again
                self.lost_run += 1
                self.queue = [self._back_off(ee, missing[0])]
        self.steps_on_step += 1
        action = self.queue.pop(0)
        if not self.lost_run:
            self.last_action = action
        if self._belief is not None and len(self._since) < self.config.belief_steps:
            self._since.append(action)
        return action

    def _believable(self) -> bool:
        """Return whether a lost block may be planned from the belief now."""
        return (self._belief is not None and self.lost_run >= self.config.back_off_steps
                and len(self._since) < self.config.belief_steps
                and all(n in self._belief[1] for n in self._needed()))

    def belief(self) -> tuple:
        """
        Return ``(state, match)``: the last full view stepped with every action since.

        The actions are kept and rolled out in one call only when the belief is used, so
        the common case (every needed block in view) costs no world-model step.
        """
        state, match = self._belief
        if self._since:
            state = self.runtime.step(state, np.stack(self._since)[None].astype(np.float32))
        return state, match

    def _needed(self) -> list[str]:
        """Return the blocks the current plan must see in the frame."""
        if self.config.hierarchical:
            step = self.steps[self.step_index]
            return [n for n in (step.block, step.anchor) if n]
        return list(self.tasks[self.task_index].blocks)

    def _back_off(self, ee: np.ndarray, name: str) -> np.ndarray:
        """
        Return half speed back along the last planned action, else away from ``name``.

        A block pushed while hidden is in front of the pusher; with no push yet, the pusher
        backs away from where ``name`` was last seen.
        """
        self.lost += 1
        away = (-self.last_action.astype(np.float64) if np.any(self.last_action)
                else ee - self.xy.get(name, np.zeros(2)))
        away = away / max(float(np.linalg.norm(away)), 1e-6)
        return (0.5 * self.runtime.max_speed * away).astype(np.float32)

    def _cost(self, state, match, ee):
        c = self.config
        task = self.tasks[self.task_index]
        if c.hierarchical:
            return SubgoalCost(self.runtime, state, ee, match, self.steps[self.step_index],
                               c.board_half, c.weights)
        return TaskCost(self.runtime, state, ee, match, task, c.board_half, c.weights)

    def _plan(self, state, match, ee) -> None:
        t0 = time.perf_counter()
        cost = self._cost(state, match, ee)
        best, info = self.solver.solve(cost)
        best = self._rejudge(state, best, info)
        self.plans += 1
        k = self.config.execute
        self.queue = [a.astype(np.float32) for a in best[:k]]
        self.solver.mean = best.astype(np.float32)
        self.solver.shift(k)
        self.plan_seconds.append(time.perf_counter() - t0)
        self.last_cost = info['cost']
        if self.config.video:
            self._render(state, match, ee, best)

    def _judge_text(self) -> str:
        """Return what the reward model judges now: the task, on its last sub-goal."""
        if self.judge is None:
            return ''
        if self.config.hierarchical and self.step_index < len(self.steps) - 1:
            return ''                  # a sub-goal short of the task: nothing to judge yet
        return self.tasks[self.task_index].instruction

    def _rejudge(self, state, best: np.ndarray, info: dict) -> np.ndarray:
        """Re-rank the best candidates by the reward model on their imagined last frames."""
        text = self._judge_text()
        if not text or info.get('ranked') is None:
            return best
        best, self.judged, moved = rerank(self.runtime, self.judge, state, best, info, text,
                                          self.config.judge_candidates,
                                          self.config.judge_weight)
        self.rejudged += int(moved)
        return best

    def _judge_done(self) -> None:
        """Ask the reward model whether the camera frame shows every task done."""
        if self.judge is not None and self._last_image is not None:
            self.judged_done = judge_frame(self.judge, self._last_image,
                                           [t.instruction for t in self.tasks])

    def _render(self, state, match, ee, best: np.ndarray) -> None:
        frames, blocks = [], {n: [] for n in match}
        for s in self.runtime.rollout(state, best[None]):
            images, _ = self.runtime.decode(s)
            frames.append(images[0])
            pos = self.runtime.objects(s).pos[0]
            for n, j in match.items():
                blocks[n].append(pos[j])
        self.video = np.stack(frames)
        self.plan_paths = {
            'pusher': pusher_path(ee, best[None], 1.0 / self.runtime.control_hz,
                                  self.config.board_half)[0],
            **{n: np.array(p) for n, p in blocks.items()}}

    def status(self) -> dict:
        """Return where the planner is: task and sub-goal, progress, done / failed."""
        step = (self.steps[self.step_index] if self.steps and self.step_index < len(self.steps)
                else None)
        return {'instruction': self.instruction,
                'task': self.task_index + 1 if self.tasks else 0, 'tasks': len(self.tasks),
                'subgoal': step.text if step else '', 'step': self.step_index + 1,
                'steps': len(self.steps), 'subgoals': [s.text for s in self.steps],
                'retries': self.retries, 'done': self.done, 'failed': self.failed,
                'message': self.message, 'plans': self.plans, 'lost': self.lost,
                'believed': self.believed,
                'judged': self.judged, 'judged_done': self.judged_done,
                'rejudged': self.rejudged}
