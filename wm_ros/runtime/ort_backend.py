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
The ``onnxruntime`` backend: the exported encoder / step / decoder graphs.

Providers are chosen from what is present, in the order TensorRT (engine cache directory,
batch shape profiles 1 / 64 / 256, optional FP16) -> CUDA (IO binding) -> CPU, and a
provider is only requested when its libraries load (a CPU machine never asks for CUDA, so
ONNX Runtime logs no CUDA errors). Graph signatures are checked against ``model.json`` at
start-up; a missing or corrupt ``.onnx`` raises :class:`ModelFileError` naming the file.

With ``threads`` > 1 the intra-op worker threads sleep between runs instead of spinning
(``spinning=False``, the default): a spinning pool keeps every core busy after each call,
which starves whatever runs beside the model in the same process (a pixel policy and a
reward model in ``wm-ros evaluate``: 3x slower) or on the same host (other ROS nodes).
``spinning=True`` restores ONNX Runtime's default for a process that does nothing else.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
from pathlib import Path
import time

import numpy as np
import onnxruntime as ort

from wm_ros.model import checkpoint
from wm_ros.model.checkpoint import ModelFileError
from wm_ros.model.export import GRAPHS
from wm_ros.runtime.base import CheckedRuntime, State, StateSpec
from wm_ros.runtime.slot_family import SlotFamily

PROFILE_BATCHES = (1, 64, 256)


def _loads(*names: str) -> bool:
    for name in names:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def usable_providers() -> list[str]:
    """Return the providers that are compiled in *and* whose libraries load here."""
    available = ort.get_available_providers()
    gpu = _loads('libcuda.so.1', 'libcuda.so')
    if gpu and hasattr(ort, 'preload_dlls'):
        # CUDA/cuDNN from the nvidia-* wheels when installed; else the system libraries
        with contextlib.suppress(Exception):
            ort.preload_dlls()
    out = []
    if gpu and 'TensorrtExecutionProvider' in available and _loads(
            'libnvinfer.so.10', 'libnvinfer.so.8', 'libnvinfer.so'):
        out.append('TensorrtExecutionProvider')
    if gpu and 'CUDAExecutionProvider' in available and _loads(
            'libcudart.so.12', 'libcudart.so.13', 'libcudart.so'):
        out.append('CUDAExecutionProvider')
    return out + ['CPUExecutionProvider']


def _profile(names, shapes: dict[str, tuple], batch: int) -> str:
    return ','.join(f'{n}:' + 'x'.join(str(d) for d in (batch,) + shapes[n][1:]) for n in names)


