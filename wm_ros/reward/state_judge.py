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
``ImaginedStateJudge``: success judged on the objects a world model imagines.

For runtimes with the :class:`~wm_ros.runtime.base.ObjectReadout` capability (object-slot
families), it wraps one :class:`~wm_ros.reward.task_judge.TaskJudge` per batch row:
``start(state, tasks)`` names the slots on the first state (returns what was missing or
misread per row), ``judge(state) -> bool[B]`` applies each row's task's physics check to
the imagined block centres. It is the second judge beside the pixel classifier: free of
any vision error of its own, but only as right as the model's object read-out, and only
for families that have one (others raise a :class:`TypeError` at construction).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wm_ros.reward.task_judge import TaskJudge
from wm_ros.runtime.base import ObjectReadout, State
from wm_ros.sim.tasks import Task


class ImaginedStateJudge:
    """Judge B tasks on B rows of imagined states (see the module docstring)."""

    def __init__(self, runtime, board_half: float = 0.25):
        if not isinstance(runtime, ObjectReadout):
            raise TypeError(f'{type(runtime).__name__} has no ObjectReadout capability '
                            '(objects(state), kinds): the imagined-state judge reads objects '
                            'out of the state; judge pixels with a RewardModel instead')
        self.runtime, self.board_half = runtime, float(board_half)
        self.judges: list[TaskJudge] = []

    def start(self, state: State, tasks: Sequence[Task]) -> list[dict]:
        """Name each row's slots for its task; return per row what was missing or misread."""
        if len(tasks) != state.batch:
            raise ValueError(f'need one task per state row: {state.batch} rows, '
                             f'{len(tasks)} tasks')
        objects = self.runtime.objects(state)
        self.judges = [TaskJudge(t, self.runtime.kinds, self.board_half) for t in tasks]
        return [j.start(objects, row) for row, j in enumerate(self.judges)]

    def verdicts(self, state: State, rows: Sequence[int] | None = None) -> list[dict]:
        """Return TaskJudge's verdict dict (``success``, ``block_xy``, ...) for ``rows``."""
        if not self.judges:
            raise RuntimeError('call start(state, tasks) before judging')
        if state.batch != len(self.judges):
            raise ValueError(f'state has {state.batch} rows, the judge was started on '
                             f'{len(self.judges)}')
        objects = self.runtime.objects(state)
        rows = range(state.batch) if rows is None else rows
        return [self.judges[r].judge(objects, int(r)) for r in rows]

    def judge(self, state: State, rows: Sequence[int] | None = None) -> np.ndarray:
        """Return bool[len(rows)] (default: every row): each row's task solved in ``state``."""
        return np.array([v['success'] for v in self.verdicts(state, rows)], bool)
