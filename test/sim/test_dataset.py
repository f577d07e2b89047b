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

"""Shards of collected episodes, and the rosbag2 MCAP round trip."""

import json

import numpy as np
import pytest

from wm_ros.episodes.collect import collect
from wm_ros.ros.messages import task_spec
from wm_ros.sim import bag
from wm_ros.sim.bag import export_mcap, import_mcap
from wm_ros.sim.dataset import iter_episodes, read_shard, write_shard


@pytest.fixture(scope='module')
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp('episodes')
    paths = collect(out, 9, seed=3, shard_size=4, max_steps=40, progress=False)
    return out, paths


def test_collect_writes_shards_with_every_field(shards):
    out, paths = shards
    assert len(paths) == 3                                     # 4 + 4 + 1 episodes
    episodes = list(iter_episodes(out))
    assert len(episodes) == 9
    behaviours = {e.behaviour for e in episodes}
    assert len(behaviours) >= 2                                # a mix, not one behaviour
    for e in episodes:
        t = len(e)
        assert 1 <= t <= 40
        assert e.images.shape == (t + 1, 64, 64, 3) and e.images.dtype == np.uint8
        assert e.ee_xy.shape == (t + 1, 2) and e.actions.shape == (t, 2)
        assert e.block_states.shape == (t + 1, len(e.scene.blocks), 3)
        assert e.success.shape == (t + 1,) and e.instruction
        # recorded success is what the physics check says about the recorded state
        assert e.success[-1] == e.task.success(e.scene, e.block_states[-1, :, :2], 0.25)


def test_shard_files_contain_no_pickles(shards):
    _, paths = shards
    with np.load(paths[0], allow_pickle=False) as data:     # would raise on object arrays
        assert all(data[k].dtype != object for k in data.files)
    index = json.loads(paths[0].with_suffix('.json').read_text())
    assert index['format_version'] == 1


def test_shard_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match='run `wm-ros collect`'):
        next(iter_episodes(tmp_path))
    with pytest.raises(FileNotFoundError, match='missing'):
        read_shard(tmp_path / 'nope')


def test_mcap_round_trip(shards, tmp_path):
    out, _ = shards
    episode = read_shard(out / 'shard-00000')[0]
    bag = export_mcap(episode, tmp_path / 'bag')
    assert list(bag.glob('*.mcap')) and (bag / 'metadata.yaml').exists()
    back = import_mcap(bag)
    assert np.array_equal(back.images, episode.images)
    assert np.allclose(back.ee_xy, episode.ee_xy, atol=1e-6)
    assert np.allclose(back.actions, episode.actions, atol=1e-6)
    assert np.allclose(back.block_states, episode.block_states, atol=1e-5)
    assert np.array_equal(back.success, episode.success)
    assert back.scene == episode.scene and back.task == episode.task
    assert back.dt == pytest.approx(episode.dt)
    # and the imported episode is a valid shard again
    again = read_shard(write_shard(tmp_path / 'shard-00000', [back]))[0]
    assert np.array_equal(again.images, episode.images)


def test_mcap_errors(shards, tmp_path):
    out, _ = shards
    episode = read_shard(out / 'shard-00000')[0]
    export_mcap(episode, tmp_path / 'bag')
    with pytest.raises(FileExistsError):
        export_mcap(episode, tmp_path / 'bag')
    with pytest.raises(FileNotFoundError):
        import_mcap(tmp_path / 'missing')
    with pytest.raises(ValueError, match='has no /front/image'):
        import_mcap(tmp_path / 'bag', image_topic='/front/image')


def test_a_bag_with_sim_robots_own_task_spec_imports(shards):
    """``sim_robot`` publishes scene, task and episode only; import fills in the rest."""
    out, _ = shards
    episode = read_shard(out / 'shard-00000')[0]
    text = task_spec(episode.scene, episode.task, 0.3, episode=2)   # what the node sends
    scene, task, behaviour, seed, dt = bag._spec('bag', text, 0.1)
    assert (scene, task) == (episode.scene, episode.task)
    assert (behaviour, seed, dt) == ('recorded', 0, 0.1)
    with pytest.raises(ValueError, match='message is damaged'):
        bag._spec('bag', text.replace('"scene"', '"scenery"'), 0.1)
