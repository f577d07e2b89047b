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

"""World-model runtimes: one interface (:mod:`wm_ros.runtime.base`), two backends."""

from __future__ import annotations

from pathlib import Path


def load_runtime(model_dir: str | Path, backend: str = 'torch', **kwargs):
    """
    Return a runtime for ``model_dir``: ``torch`` (safetensors) or ``onnxruntime`` (ONNX).

    For ``onnxruntime`` the directory may be the ONNX export itself or a model directory
    with an ``onnx/`` export inside.
    """
    model_dir = Path(model_dir)
    if backend == 'torch':
        from wm_ros.runtime.torch_backend import TorchRuntime
        return TorchRuntime(model_dir, **kwargs)
    if backend == 'onnxruntime':
        from wm_ros.runtime.ort_backend import OrtRuntime
        onnx_dir = model_dir / 'onnx' if (model_dir / 'onnx' / 'step.onnx').exists() else model_dir
        return OrtRuntime(onnx_dir, **kwargs)
    raise ValueError(f"unknown backend {backend!r}; use 'torch' or 'onnxruntime'")
