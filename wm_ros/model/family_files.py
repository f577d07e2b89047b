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
Model directories of the families: ``model.safetensors`` + ``model.json`` (+ ``onnx/``).

One implementation of writing, checking and loading them, so every family refuses a
missing, corrupt, foreign or mis-shaped file with the same clear errors; a family names
its files once as a :class:`Family`. The ONNX export settings (:data:`OPSET`,
:data:`IR_VERSION`) and the wrapper that exports one method of a network
(:class:`Graph`) are shared by every family's export.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import nn

from wm_ros import config as config_io
from wm_ros.model.config import ModelFileError

WEIGHTS, META = 'model.safetensors', 'model.json'
# ONNX opset 20 and IR version 9, so ONNX Runtime 1.31 (IR <= 13) and TensorRT 10 load them
OPSET = 20
IR_VERSION = 9


def save(model: nn.Module, out_dir: str | Path, meta: dict) -> Path:
    """Write ``model``'s weights and ``meta`` into ``out_dir``; returns the directory."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()},
              str(out / WEIGHTS))
    (out / META).write_text(json.dumps(meta, indent=2))
    return out


def read_metadata(model_dir: str | Path, fmt: str, version: int, family: str,
                  make: str = '') -> dict:
    """Read ``model.json`` of a ``fmt`` model; errors name the file and how to make one."""
    path = Path(model_dir) / META
    if not path.is_file():
        raise ModelFileError(f'model metadata {path} does not exist; train a model with '
                             f'`{make or f"wm-ros train world-model --family {family}"}`')
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelFileError(f'model metadata {path} is not valid JSON: {exc}') from None
    if meta.get('format') != fmt or meta.get('format_version') != version:
        raise ModelFileError(f'{path} is {meta.get("format")!r} version '
                             f'{meta.get("format_version")}, not {fmt} {version}')
    return meta


def config_of(cls, meta: dict):
    """Return the config dataclass ``cls`` stored in ``meta`` (clear error if it does not fit)."""
    try:
        return config_io.from_dict(cls, meta['config'], source='model.json config')
    except (config_io.ConfigError, KeyError, TypeError) as exc:
        raise ModelFileError(f'model.json config does not match this wm_ros: {exc}') from None


def load_weights(model: nn.Module, model_dir: str | Path) -> nn.Module:
    """Load ``model_dir``'s weights into ``model`` (which its config built); eval mode."""
    path = Path(model_dir) / WEIGHTS
    if not path.is_file():
        raise ModelFileError(f'{path} does not exist; train the model or pass its directory')
    try:
        weights = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise ModelFileError(f'{path} is not a readable safetensors file: {exc}') from None
    wanted = model.state_dict()
    bad = sorted(k for k in wanted if k not in weights or weights[k].shape != wanted[k].shape)
    if bad:
        raise ModelFileError(f'weights in {path} do not fit the config in model.json '
                             f'(missing or wrong shape: {bad[:3]})')
    model.load_state_dict(weights)
    return model.eval()


def export_graphs(wrappers: dict[str, nn.Module], inputs: dict[str, tuple],
                  graphs: dict[str, tuple[tuple[str, ...], tuple[str, ...]]], meta: dict,
                  out_dir: str | Path) -> Path:
    """
    Export each ``wrappers[name]`` with ``inputs[name]`` as ``out_dir/<name>.onnx``.

    ``graphs[name]`` = (input names, output names); the batch axis is dynamic. Writes
    ``model.json`` = ``meta`` plus the graphs' signatures, which the ONNX Runtime backend
    checks at start-up.
    """
    import warnings

    import onnx
    import torch
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, (in_names, out_names) in graphs.items():
        path = out / f'{name}.onnx'
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(wrappers[name].eval(), inputs[name], str(path), dynamo=False,
                              opset_version=OPSET, input_names=list(in_names),
                              output_names=list(out_names),
                              dynamic_axes={n: {0: 'batch'} for n in in_names + out_names})
        graph = onnx.load(str(path))
        graph.ir_version = IR_VERSION
        onnx.checker.check_model(graph, full_check=True)
        onnx.save(graph, str(path))
    meta = dict(meta, onnx={'opset': OPSET, 'ir_version': IR_VERSION,
                            'graphs': {n: {'inputs': list(i), 'outputs': list(o)}
                                       for n, (i, o) in graphs.items()}})
    (out / META).write_text(json.dumps(meta, indent=2))
    return out


