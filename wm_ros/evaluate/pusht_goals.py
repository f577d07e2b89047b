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
PushT goals a fixed number of expert steps ahead: the protocol the published planners report.

DINO-WM, PLDM and LeWM plan PushT toward the frame an expert trajectory reaches a fixed
number of steps (25) after the start frame, not toward PushT's own goal from its own
start. :func:`expert_tasks` builds such tasks on PushT itself: from each seed's start the
PushT expert (:class:`~wm_ros.policy.pusht_expert.PushTController`) runs; the task's
start is the first state (after ``warmup`` steps) from which the T moves at least
``min_move`` m or turns ``min_turn`` rad within ``goal_steps`` steps, its goal the state
``goal_steps`` steps later. The goal image is that state as PushT draws it (its green
goal marking where it always is, as in the expert's own frame), and :class:`GoalTasks`
starts PushT from the task's start and judges PushT's way on the task's goal: the T
covers more than 95 % of the T at that pose (:func:`coverage`, gym-pusht's own geometry).

Beside it, every step is also judged by **the published criterion** (:func:`published`,
DINO-WM's ``PushTWrapper.eval_state``, which PLDM and LeWM report on as well): in
gym-pusht's 512-unit workspace, the norm of the difference of the 4-vector (pusher x, y,
the T body's x, y) is below 20 units (1.95 cm on a 0.5 m board) and the T's angle is
within pi/9 (20 degrees) of the goal's. Toward PushT's own goal, which has no pusher
position, only the T's 2-vector counts. ``end_on`` says which verdict ends an episode
(``info['success']``): ``'coverage'`` (PushT's, the default), ``'published'``,
``'either'`` or ``'none'`` (every episode runs to its step limit, so that both verdicts
have the same chance); both are reported per step (``info['published']``,
``info['covered']``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wm_ros.episodes.pusht import PushTs
from wm_ros.episodes.seeds import episode_seed
from wm_ros.policy.pusht_expert import PushTController
from wm_ros.sim.pusht import PushTConfig, PushTEnv, t_pose_px, wrap
from wm_ros.sim.tasks import PUSHT


@dataclass(frozen=True)
class GoalTask:
    """One task: PushT state to start from, the T's goal pose, and the goal image."""

    k: int
    seed: int
    start: np.ndarray | None   # float[5]: ee x, y, T x, y, yaw (m, rad); None: the seed's
    goal: np.ndarray           # float[3]: the T's goal x, y, yaw
    goal_ee: np.ndarray        # float32[2]: the pusher in the goal image
    image: np.ndarray          # uint8[S, S, 3]: the goal image


def expert_tasks(episodes: int, seed: int, goal_steps: int, config: PushTConfig,
                 min_move: float = 0.02, min_turn: float = np.radians(10), warmup: int = 10,
                 search: int = 200) -> list[GoalTask]:
    """Return ``episodes`` tasks from the seed rule's seeds (module docstring)."""
    env = PushTEnv(config)
    expert = PushTController.for_board(config.board_half, config.max_speed,
                                       config.control_hz)
    tasks, k = [], 0
    try:
        while len(tasks) < episodes:
            s = episode_seed(seed, PUSHT, k)
            k += 1
            if k > 4 * episodes + 20:
                raise RuntimeError(f'the expert moved the T in only {len(tasks)} of {k - 1} '
                                   'episodes; lower min_move / min_turn')
            env.reset(seed=s)
            expert.reset()
            states = [env.state()]
            for _ in range(search + goal_steps):
                env.advance(expert.act(env.ee_xy(), env.block_states()[0]))
                states.append(env.state())
            states = np.array(states)
            a, b = states[warmup:search], states[warmup + goal_steps:search + goal_steps]
            moved = ((np.linalg.norm(b[:, 2:4] - a[:, 2:4], axis=1) > min_move)
                     | (np.abs(wrap(b[:, 4] - a[:, 4])) > min_turn))
            if not moved.any():
                continue
            t0 = int(np.argmax(moved))
            goal = b[t0]
            obs, _ = env.reset(seed=s, options={'state': goal})
            tasks.append(GoalTask(k - 1, s, a[t0], goal[2:].copy(), obs['ee_xy'],
                                  obs['image']))
    finally:
        env.close()
    return tasks


def coverage(env: PushTEnv, goal: np.ndarray) -> float:
    """Return how much (0..1) of a T at ``goal`` (x, y, yaw) ``env``'s T covers (gym-pusht's)."""
    from gym_pusht.envs.pusht import pymunk_to_shapely
    angle = -float(goal[2])
    origin = env.config.to_px(np.asarray(goal[:2])) - t_pose_px((0.0, 0.0), angle)[0]
    sim = env.sim
    target = pymunk_to_shapely(sim.get_goal_pose_body(np.array([*origin, angle])),
                               sim.block.shapes)
    return float(target.intersection(pymunk_to_shapely(sim.block, sim.block.shapes)).area
                 / target.area)


PUBLISHED_UNITS = 20.0            # DINO-WM: position norm below 20 of 512 workspace units
PUBLISHED_YAW = np.pi / 9         # ... and the T's angle within 20 degrees
END_ON = ('coverage', 'published', 'either', 'none')


def published(state, goal, config: PushTConfig,
              pusher: bool = True) -> tuple[bool, float, float]:
    """
    Return DINO-WM's verdict on ``state`` vs ``goal`` (both float[5], this module's frame).

    ``(success, position difference in workspace units, angle difference in degrees)``;
    positions as gym-pusht's state holds them: the pusher and the T *body's* origin (not
    its centroid) in pixels of the 512-unit workspace; ``pusher=False`` leaves the pusher out.
    """
    def gym(s) -> np.ndarray:
        s = np.asarray(s, np.float64)
        angle = -float(s[4])
        body = config.to_px(s[2:4]) - t_pose_px((0.0, 0.0), angle)[0]
        return np.concatenate([config.to_px(s[:2]) if pusher else [0.0, 0.0], body])
    units = float(np.linalg.norm(gym(state) - gym(goal)))       # workspace px: 512 across
    turn = float(np.degrees(np.abs(wrap(float(state[4]) - float(goal[4])))))
    return bool(units < PUBLISHED_UNITS and np.radians(turn) < PUBLISHED_YAW), units, turn


class GoalTasks(PushTs):
    """PushT rows started from their task's start state, judged on the task's goal."""

    def __init__(self, config: PushTConfig, tasks: Sequence[GoalTask],
                 end_on: str = 'coverage'):
        if end_on not in END_ON:
            raise ValueError(f'end_on must be one of {", ".join(END_ON)}, got {end_on!r}')
        super().__init__(config)
        self.tasks = {t.k: t for t in tasks}
        self.goals: list[GoalTask] = []
        self.end_on = end_on

    def reset(self, starts):
        """Put row i at the start of the task of ``starts[i].k``."""
        while len(self.envs) < len(starts):
            self.envs.append(PushTEnv(self.config))
        out, infos = [], []
        self.goals = [self.tasks[s.k] for s in starts]
        for env, s in zip(self.envs, starts):
            task = self.tasks[s.k]
            options = None if task.start is None else {'state': task.start}
            obs, info = env.reset(seed=s.seed, options=options)
            out.append(obs)
            infos.append(self._judged(env, info, task))
        self.running = np.arange(len(starts))
        return self._observations(out, infos), infos

    def step(self, actions, rows=None):
        """Step as PushT does; ``success`` and ``coverage`` are on each row's task goal."""
        observations, done, _, infos = super().step(actions, rows)
        infos = [self._judged(self.envs[r], info, self.goals[r])
                 for r, info in zip(self.running, infos)]
        return observations, done, np.array([i['success'] for i in infos], bool), infos

    def _judged(self, env: PushTEnv, info: dict, task: GoalTask) -> dict:
        own = task.start is None          # PushT's own start and goal: its coverage
        covered = info['coverage'] if own else coverage(env, task.goal)
        goal = np.concatenate([np.zeros(2) if own else task.goal_ee, task.goal])
        ok, units, turn = published(env.state(), goal, env.config, pusher=not own)
        hit = covered > env.sim.success_threshold
        success = {'coverage': hit, 'published': ok, 'either': hit or ok,
                   'none': False}[self.end_on]
        return dict(info, coverage=covered, covered=hit, published=ok, published_units=units,
                    published_deg=turn, success=success)


def own_tasks(starts, config: PushTConfig, images=None, ee=None) -> list[GoalTask]:
    """Return PushT's own episodes (its start for each seed, its goal) as tasks."""
    from wm_ros.sim.pusht import goal_state
    return [GoalTask(s.k, s.seed, None, goal_state(config), ee, images) for s in starts]
