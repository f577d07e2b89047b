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
``ImaginationEnv``: B imagined episodes in one batched world model, any model family.

It speaks to the model only through the runtime contract (:mod:`wm_ros.runtime.base`):
``reset`` encodes the starts' first frames (each distinct start once) into one
:class:`~wm_ros.runtime.base.State`, ``step`` steps the running rows and decodes their
frames. A finished row is dropped from the state (``State.select``) before the next step,
so the batch shrinks as rows end. What only some families can do is checked with
``isinstance``:

* :class:`~wm_ros.runtime.base.ObjectReadout`: each row's task is judged on the imagined
  objects by a :class:`~wm_ros.reward.task_judge.TaskJudge` (``success``; ``can_judge``);
  the first frame's report (a named block missing or misread) is the reset info;
* :class:`~wm_ros.runtime.base.Uncertainty`: each step's info carries ``uncertainty``
  (the model's own error estimate, metres).

The reward model is not part of the environment: the driver's
:class:`~wm_ros.episodes.driver.Judging` scores the frames, the same on the tabletop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wm_ros.episodes.driver import PartClock
from wm_ros.episodes.env import running_subset, Start
from wm_ros.policy.base import Observations
from wm_ros.reward.task_judge import TaskJudge
from wm_ros.runtime.base import ObjectReadout, Uncertainty, WorldModelRuntime
from wm_ros.sim.tasks import UNKNOWN


class ImaginationEnv:
    """A world-model runtime as a batched environment (see the module docstring)."""

    def __init__(self, runtime: WorldModelRuntime, board_half: float = 0.25,
                 clock: PartClock | None = None):
        self.runtime, self.half = runtime, board_half
        self.can_judge = isinstance(runtime, ObjectReadout)
        self.clock = clock or PartClock()
        self.state = None
        self.running = np.zeros(0, np.int64)
        self.instructions: list[str] = []
        self.judges: list[TaskJudge | None] = []
        self.t = 0

    def reset(self, starts: Sequence[Start]) -> tuple[Observations, list[dict]]:
        """Encode the first frames (``start.image``, ``start.ee``); every row starts."""
        missing = [i for i, s in enumerate(starts) if s.image is None or s.ee is None]
        if missing:
            raise ValueError(f'imagination starts from a first frame: starts {missing} have '
                             'no image/ee (sample them on the tabletop or use '
                             'Start.from_frame)')
        order, unique = [], {}
        for s in starts:                     # each distinct start is encoded once
            order.append(unique.setdefault(id(s), len(unique)))
        firsts = list({id(s): s for s in starts}.values())
        first = self.runtime.encode(np.stack([s.image for s in firsts]),
                                    np.stack([s.ee for s in firsts]))
        self.state = first if len(firsts) == len(starts) else first.select(np.array(order))
        self.running, self.t = np.arange(len(starts)), 0
        self.instructions = [s.task.instruction for s in starts]
        self.judges = [None] * len(starts)
        infos = [{} for _ in starts]
        if self.can_judge:
            objects = self.runtime.objects(self.state)
            for row, s in enumerate(starts):
                if s.task.family != UNKNOWN:
                    self.judges[row] = TaskJudge(s.task, self.runtime.kinds, self.half)
                    infos[row] = self.judges[row].start(objects, row)
        images, ee = self.runtime.decode(self.state)
        return self._observations(images, ee), infos

    def step(self, actions: np.ndarray, rows: np.ndarray | None = None
             ) -> tuple[Observations, np.ndarray, np.ndarray, list[dict]]:
        """Step the rows ``rows`` (default: all running) by ``actions`` float32[R, 2] (m/s)."""
        if self.state is None:
            raise RuntimeError('call reset() before step()')
        if rows is not None and not np.array_equal(rows, self.running):
            self.state = self.state.select(running_subset(self.running, rows))
            self.running = np.asarray(rows, np.int64)
        actions = np.asarray(actions, np.float32)
        if actions.shape != (len(self.running), 2):
            raise ValueError(f'actions must be float32[{len(self.running)}, 2] (one per '
                             f'running row, m/s), got {list(actions.shape)}')
        with self.clock('world_model'):
            self.state = self.runtime.step(self.state, actions[:, None])
            images, ee = self.runtime.decode(self.state)
        self.t += 1
        with self.clock('state_judge'):
            success, infos = self.verdicts()
        return (self._observations(images, ee), np.zeros(len(self.running), bool), success,
                infos)

    def close(self) -> None:
        """Drop the state."""
        self.state = None

    def _observations(self, images: np.ndarray, ee: np.ndarray) -> Observations:
        return Observations(images, ee.astype(np.float32),
                            tuple(self.instructions[r] for r in self.running), self.t,
                            self.running.copy())

    def verdicts(self) -> tuple[np.ndarray, list[dict]]:
        """Return each running row's imagined-state verdict and info on the current state."""
        success = np.zeros(len(self.running), bool)
        infos = [{} for _ in self.running]
        if self.can_judge:
            objects = self.runtime.objects(self.state)
            for i, r in enumerate(self.running):
                if self.judges[r] is not None:
                    infos[i] = self.judges[r].judge(objects, i)
                    success[i] = infos[i]['success']
        if isinstance(self.runtime, Uncertainty):
            for info, u in zip(infos, self.runtime.uncertainty(self.state)):
                info['uncertainty'] = float(u)
        return success, infos
