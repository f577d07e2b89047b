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

"""``wm-ros rl`` end to end on the tiny config: the shipped world model, a zoo policy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from wm_ros import artefacts
from wm_ros.cli import main
from wm_ros.episodes.tabletop import sample_starts
from wm_ros.policy import registry
from wm_ros.policy.base import Observations


REWARD = artefacts.REWARD


def rl(*args) -> int:
    """Run ``wm-ros rl --config tiny --quiet --reward (shipped) ARGS``; return the status."""
    return main(['rl', '--config', 'tiny', '--quiet', '--reward', str(REWARD),
                 *map(str, args)])


def test_a_zoo_policy_is_fine_tuned_into_a_loadable_policy_directory(tmp_path, capsys):
    out = tmp_path / 'bc_full_rl'
    assert rl('--policy', 'bc_full', '--out', out) == 0
    said = capsys.readouterr().out
    assert 'imagined success of the mean policy' in said and 'block_to_region' in said
    doc = json.loads((out / 'policy.json').read_text())
    assert doc['rl']['updates'] == 2 and doc['rl']['finished']
    assert doc['rl']['judge'] == 'state' and doc['rl']['base'] == 'bc_full'
    assert 'real_success' not in doc                     # bc_full's, not this policy's
    assert doc['rl']['base_real_success']['mean_pct'] == 45.0
    history = json.loads((out / 'rl.json').read_text())['history']
    assert len(history) == 2 and sum(h['trained_steps'] for h in history) > 0
    new = load_file(str(out / 'policy.safetensors'))
    old = load_file(str(artefacts.POLICIES / 'bc_full' / 'policy.safetensors'))
    assert new.keys() == old.keys()
    assert any(not np.array_equal(new[k], old[k]) for k in new)      # it was updated
    # the registry (and so the policy node's policy_path) loads it and it acts
    assert registry.check(str(out)) == 'directory'
    policy = registry.make(str(out))
    start = sample_starts(('block_to_region',), 1, seed=3)[0]
    policy.reset([start])
    action = policy.act(Observations(start.image[None], start.ee[None],
                                     (start.task.instruction,), 0, np.array([0])))
    assert action.shape == (1, 2) and np.isfinite(action).all()
    assert np.abs(action).max() <= 0.2 + 1e-6


def test_resume_on_the_shipped_model_equals_the_uninterrupted_run(tmp_path):
    assert rl('--out', tmp_path / 'whole') == 0
    assert rl('--out', tmp_path / 'cut', '--set', 'updates=1') == 0          # stopped at 1
    assert rl('--out', tmp_path / 'cut', '--resume') == 0                    # on to 2
    a = load_file(str(tmp_path / 'whole' / 'policy.safetensors'))
    b = load_file(str(tmp_path / 'cut' / 'policy.safetensors'))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    done = json.loads((tmp_path / 'cut' / 'rl.json').read_text())
    assert done['updates'] == 2 and len(done['history']) == 2


@pytest.mark.parametrize('args, says', [
    (['--config', 'huge'], "has no section 'huge'"),
    (['--set', 'group=1'], 'group must be >= 2'),
    (['--set', 'bogus=1'], "unknown key(s) ['bogus']"),
    (['--policy', 'bc_nothing'], "--policy: unknown policy 'bc_nothing'"),
    (['--policy', 'expert'], 'choose a zoo name'),
    (['--model', artefacts.POLICIES.parent / 'free_slots', '--set', 'shaping=0'],
     'reads out no objects'),
    ([], 'pass --reward DIR'),
    (['--model', artefacts.POLICIES.parent / 'world_model_128', '--reward', REWARD],
     'one image size'),
    (['--resume', '--reward', REWARD], 'holds no checkpoint'),
])
def test_refusals_are_one_line(tmp_path, capsys, args, says):
    out = tmp_path / 'out'
    assert main(['rl', '--config', 'tiny', '--quiet', '--out', str(out),
                 *map(str, args)]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1 and 'Traceback' not in err
    assert not out.exists()                               # nothing written
