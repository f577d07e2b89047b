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
``PerceptionExpert``: the scripted expert acting on *images*, so it runs on any stream.

Block positions come from the world model's encoder (it names each block's kind: colour
and shape), the pusher position from the observation, the task and block names from the
task spec. Because it sees only the image and ``ee_xy``, it cannot tell a real camera
frame from an imagined one: that is what lets the ``policy`` node switch between them.
Each block of the task is found among what the encoder read by best match (kind and
distance to where it was last seen, :func:`~wm_ros.reward.matching.match_names`), so a
block read as another kind, or two blocks read as one kind, do not lose it; a block the
encoder does not see keeps its last known position. The runtime must have the
:class:`~wm_ros.runtime.base.ObjectReadout` capability.
"""

from __future__ import annotations

import numpy as np

from wm_ros.interfaces import Observation
from wm_ros.policy.expert import ExpertController
from wm_ros.reward.matching import match_names
from wm_ros.runtime.base import ObjectReadout, WorldModelRuntime
from wm_ros.sim.scene import Scene
from wm_ros.sim.tasks import Task


class PerceptionExpert:
    """:class:`Policy` from pixels: encoder perception + :class:`ExpertController`."""

    def __init__(self, runtime: WorldModelRuntime, board_half: float = 0.25,
                 max_speed: float = 0.2, control_hz: float = 10.0):
        if not isinstance(runtime, ObjectReadout):
            raise TypeError(f'the perception expert reads objects out of the model state; '
                            f'{type(runtime).__name__} cannot (no ObjectReadout capability)')
        self.runtime, self.half = runtime, board_half
        self.vmax, self.hz = max_speed, control_hz
        self.controller: ExpertController | None = None
        self.known: np.ndarray | None = None

    def set_task(self, scene: Scene, task: Task):
        """Start a task in ``scene`` (block names and the first poses; poses are re-seen)."""
        self.controller = ExpertController(scene, task, self.half, self.vmax, self.hz,
                                           settle=True)
        self.known = np.array([[b.x, b.y] for b in scene.blocks], np.float64)

    def reset(self):
        """Forget the plan (keeps the task)."""
        if self.controller is not None:
            self.controller.reset()

    def perceive(self, image: np.ndarray, ee_xy: np.ndarray) -> dict[str, np.ndarray]:
        """Return ``{block name: xy}`` for the task's blocks the encoder finds in ``image``."""
        objects = self.runtime.objects(self.runtime.encode(image, ee_xy))
        names = self.controller.scene.names if self.controller else []
        prior = dict(zip(names, self.known)) if self.known is not None else None
        match = match_names(names, objects.names(0), objects.present[0], objects.pos[0], prior)
        return {n: objects.pos[0, j].astype(np.float64) for n, j in match.slot.items()}

    def act(self, observation: Observation) -> np.ndarray:
        """Return the expert's velocity (m/s) for what the image shows."""
        if self.controller is None:
            return np.zeros(2, np.float32)
        seen = self.perceive(observation.image, observation.ee_xy)
        for j, name in enumerate(self.controller.scene.names):
            if name in seen:
                self.known[j] = seen[name]
        v = self.controller.act(np.asarray(observation.ee_xy, np.float64), self.known)
        return np.asarray(v, np.float32)
