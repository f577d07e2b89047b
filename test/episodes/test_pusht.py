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

"""PushT through the episode driver: batched rows, its own verdict, scripted kinds, collection."""

import numpy as np
import pytest

from wm_ros.episodes.collect import collect, PUSHT_MIX, record_episode
from wm_ros.episodes.driver import run_episodes
from wm_ros.episodes.pusht import PushTs, run_pusht, sample_starts
from wm_ros.episodes.tabletop import sample_starts as tabletop_starts
from wm_ros.policy import registry
from wm_ros.policy.base import Observations
from wm_ros.sim.dataset import iter_episodes, read_shard
from wm_ros.sim.pusht import PushTConfig

TINY = PushTConfig.tiny()          # 32 px, 40 steps


def context(config: PushTConfig = TINY) -> registry.PolicyContext:
    return registry.PolicyContext(None, config.board_half, config.max_speed, config.control_hz)


def test_batched_rows_are_the_episodes_run_one_at_a_time():
    starts = sample_starts(3, seed=7, config=TINY)
    policy = registry.make('pusht_noisy', context())
    envs = PushTs(TINY)
    together = run_episodes(envs, policy, starts, envs.limits, keep_frames=range(3))
    alone = [run_episodes(envs, policy, [s], envs.limits, keep_frames=[0])[0] for s in starts]
    for a, b in zip(together, alone):
        assert (a.success, a.steps, a.env_success) == (b.success, b.steps, b.env_success)
        assert np.array_equal(a.frames, b.frames)
        assert np.array_equal(a.info['block_xy'], b.info['block_xy'])
        assert a.info['coverage'] == b.info['coverage']
    assert len({r.frames[-1].tobytes() for r in together}) == 3    # three different episodes
    assert all(r.steps == TINY.max_steps for r in together)        # unsolved: the step limit


def test_the_expert_solves_pusht_by_its_own_coverage_verdict():
    results = run_pusht('pusht_expert', 4, seed=0, config=PushTConfig(image_size=32))
    solved = [r for r in results if r.success]
    assert len(solved) >= 3, [(r.steps, r.info['coverage']) for r in results]
    for r in results:
        assert r.env_success == r.success == (r.info['coverage'] > 0.95)
        assert r.steps < 300 if r.success else r.steps == 300
    assert all(r.start_info['coverage'] < 0.95 for r in results)   # none started solved


def test_pusht_kinds_are_for_pusht_and_refuse_tabletop_observations():
    assert registry.robot_of('pusht_expert') == 'pusht'
    assert registry.robot_of('state_expert') == 'tabletop' and registry.robot_of('bc_full') == ''
    starts = tabletop_starts(('separate',), 1, seed=3)
    obs = Observations(np.zeros((1, 64, 64, 3), np.uint8), np.zeros((1, 2), np.float32),
                       ('separate',), 0, np.arange(1), (np.zeros((4, 2), np.float32),))
    policy = registry.make('pusht_expert', context())
    policy.reset(starts)
    with pytest.raises(ValueError, match='block_yaw'):
        policy.act(obs)
    with pytest.raises(ValueError, match="family 'pusht'"):
        PushTs(TINY).reset(starts)
    with pytest.raises(ValueError, match='tabletop only'):
        run_pusht('state_expert', 1, seed=0, config=TINY)


def test_observations_carry_the_t_pose_and_keep_it_when_rows_end():
    envs = PushTs(TINY)
    obs, _ = envs.reset(sample_starts(3, seed=1, config=TINY))
    assert [x.shape for x in obs.block_xy] == [(1, 2)] * 3
    assert [x.shape for x in obs.block_yaw] == [(1,)] * 3
    kept = obs.select(np.array([True, False, True]))
    assert kept.rows.tolist() == [0, 2]
    assert kept.block_yaw[1] == obs.block_yaw[2]
    assert np.allclose(kept.block_xy[1], envs.envs[2].block_states()[:, :2])


def test_collected_pusht_shards_load_with_frames_actions_and_poses(tmp_path):
    paths = collect(tmp_path / 'd', 3, seed=2, config=TINY, shard_size=2, max_steps=25,
                    progress=False, robot='pusht')
    assert len(paths) == 2
    episodes = list(iter_episodes(tmp_path / 'd'))
    assert len(episodes) == 3 and {e.behaviour for e in episodes} <= set(PUSHT_MIX)
    for e in episodes:
        assert e.task.family == 'pusht' and e.dt == pytest.approx(0.1)
        assert e.images.shape == (len(e) + 1, 32, 32, 3) and e.images.dtype == np.uint8
        assert e.actions.shape == (len(e), 2) and e.block_states.shape == (len(e) + 1, 1, 3)
        assert np.abs(e.actions).max() <= TINY.max_speed + 1e-6
        # the pusher went where it was told (the PD lags, so less far)
        moved = np.diff(e.ee_xy, axis=0)
        assert np.mean(np.sum(moved * e.actions, 1) > 0) > 0.6
    again = read_shard(collect(tmp_path / 'e', 3, seed=2, config=TINY, shard_size=2,
                               max_steps=25, progress=False, robot='pusht')[0])
    for a, b in zip(read_shard(paths[0]), again):
        assert np.array_equal(a.images, b.images)
        assert np.array_equal(a.block_states, b.block_states)


def test_an_expert_episode_pushes_the_t_and_its_poses_are_recorded():
    envs = PushTs(PushTConfig(image_size=32))
    e = record_episode(envs, 11, 'expert', max_steps=80)
    travel = np.linalg.norm(e.block_states[-1, 0, :2] - e.block_states[0, 0, :2])
    turned = abs(np.angle(np.exp(1j * (e.block_states[-1, 0, 2] - e.block_states[0, 0, 2]))))
    assert travel > 0.01 or turned > 0.1, (travel, turned)
    assert not np.array_equal(e.images[0], e.images[-1])