def metadata(fmt: str, version: int, cfg, state: dict, normalisation: dict,
             capabilities: tuple[str, ...] = (), data_hash: str = '', train: dict | None = None,
             **extra) -> dict:
    """
    Return the ``model.json`` of a model of config ``cfg``: what every family writes.

    ``state`` is the family's state spec, ``normalisation`` how images and positions are
    given to it; ``extra`` entries (``kinds``, ``encoder``, ...) follow ``normalisation``.
    """
    return {'format': fmt, 'format_version': version, 'config': cfg.to_dict(), 'state': state,
            'capabilities': list(capabilities), 'image_size': cfg.image_size,
            'control_hz': cfg.control_hz,
            'action_scale': {'max_speed_m_s': cfg.max_speed, 'units': 'm/s, clipped per axis'},
            'normalisation': normalisation, **extra, 'board_half': cfg.board_half,
            'data_hash': data_hash, 'train': train or {}}


@dataclass(frozen=True)
class Family:
    """A family's model directories: format and version, command name, config and network."""

    fmt: str
    version: int
    name: str           # ``wm-ros train world-model --family NAME``
    config: type
    network: type

    def read_metadata(self, model_dir: str | Path) -> dict:
        """Read and check ``model.json``; errors name the file and the fix."""
        return read_metadata(model_dir, self.fmt, self.version, self.name)

    def config_of(self, meta: dict):
        """Return the config stored in ``meta``, with a clear error if it does not parse."""
        return config_of(self.config, meta)

    def load(self, model_dir: str | Path) -> nn.Module:
        """Load a trained model (``model.safetensors`` + ``model.json``), in eval mode."""
        model = self.network(self.config_of(self.read_metadata(model_dir)))
        return load_weights(model, model_dir)


class Graph(nn.Module):
    """One method of a network as a module to export: ``forward(*x) = model.<method>(*x)``."""

    def __init__(self, model: nn.Module, method: str):
        super().__init__()
        self.m, self.method = model, method

    def forward(self, *inputs):
        """Run the method."""
        return getattr(self.m, self.method)(*inputs)


#: The graphs of a family whose state is ``(z, ee)`` (the latent grid, JEPA).
Z_EE_GRAPHS = {'encoder': (('images', 'ee_xy'), ('z', 'ee')),
               'step': (('z', 'ee', 'action'), ('next_z', 'next_ee')),
               'decoder': (('z', 'ee'), ('images', 'ee_out'))}


def export_z_ee(files: Family, model_dir: str | Path, out_dir: str | Path) -> Path:
    """
    Export a ``(z, ee)``-state family: ``encode`` / ``step`` / ``decode_uint8`` as graphs.

    The network of ``files`` has ``encode(images, ee) -> (z, ee)``, ``step(z, ee, action)``
    and ``decode_uint8(z, ee) -> (images, ee)``; writes :data:`Z_EE_GRAPHS` into ``out_dir``.
    """
    import torch
    model = files.load(model_dir)
    s = model.cfg.image_size
    images, ee = torch.zeros(2, s, s, 3, dtype=torch.uint8), torch.zeros(2, 2)
    with torch.no_grad():
        z, ee_z = model.encode(images, ee)
    return export_graphs(
        {'encoder': Graph(model, 'encode'), 'step': Graph(model, 'step'),
         'decoder': Graph(model, 'decode_uint8')},
        {'encoder': (images, ee), 'step': (z, ee_z, torch.zeros(2, 2)), 'decoder': (z, ee_z)},
        Z_EE_GRAPHS, files.read_metadata(model_dir), out_dir)
