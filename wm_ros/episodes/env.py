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
The batched environment protocol: B episodes at once, from starts, each ending on its own.

``reset(starts) -> (Observations, infos)`` starts one episode per :class:`Start`;
``step(actions float32[R, 2], rows int[R]) -> (Observations, done bool[R], success
bool[R], infos)`` advances the R rows ``rows`` (ascending; a subset of the rows still
running: a row left out is finished and never stepped again) by one control period.
:class:`~wm_ros.policy.base.Observations` carry ``rows``, so every array lines up with
them. ``success`` is the environment's own verdict this step (the physics oracle on the
tabletop, the imagined-state judge in imagination, where the model can read objects out:
``can_judge``); ``done`` says the environment ended a row itself (a robot fault); the
simulators never do, since step limits and judges belong to the driver
(:func:`wm_ros.episodes.driver.run_episodes`).

Implementations: :class:`~wm_ros.episodes.tabletop.Tabletops` (MuJoCo tabletops in this
process; :func:`~wm_ros.episodes.tabletop.run_on_tabletop` spreads chunks of episodes
over a pool of processes) and :class:`~wm_ros.episodes.imagination.ImaginationEnv` (one
batched world model through the runtime contract, any family).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from wm_ros.policy.base import Observations
from wm_ros.sim.scene import Scene
from wm_ros.sim.tasks import Task, UNKNOWN


@dataclass
class Start:
    """
    One episode's start: a tabletop seed (and its scene, task, first frame) or a frame.

    ``image`` uint8[S, S, 3] and ``ee`` float32[2] are the first frame and pusher position
    (imagination starts from them); ``scene`` is the true scene where one exists (the
    tabletop resets to it; perceiving experts get it as their task); ``policy_seed`` seeds
    the policy's own random stream (default: ``seed``).
    """

    task_family: str
    k: int
    seed: int
    scene: Scene | None
    task: Task
    image: np.ndarray | None = None
    ee: np.ndarray | None = None
    policy_seed: int | None = None

    def __post_init__(self):
        if self.policy_seed is None:
            self.policy_seed = self.seed

    @classmethod
    def from_frame(cls, image: np.ndarray, ee, instruction: str | Task, k: int = 0,
                   seed: int = 0) -> 'Start':
        """Return a start from a real first frame, pusher position and instruction (or task)."""
        task = instruction if isinstance(instruction, Task) else Task(UNKNOWN, instruction)
        return cls(task.family, k, seed, None, task, np.asarray(image),
                   np.asarray(ee, np.float32))


@dataclass(frozen=True)
class Limits:
    """
    When an episode ends without a verdict, and how long it goes on after one.

    A row stops at ``max_steps`` control steps (``max_steps_long`` for long-horizon task
    families); after a success it goes on for ``settle`` more steps with the policy still
    acting (the closed-loop check's replay covers them), then ends.
    """

    max_steps: int = 120
    max_steps_long: int = 400
    settle: int = 0

    def __post_init__(self):
        if self.max_steps < 1 or self.max_steps_long < 1:
            raise ValueError(f'step limits must be >= 1, got {self.max_steps} and '
                             f'{self.max_steps_long}')
        if self.settle < 0:
            raise ValueError(f'settle must be >= 0 steps, got {self.settle}')

    def steps(self, task: Task) -> int:
        """Return the step limit of ``task``."""
        return self.max_steps_long if task.long_horizon else self.max_steps


@dataclass
class EpisodeResult:
    """
    One episode's outcome.

    ``success``: the verdict that ends episodes (sticky); ``steps``: control steps up to it
    (or the limit); ``settle_steps`` after it; ``env_success`` the environment's own
    verdict at any step (None where it cannot judge) and ``final_success`` at the last
    step; ``judged`` the reward model's verdict (None without one) and ``passed_run`` the
    most frames in a row it passed; ``frames`` uint8[T+1, S, S, 3] when asked; ``info``
    the environment's last info (plus what ``on_episode`` adds), ``start_info`` its first.
    """

    success: bool
    steps: int
    settle_steps: int = 0
    env_success: bool | None = None
    final_success: bool = False
    judged: bool | None = None
    passed_run: int = 0
    seconds: float = 0.0
    frames: np.ndarray | None = field(default=None, repr=False)
    info: dict = field(default_factory=dict, repr=False)
    start_info: dict = field(default_factory=dict, repr=False)


