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

"""World model: training, checkpoints, export, the two runtimes, ImaginedEnv, bad input."""

import json
from pathlib import Path
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file

from wm_ros.cli import main as cli
from wm_ros.episodes.collect import collect
from wm_ros.episodes.imagined_env import ImaginedEnv
from wm_ros.evaluate import fidelity
from wm_ros.evaluate.metrics import classify, locate
from wm_ros.model import checkpoint
from wm_ros.model.checkpoint import ModelFileError
from wm_ros.model.config import load_config
from wm_ros.model.data import load_episodes
from wm_ros.model.export import export
from wm_ros.model.train import train
from wm_ros.runtime import load_runtime
from wm_ros.runtime.base import RuntimeInputError
from wm_ros.sim.bag import export_mcap
from wm_ros.sim.dataset import iter_episodes

GOLDEN = Path(__file__).resolve().parents[1] / 'golden' / 'tiny_world_model'


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp('wm_data')
    collect(out, 12, seed=5, shard_size=6, max_steps=40, progress=False)
    return out


@pytest.fixture(scope='module')
def trained(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp('wm_model')
    stats = train([data_dir], out, load_config('tiny'), progress=False)
    export(out, out / 'onnx')
    return out, stats


def test_tiny_training_lowers_every_stage_loss(trained):
    out, stats = trained
    for stage in ('encoder', 'decoder', 'dynamics'):
        assert stats['final_loss'][stage] < 0.9 * stats['first_loss'][stage], stage
    meta = json.loads((out / 'model.json').read_text())
    assert meta['format_version'] == checkpoint.FORMAT_VERSION
    assert meta['image_size'] == 64 and meta['control_hz'] == 10.0
    assert meta['action_scale']['max_speed_m_s'] == 0.2 and len(meta['data_hash']) == 16
    assert not (out / 'checkpoint.json').exists()          # the resume file is cleaned up


def test_training_is_deterministic_and_resumes(data_dir, tmp_path):
    cfg = load_config('tiny', encoder_steps=6, decoder_steps=4, dynamics_steps=6)
    train([data_dir], tmp_path / 'a', cfg, progress=False)
    train([data_dir], tmp_path / 'b', cfg, progress=False)
    a = load_file(str(tmp_path / 'a' / 'model.safetensors'))
    b = load_file(str(tmp_path / 'b' / 'model.safetensors'))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    # a run interrupted in the decoder stage resumes from its checkpoint and ends the same
    import wm_ros.model.train as train_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_module, '_decoder_loss', interrupted)
        with pytest.raises(KeyboardInterrupt):
            train([data_dir], tmp_path / 'c', cfg, progress=False, checkpoint_every=2)
    assert (tmp_path / 'c' / 'checkpoint.json').is_file()
    stats = train([data_dir], tmp_path / 'c', cfg, progress=False, resume=True)
    assert stats['resumed_from'] == {'stage': 'encoder', 'step': 6}
    c = load_file(str(tmp_path / 'c' / 'model.safetensors'))
    assert all(np.array_equal(a[k], c[k]) for k in a)


def test_training_device_auto_uses_what_there_is_and_cuda_without_one_says_so(
        data_dir, tmp_path):
    import torch
    cfg = load_config('tiny', encoder_steps=2, decoder_steps=2, dynamics_steps=2, device='auto')
    stats = train([data_dir], tmp_path / 'auto', cfg, progress=False)
    assert stats['device'] == ('cuda' if torch.cuda.is_available() else 'cpu')
    assert load_runtime(tmp_path / 'auto', 'torch') is not None     # saved for any host
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='no CUDA device.*device=cpu'):
            train([data_dir], tmp_path / 'cuda', load_config('tiny', device='cuda'),
                  progress=False)
    with pytest.raises(Exception, match='device must be cpu, cuda'):
        load_config('tiny', device='tpu')


