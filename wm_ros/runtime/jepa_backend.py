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
Runtimes of the JEPA family (:mod:`wm_ros.model.jepa`): torch, ONNX Runtime.

Capability: :class:`~wm_ros.runtime.base.Embedding`: the state's embedding ``z`` (its
grid, flattened) is what a goal-image planner compares (:mod:`wm_ros.plan.goal`);
``embed(images, ee)`` encodes frames straight to it. No object read-out and no
uncertainty estimate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from wm_ros.model import jepa
from wm_ros.runtime.base import State
from wm_ros.runtime.ort_backend import OrtGraphRuntime
from wm_ros.runtime.torch_model import TorchModelRuntime


class _Embedding:
    """The :class:`~wm_ros.runtime.base.Embedding` capability: the state's ``z``."""

    def embedding(self, state: State) -> np.ndarray:
        """Return float32[B, D]: the embedding ``state`` holds (its grid, flattened)."""
        self.state_spec.check(state)
        z = np.asarray(state['z'], np.float32)
        return z.reshape(len(z), -1)

    def embed(self, images: np.ndarray, ee: np.ndarray) -> np.ndarray:
        """Return float32[B, D]: the embeddings of ``images`` uint8[B,S,S,3] (``ee`` [B,2])."""
        return self.embedding(self.encode(images, ee))

    @property
    def embedding_dim(self) -> int:
        """Return D (channels x grid cells)."""
        return int(np.prod(self.state_spec.shapes['z']))


class TorchJepaRuntime(_Embedding, TorchModelRuntime):
    """Run a JEPA model directory with torch (CPU or CUDA)."""

    def __init__(self, model: str | Path | jepa.JepaWorldModel, device: str = 'cpu',
                 threads: int | None = None):
        if not isinstance(model, jepa.JepaWorldModel):
            model = jepa.FILES.load(model)
        super().__init__(model, jepa.state_spec(model.cfg), device, threads)

    @torch.inference_mode()
    def _encode(self, images, ee) -> State:
        return State.from_tuple(jepa.STATE_KEYS, self.model.encode(*self._tensors(images, ee)))

    @torch.inference_mode()
    def _step(self, state: State, action) -> State:
        out = self.model.step(*self._tensors(state['z'], state['ee'], action))
        return State.from_tuple(jepa.STATE_KEYS, out)

    @torch.inference_mode()
    def _decode(self, state: State):
        images, ee = self.model.decode_uint8(*self._tensors(state['z'], state['ee']))
        return images.cpu().numpy(), ee.cpu().numpy()


class OrtJepaRuntime(_Embedding, OrtGraphRuntime):
    """The JEPA family's exported graphs with ONNX Runtime."""

    graphs = jepa.GRAPHS

    def _metadata(self, model_dir: Path) -> dict:
        return jepa.FILES.read_metadata(model_dir)
