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
    start: np.ndarray          # float[5]: ee x, y, T x, y, yaw (m, rad)
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


class GoalTasks(PushTs):
    """PushT rows started from their task's start state, judged on the task's goal."""

    def __init__(self, config: PushTConfig, tasks: Sequence[GoalTask]):
        super().__init__(config)
        self.tasks = {t.k: t for t in tasks}
        self.goals: list[np.ndarray] = []

    def reset(self, starts):
        """Put row i at the start of the task of ``starts[i].k``."""
        while len(self.envs) < len(starts):
            self.envs.append(PushTEnv(self.config))
        out, infos = [], []
        self.goals = [self.tasks[s.k].goal for s in starts]
        for env, s in zip(self.envs, starts):
            obs, info = env.reset(seed=s.seed, options={'state': self.tasks[s.k].start})
            out.append(obs)
            infos.append(self._judged(env, info, self.tasks[s.k].goal))
        self.running = np.arange(len(starts))
        return self._observations(out, infos), infos

    def step(self, actions, rows=None):
        """Step as PushT does; ``success`` and ``coverage`` are on each row's task goal."""
        observations, done, _, infos = super().step(actions, rows)
        infos = [self._judged(self.envs[r], info, self.goals[r])
                 for r, info in zip(self.running, infos)]
        return observations, done, np.array([i['success'] for i in infos], bool), infos

    @staticmethod
    def _judged(env: PushTEnv, info: dict, goal: np.ndarray) -> dict:
        covered = coverage(env, goal)
        return dict(info, coverage=covered, success=covered > env.sim.success_threshold)
