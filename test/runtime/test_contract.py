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
"""
One contract test over every runtime of every family and every Env.

The cases come from the runtime registry (:func:`wm_ros.runtime.registry.registered`):
every registered (format, backend) pair runs through the contract with a small model of
its family built here in seconds (a tiny object-slot, latent-grid and free-slot model
trained on a few tabletop episodes, the copy-last directory, the golden version-2 file),
and so do the shipped models. A format registered without a builder here fails, so a new
family cannot be added untested. Every Env (the tabletop, and the imagination on every
family, single and batched) must behave the same from outside: that is what lets the
planner, evaluator and nodes ignore which model family they run.
"""

from pathlib import Path

import numpy as np
import pytest

from wm_ros import artefacts
from wm_ros.episodes.env import BatchEnv, Start
from wm_ros.episodes.imagination import ImaginationEnv
from wm_ros.episodes.imagined_env import ImaginedEnv
from wm_ros.interfaces import Env
from wm_ros.model import checkpoint, free_slots, jepa, latent
from wm_ros.model.config import tabletop_world
from wm_ros.runtime import copy_last, load_runtime
from wm_ros.runtime.base import (Embedding, ObjectReadout, RuntimeInputError, State,
                                 Uncertainty, WorldModelRuntime)
from wm_ros.runtime.registry import model_format, registered
from wm_ros.sim.scene import world_spec
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = artefacts.WORLD_MODEL
GOLDEN = ROOT / 'test' / 'golden' / 'tiny_world_model'       # version-2 file, barely trained


def _object_slots(data: Path, out: Path) -> Path:
    from wm_ros.model.config import load_config
    from wm_ros.model.export import export
    from wm_ros.model.train import train
    train([data], out, load_config('tiny'), progress=False, checkpoint_every=0)
    export(out, out / 'onnx')
    return out


def _latent_grid(data: Path, out: Path) -> Path:
    from wm_ros.model.latent_train import train
    train([data], out, latent.load_config('tiny', steps=10), progress=False)
    latent.export(out, out / 'onnx')
    return out


def _free_slots(data: Path, out: Path) -> Path:
    from wm_ros.model.free_slots_train import train
    train([data], out, free_slots.load_config('tiny', steps=10), progress=False)
    free_slots.export(out, out / 'onnx')
    return out


def _jepa(data: Path, out: Path) -> Path:
    from wm_ros.model.jepa_train import train
    train([data], out, jepa.load_config('tiny', steps=10), progress=False)
    jepa.export(out, out / 'onnx')
    return out


# format -> how to build a small model directory of it from tabletop shards (seconds)
BUILDERS = {
    checkpoint.FORMAT: _object_slots,
    checkpoint.LEGACY_FORMAT[0]: lambda data, out: GOLDEN,
    latent.FORMAT: _latent_grid,
    free_slots.FORMAT: _free_slots,
    jepa.FORMAT: _jepa,
    copy_last.FORMAT: lambda data, out: copy_last.save(out),
}
CASES = ([('tiny', fmt, backend) for fmt, backend in sorted(registered())]
         + [('shipped', name, backend) for name in ('world_model', 'free_slots')
            for backend in ('torch', 'onnxruntime')])


@pytest.fixture(scope='module')
def family_model(tmp_path_factory):
    """Return ``model_dir(format)``: a small model directory of ``format``, built once."""
    built: dict[str, Path] = {}

    def model_dir(fmt: str) -> Path:
        if fmt not in BUILDERS:
            pytest.fail(f'model format {fmt!r} is registered in wm_ros.runtime.registry but '
                        f'has no contract case: add a tiny builder to BUILDERS in {__file__}')
        if fmt not in built:
            if 'data' not in built:
                from wm_ros.episodes.collect import collect
                built['data'] = tmp_path_factory.mktemp('episodes')
                collect(built['data'], 3, seed=11, mix={'expert': 1.0}, shard_size=3,
                        max_steps=30, progress=False)
            built[fmt] = BUILDERS[fmt](built['data'], tmp_path_factory.mktemp(fmt))
        return built[fmt]
    return model_dir


