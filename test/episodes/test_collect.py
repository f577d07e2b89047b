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

"""``wm-ros collect``: scripted and closed-loop episodes through the episode driver."""

import numpy as np
import pytest

from wm_ros.episodes.collect import collect, PolicyMaker, record_episode
from wm_ros.episodes.tabletop import Tabletops
from wm_ros.sim.dataset import iter_episodes, read_shard


@pytest.fixture
def tabletops():
    """Return one tabletop for recording episodes on, closed afterwards."""
    env = Tabletops()
    yield env
    env.close()


def test_collect_is_reproducible_from_seed(tmp_path):
    one = collect(tmp_path / 'a', 4, seed=3, shard_size=4, max_steps=30, progress=False)
    two = collect(tmp_path / 'b', 4, seed=3, shard_size=4, max_steps=30, progress=False)
    for x, y in zip(read_shard(one[0]), read_shard(two[0])):
        assert x.instruction == y.instruction and x.behaviour == y.behaviour
        assert np.array_equal(x.images, y.images) and np.array_equal(x.actions, y.actions)
        assert np.array_equal(x.block_states, y.block_states)


def test_noisy_and_explore_behaviours_differ_from_expert(tabletops):
    expert = record_episode(tabletops, 11, 'expert', 'separate', max_steps=20)
    noisy = record_episode(tabletops, 11, 'noisy', 'separate', max_steps=20)
    explore = record_episode(tabletops, 11, 'explore', 'separate', max_steps=20)
    assert expert.instruction == noisy.instruction == explore.instruction
    n = min(len(expert), len(noisy), len(explore))
    assert not np.allclose(expert.actions[:n], noisy.actions[:n])
    assert not np.allclose(expert.actions[:n], explore.actions[:n])
    # exploration is drawn toward blocks: somewhere in 20 steps a block moves or it nears one
    assert np.abs(explore.actions).max() > 0.05


def test_a_solved_episode_goes_on_past_success_then_ends(tabletops):
    """The expert's episode records the pushes just past success (6 solved steps), then ends."""
    e = record_episode(tabletops, 11, 'expert', 'block_to_region')
    assert e.success[-6:].all() and not e.success[0]
    assert len(e) < tabletops.config.max_steps
    assert e.success[-1] == e.task.success(e.scene, e.block_states[-1, :, :2], 0.25)


def test_unknown_behaviours_and_families_are_refused_before_any_episode(tmp_path):
    with pytest.raises(ValueError, match='unknown behaviour'):
        collect(tmp_path, 2, mix={'juggle': 1.0}, progress=False)
    with pytest.raises(ValueError, match='unknown task'):
        collect(tmp_path, 2, families=('juggle',), progress=False)
    with pytest.raises(ValueError, match='unknown policy'):
        collect(tmp_path, 2, mix={'bc_huge': 1.0}, policies=PolicyMaker('unused'),
                progress=False)
    assert not list(tmp_path.iterdir())


def test_closed_loop_collection_records_what_the_policy_did(tmp_path, tabletops):
    """``--policies``: every recorded action is the policy's answer to the recorded frame."""
    from wm_ros.interfaces import Observation
    from wm_ros.policy.zoo import load_policy
    collect(tmp_path / 'c', 3, seed=5, mix={'bc_full': 1.0, 'noisy': 1.0}, shard_size=3,
            max_steps=25, progress=False, policies=PolicyMaker('wm_ros/models/world_model'),
            families=('block_to_region',))
    episodes = list(iter_episodes(tmp_path / 'c'))
    assert len(episodes) == 3
    assert {e.behaviour for e in episodes} <= {'policy:bc_full', 'policy:noisy'}
    learned = [e for e in episodes if e.behaviour == 'policy:bc_full']
    assert learned and len(learned) < 3
    scripted = record_episode(tabletops, episodes[0].seed, 'expert', 'block_to_region',
                              max_steps=25)
    assert not np.allclose(scripted.actions[:5], episodes[0].actions[:5])
    policy = load_policy('bc_full')
    for e in learned:
        for t in range(len(e)):
            obs = Observation(e.images[t], e.ee_xy[t], e.instruction, t)
            assert np.allclose(policy.act(obs), e.actions[t], atol=1e-5)