def test_training_from_an_mcap_bag(data_dir, tmp_path):
    episode = next(iter_episodes(data_dir))
    bag = export_mcap(episode, tmp_path / 'bag')
    cfg = load_config('tiny', encoder_steps=2, decoder_steps=2, dynamics_steps=2, unroll=2)
    stats = train([bag], tmp_path / 'model', cfg, progress=False)
    assert stats['episodes'] == 1 and stats['frames'] == len(episode.images)


def test_torch_and_onnxruntime_agree_over_16_steps(trained, data_dir):
    out, _ = trained
    torch_rt, ort_rt = load_runtime(out, 'torch'), load_runtime(out, 'onnxruntime')
    assert ort_rt.providers[-1] == 'CPUExecutionProvider'
    episodes = list(iter_episodes(data_dir))[:4]
    images = np.stack([e.images[0] for e in episodes])
    ee = np.stack([e.ee_xy[0] for e in episodes])
    actions = np.random.default_rng(0).uniform(-0.3, 0.3, (4, 16, 2)).astype(np.float32)
    states = [rt.encode(images, ee) for rt in (torch_rt, ort_rt)]
    np.testing.assert_array_equal(states[0]['kind'], states[1]['kind'])
    for s_t, s_o in zip(torch_rt.rollout(states[0], actions), ort_rt.rollout(states[1], actions)):
        np.testing.assert_allclose(s_t['pos'], s_o['pos'], atol=1e-4)
        np.testing.assert_allclose(s_t['ee'], s_o['ee'], atol=1e-5)
        np.testing.assert_allclose(s_t['uncertainty'], s_o['uncertainty'], atol=1e-4)
    frames = [rt.decode(s)[0] for rt, s in ((torch_rt, s_t), (ort_rt, s_o))]
    diff = np.abs(frames[0].astype(int) - frames[1].astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01       # same uint8 frame to rounding


def test_rollout_moves_the_pusher_with_the_command(trained, data_dir):
    runtime = load_runtime(trained[0], 'onnxruntime')
    episode = next(iter_episodes(data_dir))
    state = runtime.encode(episode.images[0], episode.ee_xy[0])
    after = runtime.step(state, np.tile([[0.2, 0.0]], (1, 5, 1)))
    moved = after['ee'][0] - state['ee'][0]
    assert moved[0] > 0.05 and abs(moved[1]) < 0.02               # 5 steps right at 0.2 m/s


def test_bad_runtime_input_is_refused_and_names_the_problem(trained):
    runtime = load_runtime(trained[0], 'torch')
    good = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(RuntimeInputError, match='64x64 rgb8'):
        runtime.encode(np.zeros((32, 32, 3), np.uint8), [0, 0])
    with pytest.raises(RuntimeInputError, match='uint8'):
        runtime.encode(good.astype(np.float32), [0, 0])
    with pytest.raises(RuntimeInputError, match='finite'):
        runtime.encode(good, [np.nan, 0])
    state = runtime.encode(good, [0.0, 0.0])
    before = state['pos'].copy()
    with pytest.raises(RuntimeInputError, match='NaN'):
        runtime.step(state, np.array([[[0.1, 0.0], [np.nan, 0.0]]], np.float32))
    with pytest.raises(RuntimeInputError, match=r'float32\[1, T, 2\]'):
        runtime.step(state, np.zeros((2, 3), np.float32))
    assert np.array_equal(state['pos'], before)                      # nothing was stepped
    # out-of-range commands are clipped to the model's speed limit like the robot does
    fast = runtime.step(state, np.array([[5.0, 0.0]], np.float32))
    limit = runtime.step(state, np.array([[0.2, 0.0]], np.float32))
    np.testing.assert_allclose(fast['ee'], limit['ee'], atol=1e-6)


def test_bad_model_files_get_clear_errors(trained, tmp_path):
    src = trained[0]
    with pytest.raises(ModelFileError, match='does not exist'):
        load_runtime(tmp_path / 'nowhere', 'torch')
    bad = tmp_path / 'version'
    shutil.copytree(src, bad)
    meta = json.loads((bad / 'model.json').read_text())
    (bad / 'model.json').write_text(json.dumps({**meta, 'format_version': 99}))
    with pytest.raises(ModelFileError, match='format_version 99'):
        load_runtime(bad, 'torch')
    shape = tmp_path / 'shape'
    shutil.copytree(src, shape)
    (shape / 'model.json').write_text(json.dumps(
        {**meta, 'config': {**meta['config'], 'hidden': 32}}))
    with pytest.raises(ModelFileError, match='do not fit the config'):
        load_runtime(shape, 'torch')
    corrupt = tmp_path / 'corrupt'
    shutil.copytree(src, corrupt)
    (corrupt / 'model.safetensors').write_bytes(b'\x00' * 100)
    with pytest.raises(ModelFileError, match='corrupt'):
        load_runtime(corrupt, 'torch')
    onnx_bad = corrupt / 'onnx'
    (onnx_bad / 'step.onnx').write_bytes(b'not a protobuf at all')
    with pytest.raises(ModelFileError, match='step.onnx is not a loadable ONNX graph'):
        load_runtime(onnx_bad, 'onnxruntime')
    (onnx_bad / 'step.onnx').unlink()
    with pytest.raises(ModelFileError, match='wm-ros export'):
        load_runtime(onnx_bad, 'onnxruntime')
    with pytest.raises(ValueError, match='unknown backend'):
        load_runtime(src, 'tensorflow')
    assert cli(['eval', 'fidelity', '--model', str(tmp_path / 'nowhere'), '--data',
                str(tmp_path)]) == 2


def test_model_files_are_not_pickles(trained):
    out = trained[0]
    for path in list(out.glob('*')) + list((out / 'onnx').glob('*')):
        if path.is_file():
            assert not path.read_bytes().startswith(b'\x80'), f'{path} looks like a pickle'


def test_golden_artefact_still_loads_and_predicts_the_same():
    """A stored tiny model and its outputs: a format or numerics change shows up here."""
    expected = np.load(GOLDEN / 'expected.npz')
    for backend in ('torch', 'onnxruntime'):
        runtime = load_runtime(GOLDEN, backend)
        state = runtime.encode(expected['images'], expected['ee'])
        np.testing.assert_array_equal(state['kind'], expected['kind'])
        state = runtime.step(state, expected['actions'])
        np.testing.assert_allclose(state['pos'], expected['pos'], atol=1e-4)
        np.testing.assert_allclose(state['ee'], expected['ee_after'], atol=1e-5)
        images, _ = runtime.decode(state)
        assert np.abs(images.astype(int) - expected['frames'].astype(int)).max() <= 1


def test_imagined_env_follows_the_gymnasium_api(trained, data_dir):
    from gymnasium.utils.env_checker import check_env
    runtime = load_runtime(trained[0], 'onnxruntime')
    env = ImaginedEnv(runtime, max_steps=5)
    check_env(env, skip_render_check=True)
    episode = next(iter_episodes(data_dir))
    obs, info = env.reset(options={'image': episode.images[0], 'ee_xy': episode.ee_xy[0],
                                   'task': episode.task})
    assert obs['image'].shape == (64, 64, 3) and info['instruction'] == episode.instruction
    np.testing.assert_allclose(obs['ee_xy'], episode.ee_xy[0], atol=1e-5)
    assert 'success' in info and info['uncertainty'] == 0.0
    for _ in range(5):
        obs, reward, terminated, truncated, info = env.step(np.array([0.0, 0.2], np.float32))
    assert truncated and info['t'] == 5 and info['uncertainty'] >= 0.0
    assert obs['ee_xy'][1] > episode.ee_xy[0][1] + 0.05           # it went up the board
    with pytest.raises(ValueError, match='ee_xy'):
        env.reset(options={'image': episode.images[0]})
    with pytest.raises(RuntimeInputError, match='64x64'):
        env.reset(options={'image': episode.images[0][:32], 'ee_xy': [0, 0]})


def test_colour_centroids_locate_real_blocks(data_dir):
    """The fidelity metric's block finder is right on real frames (within 1 cm)."""
    errors = []
    for episode in list(iter_episodes(data_dir))[:6]:
        classes = classify(episode.images[[0, -1]])
        for j, block in enumerate(episode.scene.blocks):
            if sum(b.colour == block.colour for b in episode.scene.blocks) != 1:
                continue
            xy, count = locate(classes, block.colour, 0.25)
            for k, t in enumerate((0, len(episode))):
                if count[k] > 10:
                    errors.append(np.linalg.norm(xy[k] - episode.block_states[t, j, :2]))
    assert len(errors) > 10 and np.median(errors) < 0.01


def test_fidelity_report_has_every_horizon_and_a_grid(trained, data_dir, tmp_path):
    runtime = load_runtime(trained[0], 'torch')
    episodes, _ = load_episodes([data_dir])
    report = fidelity.evaluate(runtime, episodes, horizons=(1, 4, 8), stride=10)
    json_path, png = fidelity.write(report, episodes, tmp_path)
    saved = json.loads(json_path.read_text())
    assert sorted(saved['horizons']) == ['1', '4', '8']
    h1 = saved['horizons']['1']
    for key in ('psnr', 'psnr_copy_last', 'ssim', 'ee_error_pct', 'moved_error_median_pct',
                'vanish_rate', 'uncertainty_spearman_state_error'):
        assert key in h1
    assert 0 < h1['ssim'] <= 1 and h1['psnr'] > 10
    assert h1['ee_error_pct'] < 5                     # one step: the pusher is where it went
    assert png.stat().st_size > 1000 and set(saved['acceptance']) >= {'psnr_gain_h8_ge_3db'}
    assert '| 8 |' in fidelity.table(report)


def test_contact_projection_keeps_blocks_out_of_the_pusher_and_each_other():
    """The closed-loop lever: a pusher that keeps pushing moves the block; blocks never merge."""
    import dataclasses
    import torch
    from wm_ros.model.network import Dynamics
    dyn = Dynamics(load_config('tiny', contact_projection=True))
    world = dyn.cfg.world
    cube, cylinder = world.kinds.index('red cube'), world.kinds.index('red cylinder')
    kind = torch.tensor([[cube, cube, cylinder]])
    present, yaw = torch.ones(1, 3), torch.zeros(1, 3)
    pos = torch.tensor([[[0.0, 0.01], [0.1, 0.1], [0.1 + 0.01, 0.1]]])   # pusher inside block 0
    ee = torch.zeros(1, 2)
    out = dyn.project(pos, present, ee, kind, yaw)
    face = world.shape_hulls[0][1][0]                                  # the cube's half side
    # pushed out of the pusher along the contact line, to where its face touches the pusher
    assert abs(float(out[0, 0, 1]) - (face + world.pusher_radius)) < 1e-5
    assert abs(float(out[0, 0, 0])) < 1e-6
    # the overlapping cube and cylinder end face to round side: half side + radius apart
    gap = torch.linalg.norm(out[0, 1] - out[0, 2])
    assert abs(float(gap) - (face + world.block_radius)) < 2e-3
    # turned 45 degrees, the cube meets the pusher with a corner: pushed further
    corner = dyn.project(pos, present, ee, kind, torch.full((1, 3), np.pi / 4))
    assert float(corner[0, 0, 1]) > float(out[0, 0, 1]) + 0.008
    assert float(out.abs().max()) <= dyn.cfg.board_half                # still on the board
    # a world without hulls (models made before them): discs of 0.7 x the footprint radius
    old = Dynamics(dataclasses.replace(dyn.cfg, world=dataclasses.replace(world, shape_hulls=())))
    r = 0.7 * world.block_radius + world.pusher_radius
    assert abs(float(torch.linalg.norm(old.project(pos, present, ee, kind, yaw)[0, 0])) - r) < 1e-6
    off = Dynamics(load_config('tiny'))
    assert torch.equal(off.project(pos, present, ee, kind, yaw), pos)  # off: untouched
