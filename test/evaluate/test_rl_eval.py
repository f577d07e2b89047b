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

"""``wm-ros eval rl`` on a tiny run, its verdicts, and its section of ``wm-ros report``."""

from __future__ import annotations

import json
import shutil

import pytest

from wm_ros import artefacts
from wm_ros.cli import main
from wm_ros.episodes.seeds import episode_seed
from wm_ros.evaluate import rl
from wm_ros.rl.starts import TRAIN_SEED

FAMILIES = ('block_to_region', 'separate')


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """Return a finished tiny run of bc_full on two families (the shipped models)."""
    out = tmp_path_factory.mktemp('rl') / 'bc_full_rl'
    assert main(['rl', '--config', 'tiny', '--quiet', '--reward', str(artefacts.REWARD),
                 '--policy', 'bc_full', '--families', *FAMILIES, '--out', str(out)]) == 0
    return out


@pytest.fixture(scope='module')
def verified(run, tmp_path_factory):
    """Return the ``wm-ros eval rl`` of the tiny run: 2 episodes per family and side."""
    out = tmp_path_factory.mktemp('rl_eval')
    assert main(['eval', 'rl', '--run', str(run), '--episodes', '2', '--max-steps', '12',
                 '--max-steps-long', '12', '--out', str(out)]) == 0
    return out


def test_eval_rl_writes_before_after_and_the_exploit_gap(run, verified):
    result = json.loads((verified / 'rl_eval.json').read_text())
    assert list(result['families']) == list(FAMILIES)
    assert result['base'] == 'bc_full' and result['judge'] == 'state'
    assert result['robot_episodes_used'] == 0 and result['seed'] == rl.SEED
    for row in result['families'].values():
        assert {row[side]['n'] for side in rl.SIDES} == {2}
        assert row['gap_after_pts'] == pytest.approx(
            row['imagined_after']['pct'] - row['real_after']['pct'])
        assert row['verdict'] in ('improved', 'not improved', 'EXPLOITATION')
        lo, hi = row['real_after']['wilson_pct']
        assert 0 <= lo <= row['real_after']['pct'] <= hi <= 100
    # every episode's outcome, on seeds of the seed rule at the verification's seed
    assert len(result['episodes']) == 2 * len(FAMILIES)
    first = result['episodes'][0]
    assert first['seed'] == episode_seed(rl.SEED, first['family'], first['k'])
    assert sum(e['real_after'] for e in result['episodes'] if e['family'] == 'separate') \
        == result['families']['separate']['real_after']['k']
    # the learning curve comes from the run: update 0 (before) and the last (after)
    assert result['curve']['updates'] == [0, 2]
    assert result['curve']['train_updates'] == [1, 2]
    text = (verified / 'rl_eval.md').read_text()
    assert '| block_to_region |' in text and '| separate |' in text
    assert 'gap after (imagined - real)' in text and 'robot episodes used in training: 0' in text


def test_exploitation_fires_when_imagination_rises_and_reality_does_not():
    flat = rl.compare((20, 50), (21, 50), (20, 50), (40, 50))      # imagined +40 points
    assert flat['verdict'] == 'EXPLOITATION' and flat['gap_after_pts'] == 38.0
    real = rl.compare((20, 50), (40, 50), (20, 50), (42, 50))      # real +40 points too
    assert real['verdict'] == 'improved' and real['real_change_ci_pts'][0] > 0
    assert real['rise_target_met'] and real['gap_target_met']
    small = rl.compare((20, 50), (22, 50), (20, 50), (24, 50))     # imagined +8: no verdict
    assert small['verdict'] == 'not improved'
    down = rl.compare((25, 50), (10, 50), (25, 50), (45, 50))      # real fell, imagined rose
    assert down['verdict'] == 'EXPLOITATION' and not down['gap_target_met']