def test_every_registered_format_has_a_contract_case():
    missing = sorted({fmt for fmt, _ in registered()} - set(BUILDERS))
    assert not missing, (f'runtime formats {missing} are registered but have no contract '
                         f'case: add a tiny builder to BUILDERS in {__file__}')


@pytest.fixture(scope='module')
def frames():
    env = TabletopEnv(TabletopConfig())
    try:
        obs = [env.reset(seed=s)[0] for s in (3, 4, 5)]
    finally:
        env.close()
    return (np.stack([o['image'] for o in obs]),
            np.stack([o['ee_xy'] for o in obs]).astype(np.float32))


@pytest.fixture(scope='module', params=CASES, ids=lambda c: '-'.join(c))
def runtime(request, family_model):
    source, name, backend = request.param
    model = family_model(name) if source == 'tiny' else artefacts.MODELS / name
    runtime = load_runtime(model, backend)
    if source == 'tiny':          # the case runs the class the registry names for the pair
        assert model_format(model) == name
        cls = type(runtime)
        assert f'{cls.__module__}:{cls.__name__}' == registered()[(name, backend)]
    runtime.trained_well = source == 'shipped' and name == 'world_model'
    return runtime


def test_every_runtime_keeps_the_contract(runtime, frames):
    images, ee = frames
    assert isinstance(runtime, WorldModelRuntime)
    state = runtime.encode(images, ee)
    assert isinstance(state, State) and state.batch == 3
    assert set(state.keys()) == set(runtime.state_spec.keys)     # keys come from model.json
    runtime.state_spec.check(state)
    actions = np.tile(np.float32([0.2, 0.0]), (3, 4, 1))
    states = list(runtime.rollout(state, actions))
    assert len(states) == 4
    stepped = runtime.step(state, actions)
    for key in runtime.state_spec.keys:                        # step == last of rollout
        np.testing.assert_array_equal(stepped[key], states[-1][key])
    decoded, ee_out = runtime.decode(stepped)
    assert decoded.dtype == np.uint8 and decoded.shape == (3, 64, 64, 3)
    assert ee_out.shape == (3, 2)
    assert np.all(ee_out[:, 0] > ee[:, 0] + 0.05)              # 4 steps right at 0.2 m/s
    # batches slice and stack without knowing what is inside
    again = State.concat([stepped.select(slice(0, 1)), stepped.select([1, 2])])
    np.testing.assert_array_equal(runtime.decode(again)[0], decoded)
    # a command beyond float32's range is clipped like any other over-limit command
    huge = runtime.step(state, np.full((3, 1, 2), 1e39))
    limit = runtime.step(state, np.full((3, 1, 2), 0.2, np.float32))
    np.testing.assert_allclose(runtime.decode(huge)[1], runtime.decode(limit)[1], atol=1e-6)
    with pytest.raises(RuntimeInputError, match='NaN'):
        runtime.step(state, np.full((3, 1, 2), np.nan))
    with pytest.raises(RuntimeInputError, match='rgb8'):
        runtime.encode(images[:, :32], ee)
    with pytest.raises(RuntimeInputError, match='another model|expects'):
        runtime.step(State({'something': np.zeros((3, 2))}), actions)


def test_a_degenerate_state_steps_to_finite_numbers(runtime, frames):
    """Blocks on top of each other and the pusher (no direction between them) stay finite."""
    state = runtime.encode(*frames)
    keys = runtime.state_spec.keys
    flat = State({k: np.zeros_like(state[k]) if state[k].dtype.kind == 'f' and k != 'present'
                  else state[k] for k in keys})
    stepped = runtime.step(flat, np.zeros((3, 2, 2), np.float32))
    for key in keys:
        assert np.isfinite(stepped[key].astype(np.float64)).all(), key
    images, _ = runtime.decode(stepped)
    assert images.shape == (3, 64, 64, 3)


