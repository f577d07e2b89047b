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

"""``wm-ros evaluate``: its statistics against hand-computed values, and the suite end to end."""

import math

import numpy as np
import pytest

from wm_ros.evaluate import ood, summary
from wm_ros.evaluate.evaluator import EvalConfig, episode_seed, starts


def _rec(policy, task, real, imagined, judged=None, state=None):
    return {'policy': policy, 'task': task, 'real': real, 'imagined': imagined,
            'real_judged': real if judged is None else judged,
            'imagined_state': imagined if state is None else state}


def test_confusion_counts_by_hand():
    c = summary.confusion([1, 1, 0, 0, 1, 0], [1, 0, 0, 1, 1, None])
    assert (c['tp'], c['fp'], c['tn'], c['fn']) == (2, 1, 1, 1)      # the None row is skipped
    assert c['accuracy'] == pytest.approx(3 / 5)
    assert c['fpr'] == pytest.approx(1 / 2) and c['fnr'] == pytest.approx(1 / 3)
    assert math.isnan(summary.confusion([True], [True])['fpr'])       # no negatives: n/a


def test_agreement_by_hand():
    a = summary.agreement([0.2, 0.8, 0.5], [0.3, 0.6, 0.5])
    assert a['mean_abs_gap'] == pytest.approx((0.1 + 0.2 + 0.0) / 3)
    assert a['mmrv'] == 0.0 and a['spearman'] == pytest.approx(1.0)
    assert a['pearson'] == pytest.approx(np.corrcoef([0.2, 0.8, 0.5], [0.3, 0.6, 0.5])[0, 1])
    swapped = summary.agreement([0.2, 0.8], [0.8, 0.2])
    assert swapped['mmrv'] == pytest.approx(0.6) and swapped['cells'] == 2


def test_cells_and_judges_from_records():
    records = ([_rec('a', 't', True, True)] * 3 + [_rec('a', 't', False, True, state=False)]
               + [_rec('b', 't', False, False, judged=True)] * 2)
    out = summary.summarise(records, {'policies': ['a', 'b'], 'tasks': ['t'], 'seed': 0},
                            {'tabletop_s': 10.0, 'imagine_s': 2.0, 'tabletop_steps': 400,
                             'imagined_steps': 300})
    a, b = out['cells']
    assert (a['real'], a['imagined'], a['gap']) == (0.75, 1.0, 0.25)
    assert a['imagined_state'] == 0.75 and b['real_judged'] == 1.0
    assert out['judges']['real']['fp'] == 2 and out['judges']['imagined']['fp'] == 1
    assert out['timing']['speedup_vs_tabletop'] == pytest.approx(5.0)
    assert out['timing']['speedup_vs_real_time'] == pytest.approx(400 / 10 / 2.0)


def test_ood_row_counts_only_real_changes_over_ten_points():
    before = [_rec('a', 't', True, True), _rec('a', 't', False, True)]     # 0.5 real, 1.0 imag
    row = ood._row('a', 'recolour', ['t'], before, real_edit=0.0, imagined_edit=0.5)
    assert row['real_change'] == -0.5 and row['imagined_change'] == -0.5 and row['agree']
    row = ood._row('a', 'recolour', ['t'], before, real_edit=0.0, imagined_edit=1.0)
    assert row['agree'] is False                                         # no imagined drop
    assert ood._row('a', 'x', ['t'], before, 0.55, 0.0)['agree'] is None  # 5 points: noise


def test_starts_are_the_same_for_every_run_and_differ_between_episodes():
    config = EvalConfig.tiny(('bc_50',))
    one, two = starts(config, 64), starts(config, 64)
    assert [s.seed for s in one] == [s.seed for s in two]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(one, two))
    assert len({s.seed for s in one}) == len(one) == 4
    assert episode_seed(5000, 'separate', 0) != episode_seed(5001, 'separate', 0)


def test_strip_and_strict_json():
    frames = np.arange(5 * 2 * 2 * 3, dtype=np.uint8).reshape(5, 2, 2, 3)
    s = summary.strip(frames, 3)
    assert s.shape == (2, 6, 3) and np.array_equal(s[:, 2:4], frames[2])
    assert summary.finite({'a': [float('nan'), np.float32(1.5)]}) == {'a': [None, 1.5]}