@runtime_checkable
class BatchEnv(Protocol):
    """B episodes at once (see the module docstring)."""

    can_judge: bool          # whether ``success`` is a verdict (else always False)

    def reset(self, starts: Sequence[Start]) -> tuple[Observations, list[dict]]:
        """Start one episode per start; rows are ``0..B-1``."""

    def step(self, actions: np.ndarray, rows: np.ndarray | None = None
             ) -> tuple[Observations, np.ndarray, np.ndarray, list[dict]]:
        """Advance ``rows`` (default: every row still running) by ``actions`` float32[R, 2]."""

    def close(self) -> None:
        """Free what the environment holds."""


def running_subset(running: np.ndarray, rows) -> np.ndarray:
    """Return the positions of ``rows`` in ``running``; raise unless it is an ordered subset."""
    rows = np.asarray(rows, np.int64)
    pos = np.searchsorted(running, rows)
    if len(rows) and (pos.max() >= len(running) or not np.array_equal(running[pos], rows)
                      or np.any(np.diff(rows) <= 0)):
        raise ValueError(f'rows {rows.tolist()} are not an ascending subset of the running rows '
                         f'{running.tolist()}: a finished row cannot be stepped again')
    return pos


class SimRows:
    """
    B one-row gymnasium environments of one robot in this process, stepped in lockstep.

    The part :class:`~wm_ros.episodes.tabletop.Tabletops` and
    :class:`~wm_ros.episodes.pusht.PushTs` share: subclasses say how one row resets
    (:meth:`_reset_row`) and may add the true poses a scripted policy reads
    (:meth:`_truth`); ``success`` is the simulator's own verdict.
    """

    can_judge = True

    def __init__(self, make_env):
        self._make_env = make_env
        self.envs: list = []
        self.running = np.zeros(0, np.int64)

    def _reset_row(self, env, start: Start) -> tuple[dict, dict]:
        """Reset ``env`` to ``start``; return gymnasium's ``(observation, info)``."""
        raise NotImplementedError

    def _truth(self, infos: list[dict]) -> tuple:
        """Return the physics fields of :class:`Observations` after ``rows``: block_xy."""
        return (tuple(i['block_xy'] for i in infos),)

    def reset(self, starts: Sequence[Start]) -> tuple[Observations, list[dict]]:
        """Put environment i at ``starts[i]`` (:meth:`_reset_row`); every row runs."""
        while len(self.envs) < len(starts):
            self.envs.append(self._make_env())
        out, infos = [], []
        for env, s in zip(self.envs, starts):
            obs, info = self._reset_row(env, s)
            out.append(obs)
            infos.append(info)
        self.running = np.arange(len(starts))
        return self._observations(out, infos), infos

    def step(self, actions: np.ndarray, rows: np.ndarray | None = None
             ) -> tuple[Observations, np.ndarray, np.ndarray, list[dict]]:
        """Step the rows ``rows`` (default: all running) by ``actions`` float32[R, 2] m/s."""
        self.running, out, infos = step_each(self.envs, self.running, actions, rows)
        success = np.array([info['success'] for info in infos], bool)
        return self._observations(out, infos), np.zeros(len(infos), bool), success, infos

    def close(self) -> None:
        """Free every environment (and its renderer)."""
        for env in self.envs:
            env.close()
        self.envs = []

    def _observations(self, obs: list[dict], infos: list[dict]) -> Observations:
        return Observations(np.stack([o['image'] for o in obs]),
                            np.stack([o['ee_xy'] for o in obs]).astype(np.float32),
                            tuple(i['instruction'] for i in infos), int(infos[0]['t']),
                            self.running.copy(), *self._truth(infos))


def step_each(envs: Sequence, running: np.ndarray, actions: np.ndarray, rows=None
              ) -> tuple[np.ndarray, list[dict], list[dict]]:
    """
    Step ``envs[r]`` of every running row (``rows``: the new running subset) by its action.

    ``actions`` float32[R, 2] m/s, one per running row. Returns the running rows, and each
    row's observation and info (for batch environments of one-row gymnasium envs).
    """
    if rows is not None and not np.array_equal(rows, running):
        running_subset(running, rows)
        running = np.asarray(rows, np.int64)
    actions = np.asarray(actions, np.float32)
    if actions.shape != (len(running), 2):
        raise ValueError(f'actions must be float32[{len(running)}, 2] (one per '
                         f'running row, m/s), got {list(actions.shape)}')
    out, infos = [], []
    for r, a in zip(running, actions):
        obs, _, _, _, info = envs[r].step(a)
        out.append(obs)
        infos.append(info)
    return running, out, infos