@pytest.mark.parametrize('backend', ['torch', 'onnxruntime'])
def test_a_rollout_over_the_used_slots_moves_every_block_as_over_all_slots(backend, frames):
    """Leaving empty slots out of the steps (2x for a planner) changes no block or frame."""
    runtime = load_runtime(SHIPPED, backend)
    assert runtime.compact_slots, 'the shipped export should have a dynamic slot axis'
    state = runtime.encode(*frames)
    present = state['present'].copy()
    present[1, :2] = 0.0                        # rows hold different blocks; one holds none
    present[2] = 0.0
    state = state.updated({'present': present})
    used = present > 0.5
    assert used[0].sum() >= 2 and not used.any(0).all()        # some slots are left out
    first = np.argmax(used[0])                  # row 0's pusher drives through its block
    heading = state['pos'][0, first] - state['ee'][0]
    steps = int(np.linalg.norm(heading) / 0.02) + 5
    actions = np.tile(np.float32(0.2 * heading / np.linalg.norm(heading)), (3, steps, 1))
    fast = list(runtime.rollout(state, actions))
    runtime.compact_slots = False
    try:
        full = list(runtime.rollout(state, actions))
    finally:
        runtime.compact_slots = True
    assert np.linalg.norm(full[-1]['pos'][0, first] - state['pos'][0, first]) > 0.01  # pushed
    for a, b in zip(fast, full):
        for key in ('kind', 'present'):
            np.testing.assert_array_equal(a[key], b[key])
        for key in ('ee', 'prev_ee', 'uncertainty'):
            np.testing.assert_allclose(a[key], b[key], atol=1e-6)
        for key in ('pos', 'yaw', 'prev_pos'):
            np.testing.assert_allclose(a[key][used], b[key][used], atol=1e-6)
        images = [runtime.decode(s)[0].astype(int) for s in (a, b)]
        assert np.abs(images[0] - images[1]).max() <= 1


def test_onnxruntime_worker_threads_sleep_between_runs_unless_asked(frames):
    """A spinning ORT pool starved the policy and reward model beside it (3x slower)."""
    entry = 'session.intra_op.allow_spinning'
    quiet = load_runtime(GOLDEN, 'onnxruntime', threads=2)
    busy = load_runtime(GOLDEN, 'onnxruntime', threads=2, spinning=True)
    for name in quiet.sessions:
        assert quiet.sessions[name].get_session_options().get_session_config_entry(entry) == '0'
        assert busy.sessions[name].get_session_options().get_session_config_entry(entry) == '1'
    state, still = quiet.encode(*frames), np.zeros((3, 2), np.float32)
    np.testing.assert_array_equal(quiet.decode(quiet.step(state, still))[0],
                                  busy.decode(busy.step(state, still))[0])


def test_capabilities_are_what_the_model_file_declares(runtime, frames):
    state = runtime.encode(*frames)
    if isinstance(runtime, ObjectReadout):
        objects = runtime.objects(state)
        assert objects.pos.shape[:2] == objects.kind.shape == objects.present.shape
        assert objects.present.dtype == bool
        if runtime.trained_well:
            assert objects.present.sum(1).min() >= 4           # every scene has 4+ blocks
        assert all(name in runtime.kinds for name in objects.names(0))
    if isinstance(runtime, Uncertainty):
        np.testing.assert_array_equal(runtime.uncertainty(state), 0.0)   # nothing stepped
    if isinstance(runtime, Embedding):
        z = runtime.embedding(state)
        assert z.dtype == np.float32 and z.shape == (3, runtime.embedding_dim)
        np.testing.assert_allclose(runtime.embed(*frames), z, atol=1e-5)
        stepped = runtime.embedding(runtime.step(state, np.full((3, 2, 2), 0.2, np.float32)))
        assert stepped.shape == z.shape and np.isfinite(stepped).all()


