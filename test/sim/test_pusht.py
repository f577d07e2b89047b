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

"""PushT behind the tabletop's surface: metres and twists, its own verdict, gym-pusht's seeds."""

import numpy as np
import pytest
import shapely.geometry as sg

from wm_ros.config import ConfigError
from wm_ros.sim import robots
from wm_ros.sim.pusht import (goal_state, PushTConfig, PushTEnv, T_CENTROID_PX, T_POLYGONS_PX,
                              t_pose_px, wrap)
from wm_ros.sim.tasks import PUSHT_TASK, Task, TaskError

FREE = [-0.15, -0.15, 0.1, 0.15, 0.0]       # pusher far from the T (m, rad)


@pytest.fixture(scope='module')
def env():
    e = PushTEnv()
    yield e
    e.close()


def pusher_pixel(image: np.ndarray) -> np.ndarray:
    """Return the (row, column) centre of the blue pusher in ``image``."""
    blue = (image[..., 2] > 180) & (image[..., 0] < 110)
    assert blue.any(), 'no pusher in the frame'
    return np.argwhere(blue).mean(0)


def t_outline(pose, config) -> sg.MultiPolygon:
    """Return the T at ``pose`` (centroid m, yaw) as shapely polygons in board metres."""
    s, (cx, cy) = config.m_per_px, T_CENTROID_PX
    rot = np.array([[np.cos(pose[2]), -np.sin(pose[2])], [np.sin(pose[2]), np.cos(pose[2])]])
    return sg.MultiPolygon([sg.Polygon([pose[:2] + rot @ [(x - cx) * s, -(y - cy) * s]
                                        for x, y in poly]) for poly in T_POLYGONS_PX])


def test_twists_move_the_pusher_their_way_in_metres_and_in_the_image(env):
    obs, _ = env.reset(seed=0, options={'state': FREE})
    start, px0 = obs['ee_xy'].copy(), pusher_pixel(obs['image'])
    for _ in range(10):                                   # 0.1 m/s right for 1 s
        obs, *_ = env.step(np.array([0.1, 0.0], np.float32))
    moved = obs['ee_xy'] - start
    # the PD controller lags: 41 % of command x dt per step, but the right way
    assert 0.03 < moved[0] < 0.06 and abs(moved[1]) < 1e-4, moved
    for _ in range(10):                                   # then up (+y is up in the image)
        obs, *_ = env.step(np.array([0.0, 0.1], np.float32))
    px1 = pusher_pixel(obs['image'])
    assert px1[1] - px0[1] > 2 and px0[0] - px1[0] > 2, (px0, px1)   # right and up
    assert np.allclose(env.ee_xy(), obs['ee_xy']) and env.ee_velocity()[1] > 0.02


def test_speeds_are_clipped_and_the_pusher_stays_inside_the_walls(env):
    env.reset(seed=0, options={'state': FREE})
    for _ in range(60):
        obs, *_ = env.step([-5.0, 0.0])                   # far beyond max_speed, into a wall
    assert -0.25 < obs['ee_xy'][0] < -0.2                 # stopped at the wall, not past it
    with pytest.raises(ValueError, match='finite'):
        env.step([np.nan, 0.0])
    with pytest.raises(ValueError, match='float\\[2\\]'):
        env.step([0.1, 0.0, 0.0])


@pytest.mark.parametrize('size', [32, 64, 96])
def test_camera_image_shape_and_dtype(size):
    e = PushTEnv(PushTConfig(image_size=size))
    obs, info = e.reset(seed=1)
    assert obs['image'].shape == (size, size, 3) and obs['image'].dtype == np.uint8
    assert obs['ee_xy'].dtype == np.float32 and e.observation_space.contains(obs)
    assert (obs['image'][..., 1] > 200).sum() > 0.01 * size * size     # the green goal
    assert info['instruction'] == PUSHT_TASK.instruction and info['task'] == 'pusht'


