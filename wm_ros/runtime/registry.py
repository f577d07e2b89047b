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
Find the runtime class for a model directory from its ``model.json`` ``format``.

Families register ``(format, backend) -> 'module:Class'`` here (imported lazily, so
``import wm_ros.runtime`` stays light), the way LeRobot registers policy classes: adding a
family adds a line, and no runtime user changes. ``load_runtime(model_dir, backend)``
reads the format and builds the runtime; unknown formats or backends raise naming what
exists.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from wm_ros.model.config import ModelFileError

_REGISTRY: dict[tuple[str, str], str] = {}


def register(format_name: str, backend: str, target: str) -> None:
    """Register ``target`` (``'package.module:Class'``) for ``format_name`` and ``backend``."""
    _REGISTRY[(format_name, backend)] = target


def registered() -> dict[tuple[str, str], str]:
    """Return a copy of the registry."""
    return dict(_REGISTRY)


register('wm_ros.object_slots', 'torch', 'wm_ros.runtime.torch_backend:TorchRuntime')
register('wm_ros.object_slots', 'onnxruntime', 'wm_ros.runtime.ort_backend:OrtRuntime')
for _backend in ('torch', 'onnxruntime'):      # numpy either way
    register('wm_ros.copy_last', _backend, 'wm_ros.runtime.copy_last:CopyLastRuntime')
# version-2 files of the same family (before the format named the family)
register('wm_ros.latent_grid', 'torch', 'wm_ros.runtime.latent_backend:TorchLatentRuntime')
register('wm_ros.latent_grid', 'onnxruntime',
         'wm_ros.runtime.latent_backend:OrtLatentRuntime')
register('wm_ros.free_slots', 'torch', 'wm_ros.runtime.free_slots_backend:TorchFreeSlotsRuntime')
register('wm_ros.free_slots', 'onnxruntime',
         'wm_ros.runtime.free_slots_backend:OrtFreeSlotsRuntime')
register('wm_ros.jepa', 'torch', 'wm_ros.runtime.jepa_backend:TorchJepaRuntime')
register('wm_ros.jepa', 'onnxruntime', 'wm_ros.runtime.jepa_backend:OrtJepaRuntime')
register('wm_ros.world_model', 'torch', 'wm_ros.runtime.torch_backend:TorchRuntime')
register('wm_ros.world_model', 'onnxruntime', 'wm_ros.runtime.ort_backend:OrtRuntime')


def model_metadata(model_dir: str | Path) -> dict:
    """Return ``model_dir/model.json`` (or its ``onnx/`` export's), whatever the family."""
    model_dir = Path(model_dir)
    for meta in (model_dir / 'model.json', model_dir / 'onnx' / 'model.json'):
        if meta.is_file():
            try:
                return json.loads(meta.read_text())
            except json.JSONDecodeError as exc:
                raise ModelFileError(f'model metadata {meta} is not valid JSON: {exc}') from None
    raise ModelFileError(f'model metadata {model_dir / "model.json"} does not exist; train a '
                         'model with `wm-ros train world-model` or pass the directory that '
                         'has it')


def model_format(model_dir: str | Path) -> str:
    """Return the ``format`` of ``model_dir/model.json`` (or its ``onnx/`` export's)."""
    return str(model_metadata(model_dir).get('format'))


def load_runtime(model_dir: str | Path, backend: str = 'torch', **kwargs):
    """Return the runtime of ``model_dir`` for ``backend`` (``torch``, ``onnxruntime``)."""
    backends = sorted({b for _, b in _REGISTRY})
    if backend not in backends:
        raise ValueError(f'unknown backend {backend!r}; use one of {backends}')
    fmt = model_format(model_dir)
    target = _REGISTRY.get((fmt, backend))
    if target is None:
        families = sorted({f for f, _ in _REGISTRY})
        raise ModelFileError(f'{model_dir}: no {backend} runtime for model format {fmt!r}; '
                             f'this wm_ros knows {families}')
    module, name = target.split(':')
    return getattr(importlib.import_module(module), name)(model_dir, **kwargs)
