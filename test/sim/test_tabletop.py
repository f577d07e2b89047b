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

"""The tabletop: gymnasium API, determinism, clipping, rendering, scene edits, bad input."""

import gymnasium as gym
import numpy as np
import pytest

from wm_ros.config import ConfigError
from wm_ros.sim.scene import Block, Scene, SceneError
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
from wm_ros.sim.tasks import Task, TaskError


@pytest.fixture(scope='module')
def env():
    e = TabletopEnv(TabletopConfig(task='block_to_region'))
    yield e
    e.close()


def rollout(env, seed, actions):
    obs, info = env.reset(seed=seed)
    frames, ee = [obs['image']], [obs['ee_xy']]
    for a in actions:
        obs, *_ = env.step(a)
        frames.append(obs['image'])
        ee.append(obs['ee_xy'])
    return np.stack(frames), np.stack(ee), info['instruction']


def test_same_seed_same_episode_and_frames(env):
    actions = np.random.default_rng(1).uniform(-0.2, 0.2, (15, 2))
    f1, e1, i1 = rollout(env, 7, actions)
    f2, e2, i2 = rollout(env, 7, actions)
    f3, _, _ = rollout(env, 8, actions)
    assert i1 == i2
    assert np.array_equal(f1, f2) and np.array_equal(e1, e2)
    assert not np.array_equal(f1[0], f3[0])


def test_render_shape_dtype_and_sizes():
    for size in (64, 128, 256):
        e = TabletopEnv(TabletopConfig(image_size=size))
        obs, _ = e.reset(seed=0)
        assert obs['image'].shape == (size, size, 3) and obs['image'].dtype == np.uint8
        assert e.observation_space.contains(obs)
        assert obs['image'].std() > 10          # blocks and pusher are visible, not a blank frame
        e.close()


def test_action_is_clipped_to_max_speed(env):
    env.reset(seed=3, options={'scene': Scene((Block('red', 'cube', 0.2, 0.2),) + tuple(
        Block(c, 'cylinder', 0.2, y) for c, y in (('blue', -0.2), ('green', 0.0), ('yellow', 0.1))
    ), pusher_xy=(-0.15, -0.15)), 'task': Task('block_to_region', 'x', ('red cube',),
                                               'center')})
    start = env.ee_xy().copy()
    for _ in range(5):
        obs, *_ = env.step(np.array([5.0, 0.0]))
    moved = obs['ee_xy'] - start
    # 5 control periods of 0.1 s at the 0.2 m/s limit: at most 0.1 m, not 2.5 m
    assert 0.07 < moved[0] <= 0.1 + 1e-3
    assert abs(moved[1]) < 0.005


def test_velocity_moves_pusher_the_commanded_way(env):
    env.reset(seed=4)
    start = env.ee_xy().copy()
    direction = -np.sign(start) * 0.1           # toward the board centre
    for _ in range(3):
        env.step(direction)
    delta = env.ee_xy() - start
    assert np.all(np.sign(delta) == np.sign(direction))


@pytest.mark.parametrize('bad', [[np.nan, 0.0], [0.0, np.inf], [1.0, 2.0, 3.0]])
def test_bad_actions_are_rejected_and_do_not_move(env, bad):
    env.reset(seed=5)
    before = env.ee_xy().copy()
    with pytest.raises(ValueError, match='action must be'):
        env.step(np.array(bad))
    assert np.array_equal(env.ee_xy(), before)


def test_unknown_task_and_bad_config_give_clear_errors():
    with pytest.raises(TaskError, match="unknown task 'fly'.*block_to_region"):
        TabletopEnv(TabletopConfig()).reset(seed=0, options={'task': 'fly'})
    with pytest.raises(ConfigError, match='image_size must be in'):
        TabletopConfig(image_size=4000)
    with pytest.raises(ConfigError, match='unknown task'):
        TabletopConfig(task='fly')
    with pytest.raises(SceneError, match='unknown colour'):
        Scene((Block('pink', 'cube', 0, 0),))


