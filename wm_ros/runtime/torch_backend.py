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
The ``torch`` backend: the trained :class:`WorldModel` run eagerly (CPU or CUDA).

On CUDA a rollout is one captured CUDA graph (``cuda_graphs``, default on): eager torch
launches a few hundred small kernels per latent step, and at a planner's batch the launches,
not the arithmetic, take the time (1.9 ms for one batch-1 step on an H200). The graph of
each input shape (batch, used slots, horizon) is captured on first use, the states of all
steps come back in one copy per array, and later rollouts of that shape replay it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from wm_ros.model import checkpoint
from wm_ros.model.network import STATE_KEYS, WorldModel
from wm_ros.runtime.base import State
from wm_ros.runtime.slot_family import SlotFamily
from wm_ros.runtime.torch_model import TorchModelRuntime


class TorchRuntime(SlotFamily, TorchModelRuntime):
    """Run a model directory (``model.safetensors`` + ``model.json``) with torch."""

    max_graphs = 8          # captured rollout shapes kept (least recently used dropped)

    def __init__(self, model: str | Path | WorldModel, device: str = 'cpu',
                 threads: int | None = None, cuda_graphs: bool = True):
        model = checkpoint.load(model) if not isinstance(model, WorldModel) else model
        super().__init__(model, checkpoint.state_spec(model.cfg), device, threads)
        self.cuda_graphs = cuda_graphs and self.device.type == 'cuda'
        self._graphs: OrderedDict = OrderedDict()
        self.kinds = self.cfg.world.kinds

    @torch.inference_mode()
    def _encode(self, images, ee) -> State:
        return State.from_tuple(STATE_KEYS, self.model.encoder(*self._tensors(images, ee)))

    @torch.inference_mode()
    def _step(self, state: State, action) -> State:
        out = self.model.dynamics(*self._tensors(*state.as_tuple(STATE_KEYS), action))
        return State.from_tuple(STATE_KEYS, out)

    @torch.inference_mode()
    def _steps(self, state: State, actions: np.ndarray) -> Iterator[State]:
        if not self.cuda_graphs:
            yield from super()._steps(state, actions)
            return
        inputs = self._tensors(*state.as_tuple(STATE_KEYS))
        acts = torch.as_tensor(np.ascontiguousarray(actions.transpose(1, 0, 2)),
                               device=self.device)                      # [T, B, 2]
        graph, static_in, static_acts, static_out = self._graph(inputs, acts)
        for dst, src in zip(static_in, inputs):
            dst.copy_(src)
        static_acts.copy_(acts)
        graph.replay()
        host = [o.cpu().numpy() for o in static_out]                    # [T, B, ...] each
        for t in range(actions.shape[1]):
            yield State.from_tuple(STATE_KEYS, [h[t] for h in host])

    def _graph(self, inputs: tuple, acts: torch.Tensor):
        """Return the captured rollout for these shapes: (graph, inputs, actions, outputs)."""
        key = tuple(tuple(t.shape) for t in inputs) + (tuple(acts.shape),)
        if key in self._graphs:
            self._graphs.move_to_end(key)
            return self._graphs[key]
        static_in = [t.clone() for t in inputs]
        static_acts = acts.clone()

        def run():
            state, out = tuple(static_in), []
            for t in range(static_acts.shape[0]):
                state = self.model.dynamics(*state, static_acts[t])
                out.append(state)
            return [torch.stack(key) for key in zip(*out)]

        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            run()                           # warm-up outside the graph (cuBLAS workspaces)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = run()
        self._graphs[key] = (graph, static_in, static_acts, static_out)
        if len(self._graphs) > self.max_graphs:
            self._graphs.popitem(last=False)
        return self._graphs[key]

    @torch.inference_mode()
    def _decode(self, state: State):
        images, ee = self.model.decoder(*self._tensors(*state.as_tuple(STATE_KEYS)))
        return images.cpu().numpy(), ee.cpu().numpy()