def test_block_states_are_the_t_pose_given_and_what_the_frame_and_coverage_say(env):
    rng = np.random.default_rng(4)
    for _ in range(6):
        state = [*rng.uniform(-0.2, 0.2, 2), *rng.uniform(-0.15, 0.15, 2), rng.uniform(-3, 3)]
        _, info = env.reset(seed=0, options={'state': state})
        pose = env.block_states()
        assert pose.shape == (1, 3) and pose.dtype == np.float32
        assert np.allclose(pose[0], [*state[2:4], wrap(state[4])], atol=1e-5), (pose, state)
        assert np.allclose(info['block_xy'], pose[:, :2]) and np.allclose(info['block_yaw'],
                                                                          pose[:, 2])
        # gym-pusht's coverage is the overlap of the T drawn at the reported pose and the goal
        goal = t_outline(goal_state(env.config), env.config)
        overlap = t_outline(pose[0].astype(float), env.config).intersection(goal).area
        assert info['coverage'] == pytest.approx(overlap / goal.area, abs=1e-4)


def test_success_is_pushts_coverage_on_a_state_set_to_the_goal(env):
    goal = goal_state(env.config)
    _, info = env.reset(seed=0, options={'state': [0.15, 0.15, *goal]})
    assert info['coverage'] > 0.999 and info['success'] and env.success()
    _, info = env.reset(seed=0, options={'state': [0.15, 0.15, goal[0] + 0.01, *goal[1:]]})
    assert 0.5 < info['coverage'] < 0.95 and not info['success']    # 1 cm off: not covered
    _, info = env.reset(seed=0, options={'state': [0.15, 0.15, *goal[:2], goal[2] + 0.2]})
    assert not info['success']                                      # 11 degrees off
    # gym-pusht's own step judges the same state the same way
    _, info = env.reset(seed=0, options={'state': [0.15, 0.15, *goal]})
    _, reward, terminated, _, raw = env.sim.step(np.array(env.sim.agent.position))
    assert terminated and raw['coverage'] > 0.95 and reward == 1.0


def test_a_seed_is_gym_pushts_own_start_and_reproduces(env):
    from gym_pusht.envs.pusht import PushTEnv as GymPushT
    raw = GymPushT(obs_type='state')
    actions = np.random.default_rng(2).uniform(-0.2, 0.2, (20, 2))
    runs = []
    for seed in (5, 5, 6):
        state, _ = raw.reset(seed=seed)
        obs, _ = env.reset(seed=seed)
        centroid, angle = t_pose_px(state[2:4], state[4])
        assert np.allclose(env.ee_xy(), env.config.to_metres(state[:2]), atol=1e-6)
        assert np.allclose(env.block_states()[0], [*env.config.to_metres(centroid),
                                                   wrap(-angle)], atol=1e-5)
        frames, poses = [obs['image']], [env.block_states()]
        for a in actions:
            obs, *_ = env.step(a)
            frames.append(obs['image'])
            poses.append(env.block_states())
        runs.append((np.stack(frames), np.stack(poses)))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0][0], runs[2][0][0])


def test_episodes_end_at_the_step_limit_and_bad_settings_are_refused():
    e = PushTEnv(PushTConfig.tiny())
    e.reset(seed=0)
    truncated = [e.step([0.0, 0.0])[3] for _ in range(e.config.max_steps)]
    assert not any(truncated[:-1]) and truncated[-1]
    with pytest.raises(ConfigError, match='divide'):
        PushTConfig(control_hz=7.0)
    with pytest.raises(ValueError, match='unknown reset option'):
        e.reset(seed=0, options={'scene': None})
    with pytest.raises(ValueError, match='5 finite numbers'):
        e.reset(seed=0, options={'state': [0.0, 0.0]})


def test_robots_by_name_and_an_unknown_one_refused_with_the_list():
    env = robots.make_env('pusht', image_size=32, max_speed=0.1)
    assert isinstance(env, PushTEnv) and env.config.image_size == 32
    assert env.config.max_speed == 0.1
    assert robots.make_config('pusht', robots.config_files.config_dir() / 'pusht.yaml') == \
        PushTConfig()
    with pytest.raises(robots.UnknownRobot, match="unknown robot 'moon'; choose one of "
                       'tabletop, pusht'):
        robots.make_env('moon')
    with pytest.raises(ConfigError, match='n_blocks'):
        robots.make_env('pusht', n_blocks=4)


def test_pushts_task_round_trips_and_is_judged_by_the_environment():
    assert Task.from_dict(PUSHT_TASK.to_dict()) == PUSHT_TASK and not PUSHT_TASK.long_horizon
    with pytest.raises(TaskError, match='coverage'):
        PUSHT_TASK.success(None, np.zeros((1, 2)), 0.25)
