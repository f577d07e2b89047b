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
``TaskJudge``: a tabletop task judged on the objects a world model reads out of its state.

Used wherever imagined episodes are scored on imagined objects (the imagined-state judge,
the closed-loop trust check, the imagined tabletop environment).
"""

from __future__ import annotations

import numpy as np

from wm_ros.reward.matching import match_names, unique_names
from wm_ros.runtime.base import Objects
from wm_ros.sim.scene import Block, Scene
from wm_ros.sim.tasks import Task, TaskError


class TaskJudge:
    """
    Judge a task on the objects of one batch row of imagined states.

    :meth:`start` names the slots once (best match of the task's blocks, unique names for
    the rest); slot identities persist through the dynamics, so later steps reuse them. A
    named block that a step's objects do not show (a detector reading a frame where it
    touches a neighbour or hides under the pusher) is judged where it was last seen and
    listed under ``unseen``.
    """

    def __init__(self, task: Task, kinds: tuple[str, ...], board_half: float = 0.25):
        self.task, self.kinds, self.half = task, kinds, board_half
        self.names: list[str] = []
        self.slots: list[int] = []
        self.report: dict = {}

    def start(self, objects: Objects, row: int = 0) -> dict:
        """Name the slots of ``objects[row]``; return what was missing or misread."""
        present = objects.present[row]
        kinds = objects.names(row)
        match = match_names(list(self.task.blocks), kinds, present)
        self.slots = [int(j) for j in np.flatnonzero(present)]
        own = [kinds[j] for j in self.slots]
        taken = {self.slots.index(j): n for n, j in match.slot.items()}
        self.names = unique_names(own, taken, self.kinds)
        self.last_xy = np.asarray(objects.pos[row, self.slots], np.float64)   # last seen
        self.report = {}
        if match.missing:
            self.report['missing'] = match.missing
        if match.misread:
            self.report['misread'] = match.misread
        return dict(self.report)

    def judge(self, objects: Objects, row: int = 0) -> dict:
        """Return ``{'success': bool, 'block_xy': float[N, 2], ...report}`` for ``row``."""
        info = dict(self.report)
        if len(self.slots) < (3 if self.task.long_horizon else 1):
            return dict(info, success=False, hallucination=f'the model sees '
                        f'{len(self.slots) or "no"} block(s), too few to judge')
        seen = np.asarray(objects.present[row, self.slots], bool)
        xy = np.asarray(objects.pos[row, self.slots], np.float64)
        if not seen.all():            # not in this frame (hidden, touching a neighbour):
            xy = np.where(seen[:, None], xy, self.last_xy)       # where it was last seen
            info['unseen'] = [n for n, ok in zip(self.names, seen) if not ok]
        self.last_xy = xy
        info['block_xy'] = xy
        if 'missing' in info or not np.all(np.isfinite(xy)):
            return dict(info, success=False)
        try:
            scene = Scene(tuple(Block(*n.split(' '), float(p[0]), float(p[1]))
                                for n, p in zip(self.names, xy)))
            info['success'] = bool(self.task.success(scene, xy, self.half))
        except (ValueError, TaskError) as exc:     # a name outside the tabletop vocabulary
            info.update(success=False, hallucination=str(exc))
        return info
