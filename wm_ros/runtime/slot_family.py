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

"""The object-slot families' runtime side: object read-out, uncertainty, compact rollout."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from wm_ros.model.config import SLOT_KEYS
from wm_ros.runtime.base import Objects, State


class SlotFamily:
    """
    :class:`ObjectReadout` and :class:`Uncertainty` of the object-slot families.

    Also their rollout over the used slots only: when ``compact_slots`` (the step takes any
    number of slots), slots that are empty in every row are left out of the steps.
    """

    kinds: tuple[str, ...]
    compact_slots = True

    def _rollout(self, state: State, actions: np.ndarray) -> Iterator[State]:
        """
        Step only the slots that hold a block in some row (a planner's batch shares a scene).

        An empty slot neither moves nor acts on the others (every term of the step is
        masked by ``present``), so leaving out the slots empty in every row changes no
        block; the yielded states have all ``M`` slots, the left-out ones as they came in
        (``prev_pos`` = ``pos``). A scene of 4 blocks in 8 slots steps about 2x faster.
        """
        if not self.compact_slots:
            yield from super()._rollout(state, actions)
            return
        used = np.flatnonzero(state['present'].max(0) > 0.5)
        used = used if len(used) else np.zeros(1, int)   # the step needs a slot axis
        full = dict(zip(state.keys(), state.as_tuple()))
        full['prev_pos'] = full['pos']
        start = State({k: v[:, used] if k in SLOT_KEYS else v for k, v in full.items()})
        for step in self._steps(start, actions):
            out = {}
            for k, v in full.items():
                if k in SLOT_KEYS:
                    v = v.copy()
                    v[:, used] = step[k]
                else:
                    v = step[k]
                out[k] = v
            yield State(out)

    def objects(self, state: State) -> Objects:
        """Return the slots of ``state`` as :class:`Objects`."""
        return Objects(self.kinds, state['kind'], state['present'] > 0.5, state['pos'],
                       state['yaw'])

    def uncertainty(self, state: State) -> np.ndarray:
        """Return the ensemble spread of the last step, float32[B] (m; 0 after encode)."""
        return state['uncertainty']
