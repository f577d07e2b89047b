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


"""``wm-ros collect`` through the command line: shards written, and what it prints."""

from wm_ros.cli import main
from wm_ros.sim.dataset import iter_episodes


def test_collect_writes_the_episodes_asked_for(tmp_path, capsys):
    out = tmp_path / 'd'
    assert main(['collect', '--out', str(out), '--episodes', '2', '--max-steps', '5',
                 '--tasks', 'separate', '--shard-size', '1']) == 0
    episodes = list(iter_episodes(out))
    assert len(episodes) == 2 and {e.task.family for e in episodes} == {'separate'}
    assert all(1 <= len(e) <= 5 for e in episodes)      # --max-steps 5
    assert f'wrote 2 shard(s) to {out}' in capsys.readouterr().out
