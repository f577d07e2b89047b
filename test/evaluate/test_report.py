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

"""The evaluation report: a self-contained page with every number, robust to gaps."""

import base64
import json
import os
from pathlib import Path
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest

from wm_ros.cli import main
from wm_ros.evaluate.report import load_evaluation, verdicts, write_report

CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'


def png(path: Path, colour) -> str:
    from PIL import Image
    img = np.zeros((64, 256, 3), np.uint8)
    img[:, :] = colour
    img[20:40, 100:140] = 255 - np.asarray(colour)
    Image.fromarray(img).save(path)
    return path.read_bytes()


def synthetic(tmp_path: Path) -> dict:
    """Return an evaluation dict with known numbers (and write its strip PNGs)."""
    (tmp_path / 'strips').mkdir()
    cells = []
    for p, base in (('expert', 0.8), ('noisy', 0.5), ('slow', 0.2)):
        for t, dt in (('block_to_region', 0.0), ('separate', 0.1)):
            real, imag = base - dt, base - dt + 0.04
            cells.append({'policy': p, 'task': t, 'n': 25, 'real': real,
                          'real_ci': [real - 0.15, real + 0.12], 'real_judged': real - 0.02,
                          'imagined': imag, 'imagined_ci': [imag - 0.1, imag + 0.1],
                          'imagined_state': imag + 0.01 if t != 'separate' else float('nan'),
                          'gap': 0.04})
    png(tmp_path / 'strips/expert-separate-0-real.png', (200, 30, 30))
    png(tmp_path / 'strips/expert-separate-0-imagined.png', (30, 30, 200))
    return {
        'config': {'policies': ['expert', 'noisy', 'slow'], 'tasks': ['block_to_region',
                   'separate'], 'episodes': 25, 'seed': 5000, 'model': 'models/wm',
                   'judge': 'models/reward'},
        'cells': cells,
        'summary': {'pearson': 0.987, 'spearman': 0.943, 'mmrv': 0.012,
                    'mean_abs_gap': 0.04, 'cells': 6},
        'judges': {'real': {'tp': 40, 'fp': 3, 'tn': 100, 'fn': 7, 'accuracy': 0.933,
                            'fpr': 0.029, 'fnr': 0.149},
                   'imagined': {'tp': 38, 'fp': 5, 'tn': 90, 'fn': 2, 'accuracy': 0.948,
                                'fpr': 0.053, 'fnr': 0.05}},
        'ood': [{'policy': p, 'edit': e, 'task': 'block_to_region', 'n': 25, 'real_base': 0.8,
                 'real_edit': 0.8 + rc, 'imagined_base': 0.84, 'imagined_edit': 0.84 + ic,
                 'real_change': rc, 'imagined_change': ic,
                 'agree': None if abs(rc) <= 0.1 else bool(np.sign(rc) == np.sign(ic))}
                for p, e, rc, ic in (('expert', 'recolour', -0.32, -0.28),
                                     ('expert', 'distractor', -0.04, 0.02),
                                     ('noisy', 'recolour', -0.2, 0.08),
                                     ('noisy', 'distractor', -0.16, -0.12))],
        'ood_summary': {'pairs': 3, 'agree': 2, 'rate': 2 / 3},
        'strips': [{'policy': 'expert', 'task': 'separate', 'episode': 0,
                    'real': 'strips/expert-separate-0-real.png',
                    'imagined': 'strips/expert-separate-0-imagined.png',
                    'real_success': True, 'imagined_success': False,
                    'instruction': 'separate the red cube and the blue moon'}],
        'timing': {'tabletop_s': 120.5, 'imagine_s': 8.25},
    }


