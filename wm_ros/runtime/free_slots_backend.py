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
Runtimes of the free-slot family (:mod:`wm_ros.model.free_slots`): torch, ONNX Runtime.

Both encode with the same weightless discovery in Python (:mod:`wm_ros.model.discover`);
the step and the drawing run in torch or in the exported graphs. Both read the slots out
with ``objects(state)`` (position and yaw, every slot of kind ``'object'``), but do not
declare :class:`~wm_ros.runtime.base.ObjectReadout`: its users read ``kinds`` as the
task's names (fidelity's kind figures and checks, the imagined env's task judge), which
slots found without labels do not have; declaring it would fail the tabletop's kind
checks and let the imagined env judge tasks it cannot read. They declare
:class:`~wm_ros.runtime.base.ObjectPoses` instead (goal-image planning matches objects by
pose): a slot's yaw counts from its sprite as encoded, and ``turn`` relates two
encodings by fitting one's sprites turned to the other's (as training tracks yaw,
:mod:`wm_ros.model.free_slots_yaw`). No ensemble.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from wm_ros.model import free_slots
from wm_ros.runtime.base import Objects, State
from wm_ros.runtime.ort_backend import OrtGraphRuntime
from wm_ros.runtime.torch_model import TorchModelRuntime


COARSE_TURN = np.deg2rad(np.arange(-180.0, 180.0, 4.0))     # turn(): every 4 degrees
FINE_TURN = np.deg2rad(np.arange(-2.0, 2.1, 0.5))           # then around the best


class _Encode:
    """Encoding, the slots' read-out and :class:`~wm_ros.runtime.base.ObjectPoses` (both)."""

    cfg: free_slots.FreeSlotsConfig

    def _encode(self, images, ee) -> State:
        return State(free_slots.encode_frames(self.cfg, images, ee))

    def objects(self, state: State) -> Objects:
        """Return the slots of ``state``, every one of kind ``'object'``, with their yaw."""
        present = state['present'] > 0.5
        turned = 'yaw' in state.keys()  # noqa: SIM118 - State has no __contains__
        yaw = state['yaw'] if turned else np.zeros(present.shape, np.float32)
        return Objects(('object',), np.zeros(present.shape, np.int64), present, state['pos'],
                       yaw)

    def pusher(self, state: State) -> np.ndarray:
        """Return float32[B, 2]: the pusher's position (m) in ``state``."""
        return np.asarray(state['ee'], np.float32)

    def turn(self, state: State, reference: State) -> np.ndarray:
        """Return float32[M, N]: each slot's turn to look like each reference slot (row 0)."""
        from wm_ros.model.free_slots_yaw import turned
        px = 2 * self.cfg.board_half / self.cfg.image_size
        out = np.zeros((state['pos'].shape[1], reference['pos'].shape[1]), np.float32)
        for m in np.flatnonzero(state['present'][0] > 0.5):
            ref, ref_offset = state['sprite'][0, m], state['offset'][0, m]
            for n in np.flatnonzero(reference['present'][0] > 0.5):
                target = torch.from_numpy(np.asarray(reference['sprite'][0, n], np.float32))
                best = 0.0
                for steps in (COARSE_TURN, FINE_TURN):
                    angles = best + steps
                    fit = turned(ref, ref_offset, reference['offset'][0, n], angles, px)
                    best = float(angles[int(((fit - target) ** 2).sum((1, 2, 3)).argmin())])
                out[m, n] = (best + np.pi) % (2 * np.pi) - np.pi
        return out


class TorchFreeSlotsRuntime(_Encode, TorchModelRuntime):
    """Run a free-slot model directory with torch (CPU or CUDA)."""

    def __init__(self, model: str | Path | free_slots.FreeSlotsModel, device: str = 'cpu',
                 threads: int | None = None):
        if not isinstance(model, free_slots.FreeSlotsModel):
            model = free_slots.FILES.load(model)
        super().__init__(model, free_slots.state_spec(model.cfg), device, threads)
        self.cfg = model.cfg
        self._graphs = free_slots.graphs(model.cfg)

    def _t(self, state: State, keys, action=None):
        return self._tensors(*(action if k == 'action' else state[k] for k in keys))

    @torch.inference_mode()
    def _step(self, state: State, action) -> State:
        inputs, outputs = self._graphs['step']
        out = self.model.step(*self._t(state, inputs, action))
        new = {k.removeprefix('next_'): v.cpu().numpy() for k, v in zip(outputs, out)}
        return state.updated(new)

    @torch.inference_mode()
    def _decode(self, state: State):
        images, ee = self.model.decode_uint8(*self._t(state, self._graphs['decoder'][0]))
        return images.cpu().numpy(), ee.cpu().numpy()


class OrtFreeSlotsRuntime(_Encode, OrtGraphRuntime):
    """The free-slot family's exported step and decoder graphs with ONNX Runtime."""

    graphs = free_slots.GRAPHS

    def _metadata(self, model_dir: Path) -> dict:
        meta = free_slots.FILES.read_metadata(model_dir)
        self.cfg = free_slots.FILES.config_of(meta)
        return meta
