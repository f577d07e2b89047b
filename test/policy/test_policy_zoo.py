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

"""The policy zoo: behaviour cloning, save/load, instruction handling, bad input, shipped zoo."""

from dataclasses import replace
import json

import numpy as np
import pytest

from wm_ros.cli import main as cli
from wm_ros.episodes.collect import collect
from wm_ros.interfaces import BatchPolicy, Observation, Policy
from wm_ros.policy import bc_data
from wm_ros.policy.learned import get_config, LearnedPolicy, PolicyFileError
from wm_ros.policy.zoo import load_policy, models_dir, train_policy, ZOO, ZOO_FAMILIES
from wm_ros.sim.dataset import iter_episodes
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv

TINY = get_config('tiny')
RED_CUBE = 'push the red cube to the top left corner'
RED_STAR = 'push the red star to the top left corner'


@pytest.fixture(scope='module')
def episodes(tmp_path_factory):
    out = tmp_path_factory.mktemp('demos')
    collect(out, 8, seed=11, mix={'expert': 1.0}, families=('block_to_region',),
            max_steps=60, progress=False)
    return list(iter_episodes(out)), out


@pytest.fixture(scope='module')
def bc(episodes):
    return train_policy('bc_expert', episodes[0], config=replace(TINY, steps=400))


@pytest.fixture(scope='module')
def colour_only(episodes):
    return train_policy('colour_only', episodes[0], config=replace(TINY, steps=30))


def batch(episodes, n=16):
    frames = bc_data.frames(episodes[0][:2])
    rows = np.linspace(0, len(frames) - 1, n).astype(int)
    return (frames.images[rows], frames.ee[rows],
            [frames.instructions[i] for i in frames.instruction[rows]], frames.actions[rows])


def agreement(actions, labels):
    """Fraction of frames whose action points within 90 degrees of the expert's."""
    dot = (actions * labels).sum(1)
    return float(np.mean(dot > 0))


def test_tiny_bc_points_where_the_expert_goes_far_more_often_than_chance(bc, episodes):
    frames = bc_data.frames(episodes[0])
    instructions = [frames.instructions[i] for i in frames.instruction]
    learned = bc.act_batch(frames.images, frames.ee, instructions)
    random = np.random.default_rng(0).uniform(-0.2, 0.2, learned.shape)
    ours, chance = agreement(learned, frames.actions), agreement(random, frames.actions)
    print(f'tiny BC agrees in direction with the expert on {100 * ours:.0f} % of '
          f'{len(frames)} training frames, a random policy on {100 * chance:.0f} %')
    assert ours > 0.75 and ours > chance + 0.2
    assert np.abs(learned).max() <= 0.2 + 1e-6           # clipped to the speed limit
    assert bc.meta['training']['frames'] == len(frames)


def test_save_load_round_trip_gives_identical_actions(bc, episodes, tmp_path):
    images, ee, instructions, _ = batch(episodes)
    bc.save(tmp_path / 'p', real_success={'mean_pct': 12.5})
    loaded = LearnedPolicy.load(tmp_path / 'p', engine='torch')
    np.testing.assert_array_equal(loaded.act_batch(images, ee, instructions),
                                  bc.act_batch(images, ee, instructions))
    served = load_policy(tmp_path / 'p')                 # ONNX Runtime: float precision
    np.testing.assert_allclose(served.act_batch(images, ee, instructions),
                               bc.act_batch(images, ee, instructions), atol=1e-5)
    doc = json.loads((tmp_path / 'p' / 'policy.json').read_text())
    assert doc['format_version'] == 1 and doc['recipe']['name'] == 'bc_expert'
    assert doc['config']['channels'] == list(TINY.channels)
    assert loaded.meta['real_success'] == {'mean_pct': 12.5}


def test_act_equals_act_batch_row_by_row(bc, episodes):
    images, ee, instructions, _ = batch(episodes, 6)
    assert isinstance(bc, Policy) and isinstance(bc, BatchPolicy)
    bc.reset()
    one = np.stack([bc.act(Observation(i, e, t, 0)) for i, e, t in zip(images, ee, instructions)])
    np.testing.assert_allclose(one, bc.act_batch(images, ee, instructions), atol=1e-6)
    assert one.dtype == np.float32 and one.shape == (6, 2)


def test_colour_only_cannot_tell_shapes_apart_but_bc_can(bc, colour_only, episodes):
    images, ee, _, _ = batch(episodes, 8)
    assert colour_only.instruction_text(RED_STAR) == 'push the red to the top left corner'
    cube = colour_only.act_batch(images, ee, [RED_CUBE] * 8)
    star = colour_only.act_batch(images, ee, [RED_STAR] * 8)
    np.testing.assert_array_equal(cube, star)
    differs = np.abs(bc.act_batch(images, ee, [RED_CUBE] * 8)
                     - bc.act_batch(images, ee, [RED_STAR] * 8)).max()
    assert differs > 1e-4, differs


