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

"""The ``torch`` backend: the trained :class:`WorldModel` run eagerly (CPU or CUDA)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from wm_ros.model import checkpoint
from wm_ros.model.network import STATE_KEYS, WorldModel
from wm_ros.runtime.base import CheckedRuntime, SlotFamily, State, StateSpec


class TorchRuntime(SlotFamily, CheckedRuntime):
    """Run a model directory (``model.safetensors`` + ``model.json``) with torch."""

    backend = 'torch'

    def __init__(self, model: str | Path | WorldModel, device: str = 'cpu',
                 threads: int | None = None):
        self.model = checkpoint.load(model) if not isinstance(model, WorldModel) else model
        self.model = self.model.to(device).eval()
        self.device = torch.device(device)
        if threads:
            torch.set_num_threads(threads)
        cfg = self.model.cfg
        self.image_size, self.control_hz, self.max_speed = (cfg.image_size, cfg.control_hz,
                                                            cfg.max_speed)
        self.kinds = cfg.world.kinds
        self.state_spec = StateSpec.from_metadata({'state': checkpoint.state_spec(cfg)})

    def _tensors(self, arrays):
        return tuple(torch.as_tensor(np.asarray(a), device=self.device) for a in arrays)

    @torch.inference_mode()
    def _encode(self, images, ee) -> State:
        return State.from_tuple(STATE_KEYS, self.model.encoder(*self._tensors((images, ee))))

    @torch.inference_mode()
    def _step(self, state: State, action) -> State:
        out = self.model.dynamics(*self._tensors(state.as_tuple(STATE_KEYS) + (action,)))
        return State.from_tuple(STATE_KEYS, out)

    @torch.inference_mode()
    def _decode(self, state: State):
        images, ee = self.model.decoder(*self._tensors(state.as_tuple(STATE_KEYS)))
        return images.cpu().numpy(), ee.cpu().numpy()