class OrtGraphRuntime(CheckedRuntime):
    """
    Run any family's exported graphs with ONNX Runtime (see the module docstring).

    A family's export writes ``encoder.onnx`` ``(images, ee_xy) -> state`` (or encodes
    in Python: a subclass's ``_encode``), ``step.onnx`` ``(state keys it needs, action) ->
    next_<key>`` for the keys a step changes (the others pass on unchanged) and
    ``decoder.onnx`` ``(state keys it needs) -> (images, ee_out)``; ``model.json``
    ``onnx.graphs`` names their inputs and outputs, ``state`` the keys. Nothing here knows
    what the keys mean.
    """

    backend = 'onnxruntime'
    graphs: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def __init__(self, model_dir: str | Path, providers: str | list[str] = 'auto',
                 engine_cache_dir: str | Path | None = None, fp16: bool = False,
                 threads: int = 0, force_engine_update: bool = False, spinning: bool = False):
        model_dir = Path(model_dir)
        if (model_dir / 'onnx' / 'step.onnx').exists():     # a model directory, not its export
            model_dir = model_dir / 'onnx'
        meta = self._metadata(model_dir)
        self.state_spec = StateSpec.from_metadata(meta)
        self.image_size, self.control_hz = int(meta['image_size']), float(meta['control_hz'])
        self.max_speed = float(meta['action_scale']['max_speed_m_s'])
        signatures = meta.get('onnx', {}).get('graphs')
        if signatures:
            self.graphs = {n: (tuple(g['inputs']), tuple(g['outputs']))
                           for n, g in signatures.items()}
        if not {'step', 'decoder'} <= set(self.graphs):
            raise ModelFileError(f'{model_dir / "model.json"} names graphs {sorted(self.graphs)}'
                                 '; expected step and decoder (and encoder): re-export it')
        wanted = usable_providers() if providers == 'auto' else list(providers)
        missing = [p for p in wanted if p not in ort.get_available_providers()]
        if missing:
            raise ValueError(f'provider(s) {missing} are not in this onnxruntime build; it has '
                             f'{ort.get_available_providers()}')
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        options.add_session_config_entry('session.intra_op.allow_spinning',
                                         '1' if spinning else '0')
        self.sessions, self.build_seconds = {}, {}
        for name, (inputs, outputs) in self.graphs.items():
            path = model_dir / f'{name}.onnx'
            if not path.is_file():
                raise ModelFileError(f'{path} does not exist; run `wm-ros export` first')
            chain = [self._provider(p, inputs, engine_cache_dir, fp16, force_engine_update)
                     for p in wanted]
            start = time.perf_counter()
            try:
                session = ort.InferenceSession(str(path), options, providers=chain)
            except Exception as exc:  # noqa: BLE001 - ORT raises several exception types
                raise ModelFileError(f'{path} is not a loadable ONNX graph: {exc}') from None
            self.build_seconds[name] = time.perf_counter() - start
            got_in = [i.name for i in session.get_inputs()]
            got_out = [o.name for o in session.get_outputs()]
            if got_in != list(inputs) or got_out != list(outputs):
                raise ModelFileError(f'{path} has inputs {got_in} / outputs {got_out}; this '
                                     f'wm_ros expects {list(inputs)} / {list(outputs)}')
            self.sessions[name] = session
        image = self.sessions['encoder'].get_inputs()[0].shape if 'encoder' in self.sessions \
            else [0, self.image_size, self.image_size, 3]     # a family encoding in Python
        if list(image[1:]) != [self.image_size, self.image_size, 3]:
            raise ModelFileError(f'encoder.onnx takes images {image}, model.json says '
                                 f'{self.image_size}x{self.image_size}: re-export the model')
        self.providers = self.sessions['step'].get_providers()
        self.io_binding = self.providers[0] == 'CUDAExecutionProvider'

    def _metadata(self, model_dir: Path) -> dict:
        """Return the export's ``model.json`` (families override to check their format)."""
        path = model_dir / checkpoint.META
        if not path.is_file():
            raise ModelFileError(f'model metadata {path} does not exist; run `wm-ros export`')
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ModelFileError(f'model metadata {path} is not valid JSON: {exc}') from None

    def _provider(self, name, inputs, cache_dir, fp16, force):
        if name == 'TensorrtExecutionProvider':
            s = self.image_size
            shapes = {'images': (0, s, s, 3), 'ee_xy': (0, 2), 'action': (0, 2),
                      **{k: (0,) + v for k, v in self.state_spec.shapes.items()}}
            cache = Path(cache_dir or Path.home() / '.cache' / 'wm_ros' / 'trt')
            cache.mkdir(parents=True, exist_ok=True)
            if force:
                for old in cache.glob('*.engine'):
                    old.unlink()
            lo, mid, hi = (_profile(inputs, shapes, b) for b in PROFILE_BATCHES)
            return (name, {'trt_engine_cache_enable': True,
                           'trt_engine_cache_path': str(cache), 'trt_fp16_enable': fp16,
                           'trt_profile_min_shapes': lo, 'trt_profile_opt_shapes': mid,
                           'trt_profile_max_shapes': hi})
        return name

    def _run(self, name: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        session = self.sessions[name]
        if not self.io_binding:
            return session.run(None, feeds)
        binding = session.io_binding()
        for key, value in feeds.items():
            binding.bind_cpu_input(key, value)
        for out in session.get_outputs():
            binding.bind_output(out.name, 'cuda')
        session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()

    def _feeds(self, graph: str, state: State, action=None) -> dict[str, np.ndarray]:
        return {k: (action if k == 'action' else np.ascontiguousarray(state[k]))
                for k in self.graphs[graph][0]}

    def _encode(self, images, ee) -> State:
        return State.from_tuple(self.graphs['encoder'][1],
                                self._run('encoder', {'images': images, 'ee_xy': ee}))

    def _step(self, state: State, action) -> State:
        keys = tuple(k.removeprefix('next_') for k in self.graphs['step'][1])
        new = dict(zip(keys, self._run('step', self._feeds('step', state, action))))
        return state.updated(new)                               # the rest: unchanged

    def _decode(self, state: State):
        images, ee = self._run('decoder', self._feeds('decoder', state))
        return images, ee


class OrtRuntime(SlotFamily, OrtGraphRuntime):
    """The object-slot family's graphs, with its object read-out and uncertainty."""

    graphs = GRAPHS

    def __init__(self, model_dir: str | Path, **options):
        super().__init__(model_dir, **options)
        # TensorRT engines are built for M slots; graphs exported before dynamic slots too
        self.compact_slots = self.dynamic_slots and \
            'TensorrtExecutionProvider' not in self.providers

    def _metadata(self, model_dir: Path) -> dict:
        meta = checkpoint.read_metadata(model_dir)
        self.cfg = checkpoint.config_of(meta)
        self.kinds = self.cfg.world.kinds
        self.dynamic_slots = bool(meta.get('onnx', {}).get('dynamic_slots'))
        return meta