def test_bad_inputs_are_refused_with_what_to_do(bc, episodes):
    images, ee, instructions, _ = batch(episodes, 2)
    with pytest.raises(ValueError, match=r'64x64 rgb8.*got uint8\[2, 32, 32, 3\]'):
        bc.act_batch(images[:, :32, :32], ee, instructions)
    with pytest.raises(ValueError, match='64x64 rgb8.*float32'):
        bc.act_batch(images.astype(np.float32), ee, instructions)
    with pytest.raises(ValueError, match='ee_xy must be finite'):
        bc.act_batch(images, np.array([[np.nan, 0.0], [0.0, 0.0]], np.float32), instructions)
    with pytest.raises(ValueError, match='one instruction string per image'):
        bc.act_batch(images, ee, instructions[:1])
    with pytest.raises(ValueError, match=r"unknown policy 'bc_huge'.*bc_full.*colour_only"):
        load_policy('bc_huge')


def test_non_finite_network_output_becomes_zero_and_is_counted(bc, episodes):
    images, ee, instructions, _ = batch(episodes, 3)
    nan = LearnedPolicy(bc.config, meta=bc.meta)
    nan.net.load_state_dict(bc.net.state_dict())
    with np.errstate(invalid='ignore'):
        nan.net.head[-1].bias.data[:] = float('nan')
    assert not nan.act_batch(images, ee, instructions).any()
    assert nan.non_finite == 3


def test_missing_corrupt_and_foreign_files_give_clear_errors(bc, tmp_path):
    with pytest.raises(FileNotFoundError, match='not a policy directory.*wm-ros train policy'):
        LearnedPolicy.load(tmp_path)
    path = bc.save(tmp_path / 'p')
    weights = (path / 'policy.safetensors').read_bytes()
    (path / 'policy.safetensors').write_bytes(weights[:len(weights) // 2])
    with pytest.raises(PolicyFileError, match='corrupt.*re-train'):
        LearnedPolicy.load(path)
    (path / 'policy.safetensors').write_bytes(weights)
    meta = (path / 'policy.json').read_text()
    (path / 'policy.json').write_text(meta[:40])
    with pytest.raises(PolicyFileError, match='policy.json is corrupt'):
        LearnedPolicy.load(path)
    (path / 'policy.json').write_text(meta.replace('"format_version": 1', '"format_version": 7'))
    with pytest.raises(PolicyFileError, match='format_version 7, this wm_ros reads 1'):
        LearnedPolicy.load(path)


def test_cli_trains_a_recipe_then_measures_and_stores_its_real_success(episodes, tmp_path,
                                                                       capsys):
    out = tmp_path / 'bc_50'
    assert cli(['train', 'policy', '--recipe', 'bc_50', '--config', 'tiny', '--data',
                str(episodes[1]), '--out', str(out), '--episodes', '0', '--set', 'steps=30']) == 0
    assert load_policy(out).meta['training']['episodes'] == 8      # fewer than 50 exist
    assert 'real_success' not in load_policy(out).meta
    assert cli(['eval', 'policies', '--policies', str(out), '--episodes', '1', '--store']) == 0
    assert f'| {out} |' in capsys.readouterr().out
    success = load_policy(out).meta['real_success']
    assert set(success['families']) == set(ZOO_FAMILIES) and success['seed'] == 7000
    assert all(f['n'] == 1 for f in success['families'].values())
    assert cli(['train', 'policy', '--recipe', 'bc_huge', '--data', str(episodes[1])]) == 2


@pytest.mark.parametrize('name', list(ZOO))
def test_every_shipped_policy_loads_acts_and_knows_its_real_success(name):
    assert (models_dir() / name / 'policy.safetensors').stat().st_size < 2_000_000
    policy = load_policy(name)
    success = policy.meta['real_success']
    assert set(success['families']) == set(ZOO_FAMILIES)
    assert min(f['n'] for f in success['families'].values()) >= 20
    env = TabletopEnv(TabletopConfig(task='block_to_region'))
    try:
        obs, info = env.reset(seed=3)
        action = policy.act(Observation.from_step(obs, info))
    finally:
        env.close()
    assert action.shape == (2,) and np.isfinite(action).all()
    assert np.abs(action).max() <= 0.2 + 1e-6 and np.abs(action).max() > 0.01


def test_shipped_zoo_spreads_from_poor_to_good():
    means = {n: load_policy(n).meta['real_success']['mean_pct'] for n in ZOO}
    print(means)
    assert len(means) >= 6
    assert min(means.values()) <= 10 and max(means.values()) >= 40, means
    assert means['bc_full'] >= means['bc_50'] + 20, means       # demonstrations matter
    assert means['bc_full'] >= means['bc_short'] + 20, means    # and so does training
