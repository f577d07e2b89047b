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

"""``tools/pusht_open_loop.py --contacts``: stalls and chained contacts in a recording."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'pusht_open_loop.py'


def _tool():
    spec = importlib.util.spec_from_file_location('pusht_open_loop', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _episode(ee, blocks):
    ee = np.asarray(ee, np.float32)
    actions = np.tile(np.array([[0.2, 0.0]], np.float32), (len(ee) - 1, 1))
    return SimpleNamespace(ee_xy=ee, actions=actions, dt=0.1,
                           block_states=np.asarray(blocks, np.float32))


def test_a_pusher_held_against_two_touching_blocks_counts_as_a_stall_at_a_chain():
    tool = _tool()
    # pushed +x at full speed: free for 2 steps (2 cm each), then held 3 steps at a block
    # whose neighbour touches it; then held at the board's edge far from any block
    ee = [[0.00, 0], [0.02, 0], [0.04, 0], [0.041, 0], [0.042, 0], [0.042, 0]]
    blocks = [[[0.09, 0, 0], [0.15, 0, 0]]] * len(ee)
    counts = tool.contacts([_episode(ee, blocks)])
    assert counts == {'commanded': 5, 'stalled': 3, 'stalled at a block': 3, 'at a chain': 3}
    edge = [[0.23, 0]] * 4
    counts = tool.contacts([_episode(edge, [[[-0.1, 0, 0], [-0.1, 0.1, 0]]] * 4)])
    assert counts['stalled'] == 3 and counts['stalled at a block'] == 0
