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
GPU paths of the runtime: ONNX Runtime CUDA / TensorRT providers and torch on CUDA.

Each runs where its libraries load and is skipped with the reason elsewhere (CI has no
GPU). This file imports only the runtime, so it also runs on a bare GPU host with just
torch, onnxruntime-gpu and numpy: ``python -m pytest test/runtime/test_gpu_runtime.py``.
"""

from pathlib import Path

import numpy as np
import pytest

from wm_ros.runtime import load_runtime
from wm_ros.runtime.ort_backend import usable_providers

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / 'test' / 'golden' / 'tiny_world_model'
SHIPPED = ROOT / 'wm_ros' / 'models' / 'world_model'
MODELS = [GOLDEN] + ([SHIPPED] if (SHIPPED / 'onnx' / 'step.onnx').is_file() else [])


def _torch_cuda() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False


def _rollout(runtime, steps: int = 16):
    expected = np.load(GOLDEN / 'expected.npz')
    images = expected['images']
    if runtime.image_size != images.shape[1]:
        pytest.skip('golden frames are 64x64')
    actions = np.random.default_rng(1).uniform(-0.2, 0.2, (len(images), steps, 2))
    states = list(runtime.rollout(runtime.encode(images, expected['ee']),
                                  actions.astype(np.float32)))
    return states, runtime.decode(states[-1])[0]


def _compare(cpu, gpu):
    (s_cpu, f_cpu), (s_gpu, f_gpu) = _rollout(cpu), _rollout(gpu)
    for a, b in zip(s_cpu, s_gpu):
        keys = a.keys()
        assert keys == b.keys()
        for key in keys:
            if np.issubdtype(a[key].dtype, np.floating):           # positions: 1 mm over 16 steps
                np.testing.assert_allclose(a[key], b[key], atol=1e-3, rtol=1e-3, err_msg=key)
            else:                                                  # kinds, presence
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    diff = np.abs(f_cpu.astype(int) - f_gpu.astype(int))
    assert (diff > 2).mean() < 0.005, 'decoded frames differ beyond rounding'


@pytest.mark.parametrize('model', MODELS, ids=lambda p: p.name)
@pytest.mark.parametrize('provider', ['CUDAExecutionProvider', 'TensorrtExecutionProvider'])
def test_onnxruntime_gpu_provider_matches_cpu(provider, model, tmp_path):
    if provider not in usable_providers():
        pytest.skip(f'{provider} is not usable here (no GPU, or onnxruntime-gpu / CUDA / '
                    'TensorRT libraries not loadable); it runs on a GPU host')
    cpu = load_runtime(model, 'onnxruntime', providers=['CPUExecutionProvider'])
    gpu = load_runtime(model, 'onnxruntime', providers=[provider, 'CPUExecutionProvider'],
                       engine_cache_dir=tmp_path)
    assert gpu.providers[0] == provider
    _compare(cpu, gpu)
    if provider == 'TensorrtExecutionProvider':
        assert list(tmp_path.iterdir()), 'TensorRT wrote no engine to the cache directory'


@pytest.mark.skipif(not _torch_cuda(), reason='torch sees no CUDA device; runs on a GPU host')
@pytest.mark.parametrize('model', MODELS, ids=lambda p: p.name)
def test_torch_cuda_matches_cpu(model):
    _compare(load_runtime(model, 'torch'), load_runtime(model, 'torch', device='cuda'))


@pytest.mark.skipif(not _torch_cuda(), reason='torch sees no CUDA device; runs on a GPU host')
@pytest.mark.parametrize('model', MODELS, ids=lambda p: p.name)
def test_cuda_graph_rollouts_match_eager_ones_and_are_reused(model):
    graphed = load_runtime(model, 'torch', device='cuda')
    eager = load_runtime(model, 'torch', device='cuda', cuda_graphs=False)
    assert graphed.cuda_graphs and not eager.cuda_graphs
    _compare(eager, graphed)
    _compare(eager, graphed)                   # the second rollout replays the graph
    assert len(graphed._graphs) == 1


def test_auto_providers_never_ask_for_what_is_absent():
    providers = usable_providers()
    assert providers[-1] == 'CPUExecutionProvider'
    runtime = load_runtime(GOLDEN, 'onnxruntime')
    assert runtime.providers[0] == providers[0]
