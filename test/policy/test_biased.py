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

"""The sideways-biased expert (issue 27): its commands carry the bias, deterministically."""

import numpy as np
import pytest

from wm_ros import artefacts
from wm_ros.episodes.tabletop import sample_starts, Tabletops
from wm_ros.interfaces import Observation
from wm_ros.policy import registry
from wm_ros.policy.biased import Sideways, sideways, SIDEWAYS_BIAS


class Straight:
    """A single-row policy that always commands ``v``."""

    def __init__(self, v):
        self.v = np.asarray(v, np.float32)

    def set_task(self, scene, task):
        """Take no notice of the task."""

    def reset(self):
        """Keep nothing."""

    def act(self, observation):
        """Return the fixed command."""
        return self.v


def test_the_bias_is_perpendicular_to_the_command_and_clipped_to_the_speed_limit():
    v = sideways(np.array([0.1, 0.0]), 0.5, 0.2)       # +x command: bias to +y
    assert np.allclose(v, [0.1, 0.1])
    v = sideways(np.array([0.0, -0.2]), 0.75, 0.2)     # -y command: bias to +x
    assert np.allclose(v, [0.15, -0.2])
    v = sideways(np.array([0.2, 0.2]), 1.0, 0.2)       # clipped per axis as the expert
    assert np.abs(v).max() <= 0.2 + 1e-7 and v[1] == pytest.approx(0.2) and v[0] < 0.2
    assert np.array_equal(sideways(np.zeros(2), 0.75, 0.2), np.zeros(2))   # idle stays idle
    with pytest.raises(ValueError, match='fraction of max speed'):
        Sideways(Straight([0.1, 0.0]), bias=1.5)


def test_a_straight_command_drifts_left_at_the_bias_every_step():
    policy = Sideways(Straight([0.08, 0.0]), max_speed=0.2)
    obs = Observation(np.zeros((64, 64, 3), np.uint8), np.zeros(2, np.float32), '', 0)
    moves = np.array([policy.act(obs) for _ in range(5)])
    assert np.allclose(moves[:, 1], SIDEWAYS_BIAS * 0.2) and np.allclose(moves[:, 0], 0.08)


def test_the_registry_kind_adds_the_bias_to_the_perception_experts_commands_deterministically():
    from wm_ros.runtime import load_runtime
    runtime = load_runtime(artefacts.WORLD_MODEL, 'onnxruntime', threads=1)
    context = registry.PolicyContext.of(runtime)
    assert registry.robot_of('expert_sideways') == 'tabletop'
    assert registry.perceives('expert_sideways')
    starts = sample_starts(('block_to_region', 'separate', 'group_by_colour'), 1, seed=5000)
    obs, _ = Tabletops().reset(starts)
    plain, biased = registry.make('expert', context), registry.make('expert_sideways', context)
    plain.reset(starts)
    biased.reset(starts)
    a, b = plain.act(obs), biased.act(obs)
    assert np.all(np.abs(a).max(1) > 0)               # the expert heads for a block
    for v, w in zip(a, b):
        assert np.allclose(w, sideways(v, SIDEWAYS_BIAS, runtime.max_speed), atol=1e-6)
        assert np.linalg.norm(w - v) > 0.5 * SIDEWAYS_BIAS * runtime.max_speed
    biased.reset(starts)
    assert np.array_equal(biased.act(obs), b)         # the same start gives the same command