def test_report_holds_the_figures_numbers_and_verdicts(tmp_path):
    ev = synthetic(tmp_path)
    html_path, json_path = write_report(ev, tmp_path / 'report', tmp_path)
    page = html_path.read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 6        # scatter, bars, OOD heatmap, confusion, 2 strip images
    assert all(base64.b64decode(i)[:8] == b'\x89PNG\r\n\x1a\n' for i in images)
    strip = base64.b64encode((tmp_path / 'strips/expert-separate-0-real.png').read_bytes())
    assert strip.decode() in page and 'file://' not in page and '<img src="strips' not in page
    for text in ('<td>0.987</td>', '<td>0.012</td>', '<td>4.0</td>', '<td>67 %</td>',
                 '<td>93 %</td>', '70 % [55, 82]', '74 % [64, 84]', '<td>+4.0</td>',
                 '<td>-32.0</td>', '<td>n/a</td>', 'Spearman 0.943',
                 'separate the red cube and the blue moon', 'real success, imagined failure'):
        assert text in page, text
    checks = verdicts(ev)
    assert [checks[k]['met'] for k in ('pearson', 'mmrv', 'mean_abs_gap', 'ood_agreement')] \
        == [True, True, True, False]
    assert checks['judge_real_accuracy']['met'] is False            # 93.3 % < 95 %
    assert page.count('class="met"') == 4 and page.count('class="miss"') == 2


def test_report_json_round_trips_every_number(tmp_path):
    ev = synthetic(tmp_path)
    _, json_path = write_report(ev, tmp_path, tmp_path)
    data = json.loads(json_path.read_text())                        # strict JSON, no NaN
    back = data['evaluation']
    assert back['summary'] == ev['summary'] and back['judges'] == ev['judges']
    assert back['cells'][1]['imagined_state'] is None               # NaN -> null
    assert back['cells'][0] == ev['cells'][0] and back['ood'] == ev['ood']
    assert data['targets']['pearson'] == {'label': data['targets']['pearson']['label'],
                                          'value': 0.987, 'direction': '>=', 'threshold': 0.9,
                                          'met': True}


def test_missing_sections_still_render(tmp_path):
    ev = synthetic(tmp_path)
    bare = {'config': ev['config'], 'cells': ev['cells'][:2],
            'summary': {'pearson': float('nan'), 'mmrv': None}}
    page = write_report(bare, tmp_path / 'a')[0].read_text()
    for note in ('no OOD edits', 'no judge statistics', 'no rollout strips'):
        assert note in page
    assert page.count('class="met"') == 0 and 'n/a' in page
    page = write_report({}, tmp_path / 'b')[0].read_text()
    assert 'no cells' in page and 'no configuration' in page
    ev['strips'][0]['imagined'] = 'strips/gone.png'                  # a strip file is missing
    page = write_report(ev, tmp_path / 'c', tmp_path)[0].read_text()
    assert 'imagined: no image (strips/gone.png)' in page


def test_cli_report_and_missing_evaluation(tmp_path, capsys):
    ev = synthetic(tmp_path)
    (tmp_path / 'evaluation.json').write_text(json.dumps(ev))
    assert load_evaluation(tmp_path)['summary']['pearson'] == 0.987
    assert main(['report', '--evaluation', str(tmp_path)]) == 0
    assert (tmp_path / 'report.html').is_file() and (tmp_path / 'report.json').is_file()
    assert main(['report', '--evaluation', str(tmp_path / 'nowhere')]) == 2
    err = capsys.readouterr().err
    assert 'no evaluation at' in err and 'evaluation.json' in err and 'wm-ros evaluate' in err


@pytest.mark.skipif(not os.path.exists(CHROMIUM),
                    reason=f'chromium is not installed ({CHROMIUM} missing): the headless '
                    'screenshot check is skipped; `apt-get install chromium` as root, which '
                    '.ci/run does when it runs as root on Debian')
def test_page_renders_in_a_headless_browser(tmp_path):
    html_path, _ = write_report(synthetic(tmp_path), tmp_path, tmp_path)
    shot = tmp_path / 'shot.png'
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu',
                               '--disable-background-networking',
                               '--disable-component-update', '--disable-sync',
                               '--no-first-run', f'--user-data-dir={profile}',
                               f'--screenshot={shot}', '--window-size=1200,3000',
                               html_path.resolve().as_uri()], timeout=120,
                              capture_output=True, text=True)
    assert done.returncode == 0 and shot.exists(), (
        f'chromium exited {done.returncode} without a screenshot: {done.stderr[-2000:]}')
    from PIL import Image
    img = np.asarray(Image.open(shot).convert('RGB')).astype(float)
    assert img.shape[:2] == (3000, 1200)
    assert img.std() > 20 and (img.sum(-1) < 600).mean() > 0.02    # figures and text drawn
    assert (img[:, :, 0] - img[:, :, 2] > 100).sum() > 500          # the red strip frame shows
