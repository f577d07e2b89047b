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

"""``wm-ros bench rl``: the parts of an update side by side and the acceptance run's clock."""

from __future__ import annotations

import json

import pytest

from wm_ros import artefacts
from wm_ros.cli import main
from wm_ros.rl.config import load_config

PARTS = {'policy': 2.0, 'world_model': 1.0, 'reward_model': 0.0, 'state_judge': 0.5,
         'update': 4.0}


def fake_run(path, config: dict) -> None:
    """Write the rl.json of a run of two updates, 1,000 steps and 10 s each."""
    path.mkdir()
    record = {'rollouts': 8, 'steps': 1000, 'trained_steps': 500, 'seconds': 10.0,
              'part_seconds': PARTS, 'success': 0.5}
    one = {'block_to_region': {'success_pct': 0.0, 'n': 1}, 'mean_pct': 0.0}  # 1 held start
    (path / 'rl.json').write_text(json.dumps({
        'config': config, 'imagined_before': one,
        'history': [{**record, 'update': 1}, {**record, 'update': 2}]}))


def test_parts_rates_and_the_projection_from_a_run(tmp_path, capsys):
    default = load_config('default')
    fake_run(tmp_path / 'run', default.to_dict())      # the acceptance config's limits
    assert main(['bench', 'rl', '--run', str(tmp_path / 'run'), '--json']) == 0
    out = capsys.readouterr().out
    rows = json.loads(out.strip().splitlines()[-1])
    parts = rows['measured']['parts']
    assert parts['update'] == 8.0 and parts['other'] == pytest.approx(5.0)   # 20 - 15 timed
    for name in ('policy', 'world_model', 'reward_model', 'state_judge', 'update', 'other'):
        assert any(line.startswith(name) for line in out.splitlines())
    assert 'imagined steps/s: 167 in the rollouts, 100 with the update' in out
    p = rows['projection']
    assert p['steps_basis'] == 'measured' and p['steps_per_rollout'] == 125.0
    # 16 x 8 rollouts x 125 steps at 6 ms, half trained x 2 epochs at 4 ms per trained step
    steps = default.starts * default.group * 125
    assert p['update_s'] == pytest.approx(steps * 0.006 + steps * 0.5 * 2 * 0.004, abs=0.1)
    assert p['total_s'] == pytest.approx(default.updates * p['update_s'] + p['eval_s'], abs=0.5)
    assert p['vs_goal'] == pytest.approx(p['total_s'] / 3600, abs=0.01)
    assert f"{p['vs_goal']:.2f}x the goal" in out


def test_another_config_s_run_projects_an_upper_bound(tmp_path, capsys):
    fake_run(tmp_path / 'run', load_config('tiny').to_dict())       # 12-step limits
    assert main(['bench', 'rl', '--run', str(tmp_path / 'run'), '--json']) == 0
    p = json.loads(capsys.readouterr().out.strip().splitlines()[-1])['projection']
    assert p['steps_basis'].startswith('upper bound') and p['steps_per_rollout'] == 190.0


def test_a_short_run_of_its_own(capsys):
    assert main(['bench', 'rl', '--config', 'tiny', '--reward', str(artefacts.REWARD)]) == 0
    out = capsys.readouterr().out
    assert out.startswith('a short run of config tiny (bc_full): 1 updates, 8 rollouts')
    assert 'world_model' in out and 'projected' in out and 'x the goal' in out


@pytest.mark.parametrize('args, says', [
    (['--run', '{tmp}'], 'is not an RL run'),
    (['--config', 'huge'], "has no section 'huge'"),
    (['--policy', 'nope'], 'nope'),
])
def test_refusals_are_one_line(tmp_path, capsys, args, says):
    args = [a.format(tmp=tmp_path) for a in args]
    assert main(['bench', 'rl', *args]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1 and 'Traceback' not in err