def test_scene_edits_change_the_real_frame(env):
    scene = Scene((Block('red', 'cube', -0.1, 0.0), Block('blue', 'moon', 0.1, 0.0),
                   Block('green', 'star', 0.0, 0.15), Block('yellow', 'triangle', 0.0, -0.15)))
    task = Task('block_to_block', 'put the red cube next to the blue moon',
                ('red cube', 'blue moon'))
    base = env.reset(options={'scene': scene, 'task': task})[0]['image']
    recoloured = env.reset(options={'scene': scene.recolour('red cube', 'purple'),
                                    'task': Task('block_to_region', 'x', ('purple cube',),
                                                 'center')})[0]['image']
    reshaped = env.reset(options={'scene': scene.reshape('red cube', 'cylinder'),
                                  'task': Task('block_to_region', 'x', ('red cylinder',),
                                               'center')})[0]['image']
    distractor = env.reset(options={'scene': scene.add_block(Block('orange', 'cube', 0.15, 0.15)),
                                    'task': task})[0]['image']
    s = base.shape[0]
    red_px = (base[..., 0] > 180) & (base[..., 1] < 80) & (base[..., 2] < 80)
    assert red_px[:, : s // 2].sum() > 10                      # red cube on the left half
    assert ((recoloured[..., 0] > 180) & (recoloured[..., 1] < 80)
            & (recoloured[..., 2] < 80))[:, : s // 2].sum() == 0  # ... gone after recolouring
    changed = np.abs(reshaped.astype(int) - base.astype(int)).sum(-1) > 30
    assert 0 < changed.sum() < 60                              # only the block outline changed
    orange = (distractor[..., 0] > 200) & (distractor[..., 1] > 90) & (distractor[..., 1] < 170)
    assert orange[: s // 3, 2 * s // 3:].sum() > 5             # distractor at the top right


def test_task_naming_a_missing_block_is_rejected(env):
    scene = Scene((Block('red', 'cube', 0.0, 0.0),))
    with pytest.raises(SceneError, match="no block 'blue moon'"):
        env.reset(options={'scene': scene, 'task': Task('block_to_region', 'x', ('blue moon',),
                                                        'center')})


def test_gymnasium_checker_accepts_the_env():
    from gymnasium.utils.env_checker import check_env
    env = TabletopEnv(TabletopConfig())
    check_env(env, skip_render_check=True)
    assert isinstance(env, gym.Env)
    env.close()


def test_mesh_caps_face_up_so_every_shape_stays_visible():
    """Cap triangles are counter-clockwise (normals up); a moon once sank out of sight."""
    from wm_ros.evaluate.metrics import classify, locate
    from wm_ros.sim.scene import _outline
    for shape in ('triangle', 'moon', 'star'):
        pts, tris = _outline(shape)
        a, b, c = pts[tris[:, 0]], pts[tris[:, 1]], pts[tris[:, 2]]
        cross = (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]
        assert (cross > 0).all(), f'{shape} has clockwise cap triangles'
    env = TabletopEnv(TabletopConfig())
    scene = Scene((Block('red', 'moon', 0.0, 0.0, 0.3), Block('blue', 'star', 0.15, 0.1),
                   Block('green', 'triangle', -0.15, 0.1), Block('yellow', 'cube', 0.1, -0.1)),
                  (-0.2, -0.2))
    obs, _ = env.reset(options={'scene': scene, 'task': Task(
        'separate', 'separate the red moon and the blue star', ('red moon', 'blue star'))})
    counts = [locate(classify(obs['image'][None]), 'red', 0.25)[1][0]]
    for _ in range(20):
        obs, *_ = env.step(np.zeros(2))
        counts.append(locate(classify(obs['image'][None]), 'red', 0.25)[1][0])
    env.close()
    assert min(counts) >= 0.8 * counts[0] > 10, counts
