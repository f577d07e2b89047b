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
Runtimes of the latent-grid family (:mod:`wm_ros.model.latent`): torch, ONNX Runtime.

No capabilities beyond the contract: it holds no objects and no uncertainty estimate, so
consumers that need them (the imagined-state judge) say so, and the rest (evaluator,
shadow mode, policy in imagination, fidelity with its colour probe) work unchanged.
"""

from __future__ import annotations

from pathlib import Path

import torch

from wm_ros.model import latent
from wm_ros.runtime.base import State
from wm_ros.runtime.ort_backend import OrtGraphRuntime
from wm_ros.runtime.torch_model import TorchModelRuntime


class TorchLatentRuntime(TorchModelRuntime):
    """Run a latent-grid model directory with torch (CPU or CUDA)."""

    def __init__(self, model: str | Path | latent.LatentWorldModel, device: str = 'cpu',
                 threads: int | None = None):
        if not isinstance(model, latent.LatentWorldModel):
            model = latent.FILES.load(model)
        super().__init__(model, latent.state_spec(model.cfg), device, threads)

    @torch.inference_mode()
    def _encode(self, images, ee) -> State:
        return State.from_tuple(latent.STATE_KEYS, self.model.encode(*self._tensors(images, ee)))

    @torch.inference_mode()
    def _step(self, state: State, action) -> State:
        out = self.model.step(*self._tensors(state['z'], state['ee'], action))
        return State.from_tuple(latent.STATE_KEYS, out)

    @torch.inference_mode()
    def _decode(self, state: State):
        images, ee = self.model.decode_uint8(*self._tensors(state['z'], state['ee']))
        return images.cpu().numpy(), ee.cpu().numpy()


class OrtLatentRuntime(OrtGraphRuntime):
    """The latent-grid family's exported graphs with ONNX Runtime."""

    graphs = latent.GRAPHS

    def _metadata(self, model_dir: Path) -> dict:
        return latent.FILES.read_metadata(model_dir)