@pytest.fixture(scope='module',
                params=['tabletop'] + sorted({f'imagined-{fmt}' for fmt, _ in registered()}))
def env(request, family_model):
    if request.param == 'tabletop':
        made = TabletopEnv(TabletopConfig(max_steps=6))
    else:
        fmt = request.param.removeprefix('imagined-')
        made = ImaginedEnv(load_runtime(family_model(fmt), 'onnxruntime'), max_steps=6)
    yield request.param, made
    made.close()


def test_every_env_keeps_the_contract(env):
    name, made = env
    assert isinstance(made, Env)
    obs, info = made.reset(seed=7, options={'task': 'separate'} if name == 'tabletop' else None)
    assert obs['image'].dtype == np.uint8 and obs['image'].shape == (64, 64, 3)
    assert obs['ee_xy'].dtype == np.float32 and obs['ee_xy'].shape == (2,)
    assert info['instruction'] and info['t'] == 0
    start = obs['ee_xy'].copy()
    for t in range(6):
        obs, reward, terminated, truncated, info = made.step(np.float32([0.0, 0.2]))
        assert info['t'] == t + 1 and isinstance(reward, float)
        if terminated:
            break
    assert obs['ee_xy'][1] > start[1] + 0.05                   # the pusher went up
    if name == 'tabletop' or isinstance(made.runtime, ObjectReadout):   # objects: a judge
        assert isinstance(info['success'], bool)
    else:
        assert 'success' not in info                           # no read-out: no judge


@pytest.mark.parametrize('fmt', sorted({fmt for fmt, _ in registered()}))
def test_every_family_runs_in_the_batched_imagination(fmt, family_model, frames):
    """The episode driver's imagined env takes any family; rows drop out as they end."""
    images, ee = frames
    env = ImaginationEnv(load_runtime(family_model(fmt), 'onnxruntime'))
    assert isinstance(env, BatchEnv)
    assert env.can_judge == isinstance(env.runtime, ObjectReadout)
    starts = [Start.from_frame(images[i], ee[i], 'push the red cube to the centre', k=i)
              for i in range(3)]
    obs, infos = env.reset(starts)
    assert obs.image.shape == (3, 64, 64, 3) and obs.image.dtype == np.uint8
    assert len(infos) == 3 and obs.rows.tolist() == [0, 1, 2]
    up = np.tile(np.float32([0.0, 0.2]), (3, 1))
    for _ in range(3):
        obs, _, success, infos = env.step(up)
    assert success.dtype == bool and success.shape == (3,)
    assert np.all(obs.ee_xy[:, 1] > ee[:, 1] + 0.04)             # the pusher went up
    obs, _, success, _ = env.step(up[:2], rows=np.array([0, 2]))  # row 1 ended
    assert obs.rows.tolist() == [0, 2] and obs.image.shape[0] == success.shape[0] == 2
    env.close()


def test_world_config_matches_the_tabletop():
    """What the model knows of the world is the tabletop's, through the config only."""
    world = tabletop_world()
    spec = world_spec()
    assert list(world.colours) == spec['colours'] and list(world.shapes) == spec['shapes']
    np.testing.assert_allclose(world.colour_rgb, spec['colour_rgb'])
    np.testing.assert_allclose(world.shape_centroids, spec['shape_centroids'], atol=1e-5)
    assert list(world.symmetry) == spec['symmetry']
    assert world.block_radius == spec['block_radius']
    assert world.pusher_radius == spec['pusher_radius']
    np.testing.assert_allclose(world.board_rgb, spec['board_rgb'])
    np.testing.assert_allclose(world.pusher_rgb, spec['pusher_rgb'])
    assert len(world.shape_hulls) == len(spec['shape_hulls'])
    for mine, theirs in zip(world.shape_hulls, spec['shape_hulls']):
        np.testing.assert_allclose(np.reshape(mine, (-1, 2)), np.reshape(theirs, (-1, 2)),
                                   atol=1e-5)
