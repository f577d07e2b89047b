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

"""Scripted expert success rates over 20+ seeds per family (the issue's acceptance bar)."""

import numpy as np
import pytest

from wm_ros.interfaces import Observation, Policy
from wm_ros.policy.expert import ExpertController, ExpertPolicy
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
from wm_ros.sim.tasks import NEXT_TO

SEEDS = range(100, 124)   # 24 seeds, never used for tuning


def success_rate(family: str, n_blocks: int = 4) -> float:
    env = TabletopEnv(TabletopConfig(n_blocks=n_blocks))
    wins = []
    for seed in SEEDS:
        obs, info = env.reset(seed=seed, options={'task': family})
        policy = ExpertPolicy(env)
        assert isinstance(policy, Policy)
        policy.reset()
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(
                policy.act(Observation.from_step(obs, info)))
            done = terminated or truncated
        wins.append(info['success'])
    env.close()
    return float(np.mean(wins))


@pytest.mark.parametrize('family', ['block_to_region', 'block_to_block', 'separate'])
def test_expert_solves_single_step_families(family):
    rate = success_rate(family)
    print(f'expert {family}: {rate:.0%}')
    assert rate >= 0.9


@pytest.mark.parametrize('family', ['group_by_colour', 'make_line'])
def test_expert_on_long_horizon_families(family):
    rate = success_rate(family)
    print(f'expert {family}: {rate:.0%}')
    assert rate >= 0.7      # measured 0.9-1.0 with 4 blocks; a drop means the expert broke


def _after_success(settle: bool, seed: int, extra: int = 40):
    """
    Drive a block_to_block episode to success, then ``extra`` steps more.

    Return the anchor distance at the first solved step and at the end, and the last speed.
    """
    env = TabletopEnv(TabletopConfig(n_blocks=4))
    env.reset(seed=seed, options={'task': 'block_to_block'})
    c = env.config
    ctrl = ExpertController(env.scene, env.task, c.board_half, c.max_speed, c.control_hz,
                            settle=settle)
    idx = [env.scene.index(n) for n in env.task.blocks]

    def gap():
        xy = env.block_states()[:, :2]
        return float(np.linalg.norm(xy[idx[0]] - xy[idx[1]]))

    first, action = None, np.zeros(2)
    for _ in range(c.max_steps + extra):
        action = ctrl.act(env.ee_xy(), env.block_states()[:, :2])
        if first is None and env.success():
            first = gap()
            extra_left = extra
        env.advance(action)
        if first is not None:
            extra_left -= 1
            if extra_left == 0:
                break
    end = gap()
    env.close()
    return first, end, float(np.linalg.norm(action))


def test_settling_expert_pushes_past_the_threshold_then_stops():
    """
    Settling ends a pixel inside the threshold, then stops.

    A perception expert must not park its block on the success threshold, where a few
    millimetres (of perception, or of a judge reading the frame) call it either way.
    """
    margins, plain = [], []
    for seed in range(300, 306):
        first, end, speed = _after_success(True, seed)
        assert first is not None, f'seed {seed}: the expert never solved block_to_block'
        margins.append(NEXT_TO - end)
        assert speed == 0.0, f'seed {seed}: still pushing 40 steps after success'
        _, plain_end, plain_speed = _after_success(False, seed)
        assert plain_speed == 0.0
        plain.append(NEXT_TO - plain_end)
    print('margins (mm), settled:', np.round(np.array(margins) * 1000, 1),
          'stopping at success:', np.round(np.array(plain) * 1000, 1))
    assert np.median(margins) >= 0.008, 'the settled block should end a pixel inside'
    assert np.median(margins) >= np.median(plain) + 0.004, 'settling made no difference'
    assert min(margins) > 0.0, 'settling must keep the task solved'
