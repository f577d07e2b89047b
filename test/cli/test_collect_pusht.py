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

"""``wm-ros collect --robot pusht``: PushT shards the existing loader reads."""

import numpy as np

from wm_ros.cli import main
from wm_ros.sim.dataset import iter_episodes


def test_collect_pusht_writes_shards_of_the_t(tmp_path, capsys):
    out = tmp_path / 'd'
    assert main(['collect', '--robot', 'pusht', '--out', str(out), '--episodes', '2',
                 '--max-steps', '6', '--image-size', '32', '--mix', 'explore=1']) == 0
    episodes = list(iter_episodes(out))
    assert len(episodes) == 2 and {e.task.family for e in episodes} == {'pusht'}
    assert {e.behaviour for e in episodes} == {'explore'}
    for e in episodes:
        assert len(e) == 6 and e.images.shape == (7, 32, 32, 3)
        assert e.block_states.shape == (7, 1, 3) and np.isfinite(e.block_states).all()
        assert e.instruction == 'push the T onto the green T'
    assert f'wrote 1 shard(s) to {out}' in capsys.readouterr().out
