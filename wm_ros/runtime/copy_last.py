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
``copy_last``: the baseline model family that predicts that nothing but the pusher moves.

A second family behind the same contract, with a state of its own (``frame``
uint8[B,S,S,3], ``ee`` float32[B,2]) and no object read-out or uncertainty: the pusher
follows the clipped command kinematically, the frame stays the last real one. It is the
copy-last baseline of the fidelity report as a runtime, and the proof that consumers
(``ImaginedEnv``, the evaluator, the nodes) work with any family: they find it through
the registry by ``format`` and never read its fields. ``save(dir, ...)`` writes its
``model.json``; there are no weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from wm_ros.model.config import ModelFileError
from wm_ros.runtime.base import CheckedRuntime, State, StateSpec

FORMAT, FORMAT_VERSION = 'wm_ros.copy_last', 1


def save(out_dir: str | Path, image_size: int = 64, control_hz: float = 10.0,
         max_speed: float = 0.2, board_half: float = 0.25) -> Path:
    """Write a copy-last model directory (``model.json`` only)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    s = image_size
    meta = {'format': FORMAT, 'format_version': FORMAT_VERSION, 'image_size': s,
            'control_hz': control_hz, 'board_half': board_half,
            'action_scale': {'max_speed_m_s': max_speed, 'units': 'm/s, clipped per axis'},
            'state': {'frame': {'shape': [s, s, 3], 'dtype': 'uint8'},
                      'ee': {'shape': [2], 'dtype': 'float32'}},
            'capabilities': []}
    (out / 'model.json').write_text(json.dumps(meta, indent=2))
    return out


class CopyLastRuntime(CheckedRuntime):
    """Runtime of a ``copy_last`` model directory (numpy, whichever backend is asked)."""

    backend = 'numpy'

    def __init__(self, model_dir: str | Path, **_ignored):
        path = Path(model_dir) / 'model.json'
        try:
            meta = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelFileError(f'{path} is not a readable model.json: {exc}') from None
        if meta.get('format') != FORMAT or meta.get('format_version') != FORMAT_VERSION:
            raise ModelFileError(f'{path} is not a {FORMAT} v{FORMAT_VERSION} model')
        self.image_size, self.control_hz = int(meta['image_size']), float(meta['control_hz'])
        self.max_speed = float(meta['action_scale']['max_speed_m_s'])
        self.board_half = float(meta['board_half'])
        self.state_spec = StateSpec.from_metadata(meta)

    def _encode(self, images, ee) -> State:
        return State({'frame': images.copy(), 'ee': ee.copy()})

    def _step(self, state: State, action) -> State:
        ee = state['ee'] + action / self.control_hz
        ee = np.clip(ee, -self.board_half, self.board_half).astype(np.float32)
        return State({'frame': state['frame'], 'ee': ee})

    def _decode(self, state: State):
        return state['frame'].copy(), state['ee'].copy()
