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
``wm-ros export``: the world model as three ONNX graphs plus its metadata.

* ``encoder.onnx``  ``images`` uint8[B,S,S,3], ``ee_xy`` float32[B,2] -> the state tensors
* ``step.onnx``     ``STEP_INPUTS`` (state + ``action`` float32[B,2]) -> ``next_<name>`` state
* ``decoder.onnx``  ``DECODER_INPUTS`` -> ``images`` uint8[B,S,S,3], ``ee_out`` float32[B,2]

State tensor names are :data:`STATE_KEYS`. The batch axis is dynamic, and so is the step's
slot axis (``dynamic_slots`` in ``model.json``: a rollout steps only the used slots). Opset
20 and IR version 9 so ONNX Runtime 1.31 (IR <= 13) and TensorRT 10 load them;
``onnx.checker`` passes. ``model.json`` is copied beside them with the graph signatures added.
"""

from __future__ import annotations

import json
from pathlib import Path
import warnings

import onnx
import torch

from wm_ros.model import checkpoint
from wm_ros.model.config import SLOT_KEYS
from wm_ros.model.family_files import IR_VERSION, OPSET
from wm_ros.model.network import STATE_KEYS, WorldModel
STEP_INPUTS = ('kind', 'present', 'pos', 'yaw', 'prev_pos', 'ee', 'prev_ee', 'action')
DECODER_INPUTS = ('kind', 'present', 'pos', 'yaw', 'ee')
GRAPHS = {
    'encoder': (('images', 'ee_xy'), STATE_KEYS),
    'step': (STEP_INPUTS, tuple(f'next_{k}' for k in STATE_KEYS)),
    'decoder': (DECODER_INPUTS, ('images', 'ee_out')),
}


class _Encoder(torch.nn.Module):
    """The encoder graph: (images, ee_xy) -> state."""

    def __init__(self, model):
        super().__init__()
        self.m = model.encoder

    def forward(self, images, ee):
        return self.m(images, ee)


class _Step(torch.nn.Module):
    """The step graph: state + action -> next state (uncertainty is recomputed)."""

    def __init__(self, model):
        super().__init__()
        self.m = model.dynamics

    def forward(self, kind, present, pos, yaw, prev_pos, ee, prev_ee, action):
        return self.m(kind, present, pos, yaw, prev_pos, ee, prev_ee, None, action)


class _Decoder(torch.nn.Module):
    """The decoder graph: slots + pusher -> (images, ee)."""

    def __init__(self, model):
        super().__init__()
        self.m = model.decoder

    def forward(self, kind, present, pos, yaw, ee):
        return self.m(kind, present, pos, yaw, None, ee, None, None)


def example_inputs(model: WorldModel, batch: int = 2) -> dict[str, tuple]:
    """Return example inputs for each graph (batch ``batch``)."""
    s = model.cfg.image_size
    images = torch.zeros(batch, s, s, 3, dtype=torch.uint8)
    ee = torch.zeros(batch, 2)
    with torch.no_grad():
        state = model.encoder(images, ee)
    named = dict(zip(STATE_KEYS, state))
    return {'encoder': (images, ee),
            'step': tuple(named[k] for k in STEP_INPUTS[:-1]) + (torch.zeros(batch, 2),),
            'decoder': tuple(named[k] for k in DECODER_INPUTS)}


def export(model_dir: str | Path, out_dir: str | Path) -> Path:
    """Export the model in ``model_dir`` to ``out_dir`` (three graphs + model.json)."""
    model = checkpoint.load(model_dir)
    meta = checkpoint.read_metadata(model_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    inputs = example_inputs(model)
    wrappers = {'encoder': _Encoder(model), 'step': _Step(model), 'decoder': _Decoder(model)}
    for name, (in_names, out_names) in GRAPHS.items():
        path = out / f'{name}.onnx'
        axes = {n: {0: 'batch', 1: 'slots'} if name == 'step' and n.removeprefix('next_')
                in SLOT_KEYS else {0: 'batch'} for n in in_names + out_names}
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            torch.onnx.export(wrappers[name].eval(), inputs[name], str(path), dynamo=False,
                              opset_version=OPSET, input_names=list(in_names),
                              output_names=list(out_names), dynamic_axes=axes)
        graph = onnx.load(str(path))
        graph.ir_version = IR_VERSION
        entry = graph.metadata_props.add()
        entry.key, entry.value = 'wm_ros_format_version', str(checkpoint.FORMAT_VERSION)
        onnx.checker.check_model(graph, full_check=True)
        onnx.save(graph, str(path))
    meta['onnx'] = {'opset': OPSET, 'ir_version': IR_VERSION, 'dynamic_slots': True,
                    'graphs': {n: {'inputs': list(i), 'outputs': list(o)}
                               for n, (i, o) in GRAPHS.items()}}
    (out / checkpoint.META).write_text(json.dumps(meta, indent=2))
    return out
