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

"""The policy registry: every kind resolves and acts; unknown names are refused at once."""

import subprocess
import sys

import numpy as np
import pytest

from wm_ros import artefacts
from wm_ros.episodes.imagination import ImaginationEnv
from wm_ros.episodes.tabletop import sample_starts, Tabletops
from wm_ros.policy import registry
from wm_ros.policy.base import Policy


@pytest.fixture(scope='module')
def runtime():
    """Return the shipped world model (the perceiving kinds read blocks with it)."""
    from wm_ros.runtime import load_runtime
    return load_runtime(artefacts.WORLD_MODEL, 'onnxruntime', threads=1)


@pytest.fixture(scope='module')
def starts():
    """Return two starts with scenes and first frames."""
    return sample_starts(('block_to_region', 'separate'), 1, seed=5000)


def test_known_names_are_the_kinds_and_the_shipped_zoo():
    names = registry.known()
    assert set(registry.registered()) <= set(names)
    assert {'bc_full', 'bc_50', 'colour_only', 'expert', 'noisy', 'slow', 'state_expert'} \
        <= set(names)
    assert registry.zoo_names() == sorted(p.name for p in artefacts.POLICIES.iterdir()
                                          if (p / 'policy.json').is_file())
    assert registry.check(str(artefacts.POLICIES / 'bc_50')) == 'directory'


@pytest.mark.parametrize('name', [n for n in registry.known()   # PushT's: test/episodes/test_pusht
                                  if registry.robot_of(n) in ('', 'tabletop')])
def test_every_known_name_builds_a_policy_that_acts_on_a_tabletop_batch(name, runtime, starts):
    policy = registry.make(name, registry.PolicyContext.of(runtime))
    assert isinstance(policy, Policy)
    obs, _ = Tabletops().reset(starts)
    policy.reset(starts)
    actions = policy.act(obs)
    assert actions.dtype == np.float32 and actions.shape == (2, 2)
    assert np.all(np.isfinite(actions)) and np.abs(actions).max() <= runtime.max_speed + 1e-6
    assert np.abs(actions).max() > 0                  # every kind heads for a block


def test_unknown_names_are_refused_with_the_list_without_loading_torch():
    code = ('import sys, time; t = time.perf_counter()\n'
            'from wm_ros.policy import registry\n'
            'try:\n    registry.check("bc_ful")\nexcept registry.UnknownPolicy as e:\n'
            '    print(e)\n'
            'print("torch" in sys.modules, time.perf_counter() - t)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0].startswith("unknown policy 'bc_ful': choose one of ") and 'bc_full' in out[0]
    assert 'state_expert' in out[0] and 'policy directory' in out[0]
    loaded, seconds = out[1].split()
    assert loaded == 'False' and float(seconds) < 5
    with pytest.raises(ValueError, match='bc_full'):
        registry.make('no_such_policy')


class NoReadout:
    """A runtime without the object read-out capability."""

    max_speed, control_hz = 0.2, 10.0


def test_perceiving_kinds_need_a_model_that_reads_objects_and_the_state_expert_a_simulator(
        runtime, starts):
    with pytest.raises(ValueError, match='ObjectReadout'):
        registry.make('noisy', registry.PolicyContext(NoReadout()))
    expert = registry.make('state_expert', registry.PolicyContext.of(runtime))
    obs, _ = ImaginationEnv(runtime).reset(starts)
    expert.reset(starts)
    with pytest.raises(ValueError, match='physics state'):
        expert.act(obs)


def test_perceiving_policies_are_seeded_per_episode(runtime, starts):
    """The noisy expert's noise follows each start's policy seed, not the batch."""
    from dataclasses import replace
    obs, _ = Tabletops().reset(starts)
    policy = registry.make('noisy', registry.PolicyContext.of(runtime))
    actions = []
    for seeds in ((1, 2), (1, 2), (1, 3)):
        policy.reset([replace(s, policy_seed=k) for s, k in zip(starts, seeds)])
        actions.append(policy.act(obs))
    assert np.array_equal(actions[0], actions[1])
    assert np.array_equal(actions[0][0], actions[2][0]) and \
        not np.array_equal(actions[0][1], actions[2][1])