def test_the_markdown_names_the_exploited_family():
    rows = {'separate': rl.compare((10, 50), (10, 50), (10, 50), (30, 50)),
            'block_to_region': rl.compare((10, 50), (30, 50), (10, 50), (30, 50))}
    result = {'base': 'bc_full', 'run': 'out/rl/x', 'updates': 60, 'model': 'm',
              'judge': 'state', 'episodes_per_family': 50, 'seed': rl.SEED, 'seeds': 's',
              'max_steps': 120, 'max_steps_long': 400, 'robot_episodes_used': 0,
              'families': rows, 'mean': rl.means(rows)}
    lines = {line.split('|')[1].strip(): line for line in rl.markdown(result).splitlines()
             if line.startswith('| ')}
    assert lines['separate'].endswith('| EXPLOITATION |')
    assert lines['block_to_region'].endswith('| improved |')
    assert '+40.0' in lines['block_to_region'] and '+0.0' in lines['separate']


def test_the_report_draws_the_curve_and_the_table(verified, tmp_path, capsys):
    assert main(['report', '--rl', str(verified), '--out', str(tmp_path)]) == 0
    page = (tmp_path / 'report.html').read_text()
    section = page.split('Policy improvement in imagination (RL)')[1]
    assert '<img class="fig" src="data:image/png;base64,' in section       # the curve
    assert 'real before' in section and 'gap after (imagined - real)' in section
    assert '>block_to_region<' in section and '>separate<' in section
    assert 'width=device-width' in page and 'src="http' not in page       # self-contained
    assert json.loads((tmp_path / 'report.json').read_text())['rl']['seed'] == rl.SEED


def test_the_rl_section_follows_an_evaluation_s_page(tmp_path):
    from wm_ros.evaluate.report import write_report
    evaluation = {'config': {'policies': ['bc_full'], 'tasks': ['separate']}, 'cells': []}
    html, js = write_report(evaluation, tmp_path, sections=('<h2>RL here</h2>',),
                            extra={'rl': {'seed': 1}})
    page = html.read_text()
    assert page.index('World-model evaluation') < page.index('<h2>RL here</h2>')
    assert json.loads(js.read_text())['rl'] == {'seed': 1}


def test_a_label_free_run_is_verified_with_the_reward_model_as_judge(tmp_path):
    run = tmp_path / 'free'
    assert main(['rl', '--config', 'tiny', '--quiet', '--reward', str(artefacts.REWARD),
                 '--model', str(artefacts.FREE_SLOTS), '--out', str(run)]) == 0
    assert main(['eval', 'rl', '--run', str(run), '--episodes', '1', '--max-steps', '8',
                 '--max-steps-long', '8', '--out', str(tmp_path / 'eval')]) == 0
    result = json.loads((tmp_path / 'eval' / 'rl_eval.json').read_text())
    assert result['judge'] == 'reward' and result['model'] == str(artefacts.FREE_SLOTS)
    row = result['families']['block_to_region']
    assert row['imagined_before']['n'] == row['imagined_after']['n'] == 1


def refused(args, capsys) -> str:
    """Return the one stderr line of a refused command (exit 2, no traceback)."""
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in err
    return err


def test_refusals_are_one_line(run, tmp_path, capsys):
    assert 'is not an RL run' in refused(['eval', 'rl', '--run', str(tmp_path)], capsys)
    said = refused(['eval', 'rl', '--run', str(run), '--seed', str(TRAIN_SEED)], capsys)
    assert "the run's training starts" in said
    assert 'no RL verification' in refused(['report', '--rl', str(tmp_path)], capsys)
    cut = tmp_path / 'cut'
    shutil.copytree(run, cut)
    doc = json.loads((cut / 'rl.json').read_text())
    (cut / 'rl.json').write_text(json.dumps({**doc, 'finished': False}))
    assert '--resume' in refused(['eval', 'rl', '--run', str(cut)], capsys)
    (cut / 'rl.json').write_text(json.dumps({**doc, 'base': str(tmp_path / 'gone')}))
    assert 'gone' in refused(['eval', 'rl', '--run', str(cut)], capsys)     # base moved
    assert not (cut / 'eval').exists() and not (tmp_path / 'eval').exists()
