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

"""Open-loop replay as a batched policy: each row plays back its own recorded actions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Replay:
    """
    Row ``i`` acts ``actions[i][t]`` at step ``t`` (float32[T_i, 2], m/s), zero after its end.

    It ignores what it sees: the actions were recorded elsewhere (a tabletop episode) and
    are played back from another start (the model's read of the scene, a jittered scene)
    or in imagination. ``reset`` only checks that there is one action list per episode.
    """

    def __init__(self, actions: Sequence[np.ndarray]):
        self.actions = [np.asarray(a, np.float32).reshape(-1, 2) for a in actions]

    def reset(self, episodes: Sequence) -> None:
        """Check that every episode has its recorded actions."""
        if len(episodes) != len(self.actions):
            raise ValueError(f'{len(episodes)} episodes to replay but {len(self.actions)} '
                             'recorded action lists')

    def act(self, observations) -> np.ndarray:
        """Return each row's recorded action at step ``observations.t``."""
        out = np.zeros((len(observations), 2), np.float32)
        for i, row in enumerate(observations.rows):
            if observations.t < len(self.actions[row]):
                out[i] = self.actions[row][observations.t]
        return out
