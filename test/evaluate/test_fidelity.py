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
``wm-ros eval fidelity`` on data without object labels: a robot's bag, no /sim/block_poses.

Objects are measured by discovery in the real and the predicted frames; what cannot be
computed is named with its reason, and its checks are not checked rather than failed.
"""

import dataclasses
import json
import math
import warnings

import numpy as np
import pytest
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from wm_ros import artefacts
from wm_ros.cli import main as cli
from wm_ros.episodes.collect import collect
from wm_ros.evaluate import fidelity, fidelity_checks
from wm_ros.model.data import load_episodes
from wm_ros.runtime import load_runtime
from wm_ros.sim.bag import export_mcap, typestore
from wm_ros.sim.scene import Scene

LABELS = ('/sim/block_poses', '/task/spec')


def strip_labels(src, dst):
    """Copy the bag ``src`` to ``dst`` without its object labels (what a robot records)."""
    ts = typestore()
    with Reader(src) as reader, Writer(dst, version=9,
                                       storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {c.id: writer.add_connection(c.topic, c.msgtype, typestore=ts)
                 for c in reader.connections if c.topic not in LABELS}
        for conn, ns, raw in reader.messages():
            if conn.id in conns:
                writer.write(conns[conn.id], ns, raw)
    return dst


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """Return (labelled shard dir, label-free bags of the same episodes)."""
    out = tmp_path_factory.mktemp('fidelity')
    collect(out / 'shards', 3, seed=11, max_steps=60, progress=False)
    episodes, _ = load_episodes([out / 'shards'])
    bags = [strip_labels(export_mcap(ep, out / f'labelled{k}'), out / f'robot{k}')
            for k, ep in enumerate(episodes)]
    return out / 'shards', bags


def without_labels(episodes):
    """Return ``episodes`` with their scene and block poses removed."""
    return [dataclasses.replace(ep, scene=Scene(()),
                                block_states=np.zeros((len(ep) + 1, 0, 3), np.float32))
            for ep in episodes]


def run_cli(argv, capsys):
    """Run ``wm-ros`` with every RuntimeWarning an error; return (exit code, stdout)."""
    with warnings.catch_warnings():
        warnings.simplefilter('error', RuntimeWarning)
        code = cli(argv)
    return code, capsys.readouterr().out


def test_a_label_free_bag_is_measured_by_discovery_and_says_what_it_cannot(
        data, tmp_path, capsys):
    code, out = run_cli(['eval', 'fidelity', '--model', str(artefacts.FREE_SLOTS), '--data',
                         *map(str, data[1]), '--out', str(tmp_path)], capsys)
    assert code == 0, out
    assert 'objects measured by discovery' in out and 'nan' not in out.lower()
    assert ('n/a at horizon 1, 4, 8, 16, 32: uncertainty_spearman_state_error, '
            'state_error_median_pct, kind_miss_rate, reencode_kind_accuracy, '
            'drawn_kind_legibility: the model family reads no objects out') in out
    assert ('"drawn_kind_h1_ge_97pct": "not checked (drawn_kind_legibility at 1: the model '
            'family reads no objects out') in out
    report = json.loads((tmp_path / 'fidelity.json').read_text())
    h16 = report['horizons']['16']
    # the pushed objects are measured, and the model beats copy-last on them
    assert h16['moved_blocks'] > 3
    assert h16['moved_error_median_pct'] < 0.5 * h16['moved_error_copy_last_median_pct']
    assert report['acceptance']['drawn_kind_h1_ge_97pct'] is None
    assert report['acceptance']['moved_h16_le_3pct'] is True
    assert set(report['not_checked']) == {'drawn_kind_h1_ge_97pct',
                                          'reencode_true_kind_h1_ge_97pct'}


def test_labels_missing_are_named_for_a_family_that_reads_objects_out(data, tmp_path, capsys):
    """The supervised family reads objects out: only the figures needing true kinds are n/a."""
    topics = tmp_path / 'topics.yaml'
    topics.write_text('{image: /camera/image_raw, command: /ee_twist_cmd, pose: /ee_pose}')
    code, out = run_cli(['eval', 'fidelity', '--model', str(artefacts.WORLD_MODEL), '--data',
                         *map(str, data[1]), '--topics', str(topics), '--out', str(tmp_path)],
                        capsys)
    assert code == 0, out
    assert ('uncertainty_spearman_state_error, state_error_median_pct, kind_miss_rate, '
            'reencode_kind_accuracy: the data has no object labels') in out
    report = json.loads((tmp_path / 'fidelity.json').read_text())
    assert report['acceptance']['drawn_kind_h1_ge_97pct'] is True      # needs no labels
    assert report['not_checked'] == {'reencode_true_kind_h1_ge_97pct': (
        'reencode_kind_accuracy at 1: ' + fidelity_checks.NO_LABELS)}
    assert math.isfinite(report['horizons']['1']['uncertainty_spearman_image_mse'])


def test_discovery_measures_what_labels_measure(data):
    """
    On the same frames, discovery and labels agree on the blocks' motion and the model's.

    They agree on how far blocks moved and how well the model follows them (labels locate
    only blocks of a colour of their own: fewer).
    """
    runtime = load_runtime(artefacts.FREE_SLOTS, 'torch')
    episodes, _ = load_episodes([data[0]])
    with warnings.catch_warnings():
        warnings.simplefilter('error', RuntimeWarning)
        labelled = fidelity.evaluate(runtime, episodes, horizons=(8,), stride=2)
        found = fidelity.evaluate(runtime, without_labels(episodes), horizons=(8,), stride=2)
    assert labelled['objects_measured_by'] == fidelity_checks.BY_LABELS
    assert found['objects_measured_by'] == fidelity_checks.BY_DISCOVERY
    a, b = labelled['horizons'][8], found['horizons'][8]
    assert b['blocks'] > a['blocks'] > 5 and b['moved_blocks'] > a['moved_blocks'] > 5
    copy = 'moved_error_copy_last_median_pct'
    assert 0.6 < b[copy] / a[copy] < 1.6
    for r in (a, b):
        assert r['moved_error_median_pct'] < 0.5 * r[copy]
    assert a['vanish_rate'] == b['vanish_rate'] == 0.0
    # labelled data: every object figure is computed; the checks needing 16 steps are not
    assert not set(a['not_computed']) & set(fidelity_checks.OBJECT_KEYS
                                            + fidelity_checks.MOVED_KEYS)
    assert labelled['not_checked']['moved_h16_le_3pct'] == 'horizon 16 was not evaluated'


def test_a_model_error_undefined_because_everything_vanished_fails_its_checks():
    row = {'moved_error_median_pct': math.nan, 'moved_error_copy_last_median_pct': 4.0,
           'not_computed': {'moved_error_median_pct': fidelity_checks.ALL_VANISHED}}
    report = {'horizons': {16: row}}
    acceptance, not_checked = fidelity_checks.checks(report, (8, 16))
    assert acceptance['moved_h16_le_3pct'] is False
    assert acceptance['moved_ratio_h16_le_0.7'] is False
    assert not_checked['psnr_gain_h8_ge_3db'] == ('no 8-step predictions: no start has 8 '
                                                  'recorded steps after it')
    assert fidelity_checks.checks(report, (16,))[1]['psnr_gain_h8_ge_3db'] == (
        'horizon 8 was not evaluated')
    assert not_checked['ee_error_h16_lt_5pct'] == 'ee_error_pct at 16: undefined'


def test_a_pusht_bag_is_measured_with_the_scene_the_model_learned(tmp_path):
    """The border and the goal marking are not objects: only the T is (issue 27)."""
    from wm_ros.evaluate.discovered import Finder
    from wm_ros.model import free_slots
    from wm_ros.model.free_slots_train import learn_scene
    from wm_ros.runtime.free_slots_backend import TorchFreeSlotsRuntime
    from wm_ros.sim import pusht
    from wm_ros.sim.dataset import iter_episodes
    collect(tmp_path / 'pusht', 8, seed=3401, config=pusht.PushTConfig(), max_steps=30,
            progress=False, robot='pusht')
    episodes = list(iter_episodes(tmp_path / 'pusht'))
    cfg = learn_scene(episodes[:6], free_slots.load_config('tiny'))
    learned = Finder.for_runtime(TorchFreeSlotsRuntime(free_slots.FreeSlotsModel(cfg)), 0.25)
    frames = [(ep.images[t], ep.ee_xy[t]) for ep in episodes[6:] for t in range(0, 30, 3)]
    counts = {name: np.array([len(f(image, ee).pos) for image, ee in frames])
              for name, f in (('learned', learned), ('frame median', Finder()))}
    assert (counts['learned'] == 1).mean() >= 0.95, counts       # the T, whole
    assert (counts['frame median'] > 1).mean() >= 0.5, counts     # border, goal as objects
    # a model file from before (no learned scene) measures as it did
    shipped = load_runtime(artefacts.FREE_SLOTS, 'torch')
    assert Finder.for_runtime(shipped, 0.25) == Finder()
