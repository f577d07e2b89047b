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
A small torch network served by ONNX Runtime on the CPU.

The pixel policies and the reward model are small CNNs that run every imagined step of
``wm-ros evaluate``, at batches of 32-200 frames. On a 2-core CPU torch's eager kernels
take 2.5-10x as long as ONNX Runtime's for them (``wm-ros bench evaluate``). A
:class:`CpuGraph` exports a module's forward in memory (the TorchScript exporter, a
dynamic batch, about 0.1 s) and opens an ONNX Runtime session on it, intra-op threads
sleeping between runs (see :mod:`wm_ros.runtime.ort_backend`). The weights stay where they
are (``policy.safetensors``, ``reward.safetensors``): nothing more on disk, nothing that
can go stale. A session sees the weights as they were when it was built: whoever trains
the module on keeps using torch. :class:`Served` is the mixin the policy and the reward
model share: ``engine``, ``serve_with_ort()`` and the check of an ``engine`` argument.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnxruntime as ort
import torch

from wm_ros.model.family_files import OPSET


class _Output(torch.nn.Module):
    """One output of a module whose forward returns a tuple."""

    def __init__(self, module: torch.nn.Module, index: int):
        super().__init__()
        self.module, self.index = module, index

    def forward(self, *inputs):
        return self.module(*inputs)[self.index]


class CpuGraph:
    """
    ``graph(*arrays) -> ndarray``: ``module``'s forward (output ``output`` of a tuple).

    ``example`` are torch tensors of the inputs' dtypes and shapes past the batch axis;
    ``threads`` ONNX Runtime intra-op threads (0: as many as torch uses now). A batch of 0
    rows returns 0 rows without running.
    """

    def __init__(self, module: torch.nn.Module, example: tuple[torch.Tensor, ...],
                 output: int | None = None, threads: int = 0):
        names = [f'input{i}' for i in range(len(example))]
        graph = _Output(module, output) if output is not None else module
        buffer = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter('ignore')             # tracer notes on Python control flow
            torch.onnx.export(graph.eval(), example, buffer, dynamo=False, opset_version=OPSET,
                              input_names=names, output_names=['output'],
                              dynamic_axes={n: {0: 'batch'} for n in names + ['output']})
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        self.session = ort.InferenceSession(buffer.getvalue(), options,
                                            providers=['CPUExecutionProvider'])
        self.names = names
        self._empty = tuple(self.session.get_outputs()[0].shape[1:])
        # a traced graph can freeze the example's batch size: check one of 3 against torch
        three = tuple(t.expand(3, *t.shape[1:]).contiguous() for t in example)
        with torch.inference_mode():
            want = graph(*three).float().numpy()
        try:
            got = self(*(t.numpy() for t in three))
            same = got.shape == want.shape and np.allclose(
                got, want, rtol=1e-3, atol=1e-4, equal_nan=True)
            problem = f'batch of 3: {got.shape} vs torch {want.shape}'
        except Exception as exc:  # noqa: BLE001 - ORT raises several exception types
            same, problem = False, f'batch of 3: {str(exc).splitlines()[0]}'
        if not same:
            raise RuntimeError(f'{type(module).__name__} does not export to ONNX faithfully '
                               f"({problem}); run it with engine='torch'")

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        if not len(arrays[0]):
            return np.zeros((0, *[d if isinstance(d, int) else 0 for d in self._empty]),
                            np.float32)
        return self.session.run(['output'], dict(zip(self.names, arrays)))[0]


ENGINES = ('onnxruntime', 'torch')


def check_engine(engine: str) -> str:
    """Return ``engine`` or raise a ValueError naming the choices."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be 'onnxruntime' or 'torch', got {engine!r}")
    return engine


class Served:
    """
    A model whose torch network ``net`` may be served by ONNX Runtime (``graph``).

    Subclasses say which inputs the network takes (:meth:`example`) and which output of a
    tuple is the answer (``served_output``); they run ``graph`` when it is set.
    """

    graph: CpuGraph | None = None
    served_output: int | None = None

    @property
    def engine(self) -> str:
        """Return what runs the network: ``'onnxruntime'`` or ``'torch'``."""
        return 'torch' if self.graph is None else 'onnxruntime'

    def example(self) -> tuple[torch.Tensor, ...]:
        """Return one batch row of zero inputs with the network's dtypes and shapes."""
        raise NotImplementedError

    def serve_with_ort(self, threads: int = 0):
        """
        Serve the network with ONNX Runtime on the CPU; return ``self``.

        The same outputs to float precision, several times faster at evaluation batches.
        The session holds today's weights: to train the network on, set ``graph = None``
        (torch) and call this again afterwards.
        """
        self.graph = CpuGraph(self.net.cpu(), self.example(), self.served_output, threads)
        return self
