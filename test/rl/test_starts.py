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

"""Start frames for RL: recorded episodes and bags give their first frames, nothing more."""

from __future__ import annotations

import json

import numpy as np

from wm_ros.cli import main
from wm_ros.episodes.tabletop import sample_starts
from wm_ros.rl import starts
from wm_ros.sim.bag import export_mcap
from wm_ros.sim.dataset import Episode, write_shard


def recorded(start, steps: int = 4) -> Episode:
    """Return an episode beginning at ``start``'s first frame, later frames all white."""
    images = np.full((steps + 1, *start.image.shape), 255, np.uint8)
    images[0] = start.image
    ee = np.repeat(start.ee[None], steps + 1, 0)
    return Episode(images, ee, np.zeros((steps, 2), np.float32), np.zeros(steps + 1, bool),
                   np.zeros((steps + 1, len(start.scene.blocks), 3), np.float32),
                   start.scene, start.task, seed=start.seed)


def test_first_frames_of_shards_and_bags(tmp_path):
    tabletop = sample_starts(('block_to_region', 'separate'), 3, seed=11)
    write_shard(tmp_path / 'shards' / 'shard-00000', [recorded(s) for s in tabletop])
    got = starts.from_data([tmp_path / 'shards'], limit=2, families=['block_to_region'])
    assert [s.task_family for s in got] == ['block_to_region'] * 2    # filter and limit
    for s, real in zip(got, tabletop):
        assert np.array_equal(s.image, real.image) and np.allclose(s.ee, real.ee)
        assert s.task.instruction == real.task.instruction
    export_mcap(recorded(tabletop[3]), tmp_path / 'one.mcap')
    bag = starts.from_data([tmp_path / 'one.mcap'], limit=5)
    assert len(bag) == 1 and np.array_equal(bag[0].image, tabletop[3].image)
    picked = starts.evenly(starts.from_data([tmp_path / 'shards'], 3), 4)
    assert [s.task_family for s in picked] == ['block_to_region', 'separate'] * 2


def test_rl_from_recorded_first_frames(tmp_path, capsys):
    tabletop = sample_starts(('block_to_region',), 2, seed=12)
    write_shard(tmp_path / 'data' / 'shard-00000', [recorded(s) for s in tabletop])
    assert main(['rl', '--config', 'tiny', '--quiet', '--set', 'shaping=0', '--starts',
                 str(tmp_path / 'data'), '--out', str(tmp_path / 'out')]) == 0
    doc = json.loads((tmp_path / 'out' / 'rl.json').read_text())
    assert doc['starts'] == [str(tmp_path / 'data')] and doc['pool'] == 2
    assert doc['judge'] == 'state' and len(doc['history']) == 2
