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

"""Issue 12: the block detector, and planning with a family that has no object read-out."""

import json

import numpy as np
import pytest

from wm_ros.model.config import ModelFileError
from wm_ros.plan import detector as block_detector
from wm_ros.plan.detector import DEFAULT_DETECTOR, DetectedObjects, KINDS
from wm_ros.plan.detector_train import frames_and_labels, measure
from wm_ros.runtime.base import ObjectReadout


@pytest.fixture(scope='module')
def episodes(tmp_path_factory):
    """Return the root of new tabletop shards (seeds no shipped model trained on)."""
    from wm_ros.episodes.collect import collect
    root = tmp_path_factory.mktemp('detector')
    collect(root / 'train', 8, seed=31, mix={'expert': 1.0}, shard_size=8, max_steps=50,
            progress=False)
    collect(root / 'heldout', 3, seed=37, mix={'expert': 1.0}, shard_size=3, max_steps=50,
            progress=False)
    return root


@pytest.fixture(scope='module')
def shipped():
    """Return the default detector: the shipped world model read as a frame reader."""
    return block_detector.load(DEFAULT_DETECTOR)


@pytest.fixture(scope='module')
def latent_runtime():
    """Return a latent-grid runtime: no object read-out (untrained is enough here)."""
    from wm_ros.model import latent
    from wm_ros.runtime.latent_backend import TorchLatentRuntime
    return TorchLatentRuntime(latent.LatentWorldModel(latent.load_config('tiny')))


def test_shipped_detector_finds_every_block_on_fresh_frames(shipped, episodes):
    images, present, pos = frames_and_labels([episodes / 'heldout'], 1)
    m = measure(shipped, images, present, pos)
    assert m['presence_accuracy'] > 0.97, m
    assert m['frames_all_kinds_right'] > 0.8, m
    assert m['position_error_cm_mean'] < 1.0, m          # blocks are 4-5 cm across


def test_a_tiny_detector_trains_and_is_measured_on_held_out_frames(episodes, tmp_path):
    from wm_ros.cli import main as cli
    out = tmp_path / 'det'
    assert cli(['train', 'detector', '--config', 'tiny', '--data', str(episodes / 'train'),
                '--heldout', str(episodes / 'heldout'), '--out', str(out)]) == 0
    meta = json.loads((out / 'model.json').read_text())
    assert meta['train']['loss_last'] < 0.6 * meta['train']['loss_first'], meta['train']
    assert meta['heldout']['frames'] > 100 and 0 <= meta['heldout']['presence_accuracy'] <= 1
    small = block_detector.load(out)
    assert isinstance(small, block_detector.Detector)
    assert small.objects(np.zeros((2, 64, 64, 3), np.uint8)).pos.shape == (2, len(KINDS), 2)


def test_bad_frames_and_files_are_refused_with_what_to_do(shipped, tmp_path):
    with pytest.raises(ValueError, match='uint8\\[B, 64, 64, 3\\]'):
        shipped.objects(np.zeros((1, 32, 32, 3), np.uint8))
    with pytest.raises(ModelFileError, match='wm-ros train detector'):
        block_detector.load(tmp_path)
    (tmp_path / 'model.json').write_text(json.dumps({
        'format': 'wm_ros.detector', 'format_version': 1, 'config': {}, 'kinds': KINDS}))
    (tmp_path / 'model.safetensors').write_bytes(b'not weights')
    with pytest.raises(ModelFileError, match='not a readable safetensors'):
        block_detector.load(tmp_path)


def test_detected_objects_read_the_camera_directly_and_imagined_states_rendered(
        shipped, latent_runtime, episodes):
    from wm_ros.sim.dataset import iter_episodes
    ep = next(iter(iter_episodes(episodes / 'heldout')))
    rt = DetectedObjects(latent_runtime, shipped)
    assert not isinstance(latent_runtime, ObjectReadout) and isinstance(rt, ObjectReadout)
    state = rt.encode(ep.images[:1], ep.ee_xy[:1])
    seen = rt.objects(state)
    assert sorted(seen.names(0)[j] for j in np.flatnonzero(seen.present[0])) == sorted(
        ep.scene.names)                                       # the real frame, not a render
    nxt = rt.step(state, np.zeros((1, 1, 2), np.float32))
    rendered, _ = latent_runtime.decode(nxt)
    assert np.array_equal(rt.objects(nxt).pos, shipped.objects(rendered).pos)


def test_planner_refuses_a_model_without_read_out_unless_given_a_detector(
        shipped, latent_runtime, episodes):
    from wm_ros.plan.planner import HierarchicalPlanner, load_config
    from wm_ros.sim.dataset import iter_episodes
    with pytest.raises(ValueError, match='wm-ros train detector'):
        HierarchicalPlanner(latent_runtime, load_config('tiny'))
    ep = next(iter(iter_episodes(episodes / 'heldout')))
    planner = HierarchicalPlanner(latent_runtime, load_config('tiny'), detector=shipped)
    block = ep.scene.names[0]
    steps = planner.start(f'push the {block} to the top left corner', ep.images[0],
                          ep.ee_xy[0])
    assert steps and block in steps[0].text
    action = planner.act(ep.images[0], ep.ee_xy[0])
    assert action.shape == (2,) and np.all(np.abs(action) <= latent_runtime.max_speed + 1e-6)
    assert planner.plans == 1 and len(planner.video) == load_config('tiny').solver.horizon


def test_planner_with_the_detector_pushes_a_block_into_its_region_on_the_tabletop():
    from wm_ros.cli import DEFAULT_MODEL
    from wm_ros.evaluate.planning import TabletopRunner
    runner = TabletopRunner(DEFAULT_MODEL, 'onnxruntime', 'default', 150, DEFAULT_DETECTOR)
    record = runner.run('block_to_region', 0, 'hierarchical', 7)
    assert record['success'], record
