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
Block detectors for families without an object read-out: frames in, blocks out.

Two kinds, both trained on labelled tabletop frames: :class:`ReadoutDetector`, a world
model with an object read-out used as a frame reader (the default, ``DEFAULT_DETECTOR`` =
the shipped supervised model: 99.7 % of kinds right per frame and kind, 0.1 cm on
data/heldout), and :class:`Detector`, a small convolutional network of its own (``wm-ros
train detector``; it finds blocks to 2-3 cm but reads shapes poorly so far, see
docs/results/planning.md). The planner reads blocks out of states
(:class:`~wm_ros.runtime.base.ObjectReadout`). A family that holds none (the latent grid)
plans through :class:`DetectedObjects`: the camera frame is read by the detector directly,
an imagined state by rendering it through the runtime's ``decode`` and reading that frame,
so the planner, its costs and its video are the same code for every family.

The network is fully convolutional: one heat map per kind (colour x shape, 30 of them) at
a quarter of the resolution (16 x 16 cells of about 3 cm at 64 px), trained as a
classification over its cells (the cell under the block's centre); a kind is present when
its map's peak is (``present`` logit), and it is where the map's soft-argmax is, mapped to
the board by a learned affine map initialised from the top-down camera (which also places
the training targets). Kinds are unique in a scene, so one map per kind is enough. Yaw is
not read (0).

``wm-ros train detector`` trains it (:mod:`wm_ros.plan.detector_train`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wm_ros import artefacts
from wm_ros.model import family_files
from wm_ros.runtime.base import Objects, State, WorldModelRuntime
from wm_ros.sim.scene import COLOURS, SHAPES

FORMAT, VERSION = 'wm_ros.detector', 1
KINDS = tuple(f'{c} {s}' for c in COLOURS for s in SHAPES)
# the shipped supervised world model, read as a frame reader (see ReadoutDetector)
DEFAULT_DETECTOR = artefacts.WORLD_MODEL


@dataclass(frozen=True)
class DetectorConfig:
    """Detector settings (``config/detector.yaml``; ``tiny`` for tests)."""

    image_size: int = 64
    channels: int = 16
    steps: int = 6000
    batch: int = 64
    lr: float = 3e-3
    frame_stride: int = 2        # every n-th frame of each episode
    board_half: float = 0.25
    seed: int = 0


def load_config(section: str = 'default', path=None, **overrides) -> DetectorConfig:
    """Return ``section`` of ``config/detector.yaml`` (or ``path``) with ``overrides``."""
    from wm_ros import config as config_io
    return config_io.load(DetectorConfig, path or config_io.config_dir() / 'detector.yaml',
                          section, **overrides)


class DetectorNet(nn.Module):
    """Frames ``uint8[B,S,S,3]`` -> presence logits ``[B,K]`` and positions ``[B,K,2]`` (m)."""

    def __init__(self, cfg: DetectorConfig):
        super().__init__()
        c, s = cfg.channels, cfg.image_size
        self.body = nn.Sequential(                 # full resolution first: shapes are ~5 px
            nn.Conv2d(5, c, 3, padding=1), nn.GELU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.GELU(),
            nn.Conv2d(2 * c, 3 * c, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(3 * c, 3 * c, 3, padding=2, dilation=2), nn.GELU(),
            nn.Conv2d(3 * c, 4 * c, 3, padding=1), nn.GELU(),
            nn.Conv2d(4 * c, len(KINDS), 1))
        self.scale = nn.Parameter(torch.ones(len(KINDS)))
        self.bias = nn.Parameter(torch.full((len(KINDS),), -2.0))
        half = cfg.board_half                  # top-down camera: columns +x, rows -y
        self.to_board = nn.Linear(2, 2)
        with torch.no_grad():
            self.to_board.weight.copy_(torch.tensor([[half, 0.0], [0.0, -half]]))
            self.to_board.bias.zero_()
        g = (torch.arange(s, dtype=torch.float32) + 0.5) / s * 2 - 1
        self.register_buffer('coords', torch.stack(torch.meshgrid(g, g, indexing='xy')),
                             persistent=False)                       # [2 (u, v), S, S]
        h = (torch.arange(s // 4, dtype=torch.float32) + 0.5) / (s // 4) * 2 - 1
        self.register_buffer('uv', torch.stack(torch.meshgrid(h, h, indexing='xy')).reshape(
            2, -1).T, persistent=False)                              # [(S/4)^2, 2]

    def heat(self, images: torch.Tensor) -> torch.Tensor:
        """Return the heat maps ``[B, K, (S/4)^2]`` (logits)."""
        x = images.permute(0, 3, 1, 2).float() / 255.0
        x = torch.cat([x, self.coords.unsqueeze(0).expand(x.shape[0], -1, -1, -1)], 1)
        return self.body(x).flatten(2)

    def read(self, heat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return presence logits ``[B, K]`` and positions ``[B, K, 2]`` of heat maps."""
        where = torch.softmax(heat, -1) @ self.uv                    # [B, K, 2] in [-1, 1]
        return heat.amax(-1) * self.scale + self.bias, self.to_board(where)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.read(self.heat(images))

    def cell(self, pos: torch.Tensor) -> torch.Tensor:
        """Return the heat-map cell ``int64[...]`` of board positions ``[..., 2]`` (m)."""
        n = int(round(len(self.uv) ** 0.5))
        w, b = self.to_board.weight.detach(), self.to_board.bias.detach()
        uv = (pos - b) @ torch.linalg.inv(w).T
        col, row = (((uv + 1) / 2 * n).floor().long().clamp(0, n - 1)).unbind(-1)
        return row * n + col


class Detector:
    """
    A trained detector: :meth:`objects` of camera or decoded frames.

    Inference runs in ONNX Runtime (one thread; the graph is exported from the weights in
    memory at the first call, about 2.5x faster than torch on a CPU for this small net);
    ``backend='torch'`` keeps it in torch.
    """

    kinds = KINDS

    def __init__(self, net: DetectorNet, cfg: DetectorConfig, meta: dict | None = None,
                 backend: str = 'onnxruntime'):
        self.net, self.cfg, self.meta = net.eval(), cfg, meta or {}
        self.image_size, self.backend = cfg.image_size, backend
        self._session = None

    def _run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.backend == 'torch':
            with torch.inference_mode():
                present, pos = self.net(torch.from_numpy(images))
            return present.numpy(), pos.numpy()
        if self._session is None:
            self._session = _ort_session(self.net, self.image_size)
        return tuple(self._session.run(None, {'images': images}))

    def objects(self, images: np.ndarray) -> Objects:
        """Return the blocks seen in ``images`` ``uint8[B,S,S,3]`` (or one ``[S,S,3]``)."""
        images = _frames(images, self.image_size)
        present, pos = self._run(images)
        return _kind_slots(present > 0, pos)

    def save(self, out_dir: str | Path) -> Path:
        """Write ``model.safetensors`` + ``model.json`` into ``out_dir``."""
        return family_files.save(self.net, out_dir, {
            'format': FORMAT, 'format_version': VERSION, 'config': asdict(self.cfg),
            'kinds': list(KINDS), **self.meta})


def _kind_slots(present: np.ndarray, pos: np.ndarray) -> Objects:
    """Return objects with one slot per kind of :data:`KINDS` (slot k is kind k)."""
    b, k = present.shape
    return Objects(kinds=KINDS, kind=np.broadcast_to(np.arange(k), (b, k)).copy(),
                   present=present, pos=pos.astype(np.float32),
                   yaw=np.zeros((b, k), np.float32))


class ReadoutDetector:
    """
    A world model with an object read-out used as a frame reader: encode, then read.

    Its encoder was trained on labelled tabletop frames, so it is a detector too (97 % of
    kinds right end to end); this is what a family without a read-out borrows by default.
    Like every detector it returns one slot per kind (slot k is kind k of :data:`KINDS`),
    so a block keeps its slot from frame to frame: a fresh encoding of each frame orders
    its slots anew, and consumers (the judges, the planner's costs) follow blocks by slot.
    """

    kinds = KINDS

    def __init__(self, runtime):
        if tuple(runtime.kinds) != KINDS:
            raise ValueError(f'this read-out names {list(runtime.kinds)}, the tabletop has '
                             f'{list(KINDS)}: it cannot read these frames')
        self.runtime, self.image_size = runtime, runtime.image_size

    def objects(self, images: np.ndarray) -> Objects:
        """Return the blocks seen in ``images`` ``uint8[B,S,S,3]`` (or one ``[S,S,3]``)."""
        images = _frames(images, self.image_size)
        return _kind_slots(*by_kind(self.runtime.objects(self.runtime.encode(
            images, np.zeros((len(images), 2), np.float32)))))


def _frames(images, s: int) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[1:] != (s, s, 3) or images.dtype != np.uint8:
        raise ValueError(f'the detector reads uint8[B, {s}, {s}, 3] frames, got '
                         f'{images.dtype}{list(images.shape)}; train one at this size '
                         f'(wm-ros train detector --set image_size=...)')
    return np.ascontiguousarray(images)


def load(model_dir: str | Path):
    """
    Load a detector directory or a world model with an object read-out.

    A ``wm-ros train detector`` directory gives a :class:`Detector`, a model with a
    read-out a :class:`ReadoutDetector`; anything else is refused with what to do.
    """
    from wm_ros.runtime.registry import model_format
    path = Path(model_dir)
    if (path / family_files.META).is_file() and model_format(path) != FORMAT:
        from wm_ros.runtime import load_runtime
        from wm_ros.runtime.base import ObjectReadout
        backend = 'onnxruntime' if (path / 'onnx').is_dir() else 'torch'
        runtime = load_runtime(path, backend, threads=1)
        if not isinstance(runtime, ObjectReadout):
            raise ValueError(f'{path} is a world model without an object read-out; a '
                             'detector must read blocks: pass a detector directory (wm-ros '
                             'train detector) or a model with a read-out, such as '
                             'wm_ros/models/world_model')
        return ReadoutDetector(runtime)
    meta = family_files.read_metadata(model_dir, FORMAT, VERSION, 'detector',
                                      'wm-ros train detector --data DIR --out DIR')
    if tuple(meta.get('kinds', ())) != KINDS:
        raise ValueError(f'{model_dir} detects {meta.get("kinds")}, this tabletop has '
                         f'{len(KINDS)} other kinds; retrain it with wm-ros train detector')
    cfg = family_files.config_of(DetectorConfig, meta)
    net = family_files.load_weights(DetectorNet(cfg), model_dir)
    return Detector(net, cfg, {k: v for k, v in meta.items() if k in ('train', 'heldout')})


class DetectedObjects:
    """
    A runtime whose object read-out is the detector (module docstring).

    Everything but ``objects`` is the wrapped runtime's (``__getattr__``), so capabilities
    such as ``uncertainty`` pass through. ``read_every`` tells the planner's costs to read
    imagined blocks every n-th step only (each read decodes the whole batch).
    """

    def __init__(self, runtime: WorldModelRuntime, detector: Detector, read_every: int = 6):
        if runtime.image_size != detector.image_size:
            raise ValueError(f'the detector reads {detector.image_size} px frames, the world '
                             f'model renders {runtime.image_size} px; train a detector at '
                             f'that size (wm-ros train detector --set image_size='
                             f'{runtime.image_size})')
        self.runtime, self.detector, self.read_every = runtime, detector, max(1, read_every)
        self.kinds = detector.kinds
        self._camera: tuple[State | None, Objects | None] = (None, None)

    def __getattr__(self, name):
        return getattr(self.runtime, name)

    def encode(self, images: np.ndarray, ee: np.ndarray) -> State:
        """Encode with the runtime; the camera frames themselves are read by the detector."""
        state = self.runtime.encode(images, ee)
        self._camera = (state, self.detector.objects(images))
        return state

    def objects(self, state: State) -> Objects:
        """Return the blocks of the last encoded frame, else of ``state`` rendered."""
        if state is self._camera[0]:
            return self._camera[1]
        images, _ = self.runtime.decode(state)
        return self.detector.objects(images)


def with_readout(runtime: WorldModelRuntime, detector: str | Path = '', read_every: int = 1):
    """
    Return a runtime that reads objects.

    That is ``runtime`` itself when it can and no ``detector`` is named, else ``runtime``
    wrapped in :class:`DetectedObjects` with ``detector`` (default
    :data:`DEFAULT_DETECTOR`, the shipped model's read-out used on frames).
    """
    from wm_ros.runtime.base import ObjectReadout
    if isinstance(runtime, ObjectReadout) and not detector:
        return runtime
    return DetectedObjects(runtime, load(detector or DEFAULT_DETECTOR), read_every)


def _ort_session(net: DetectorNet, size: int):
    """Return a one-thread ONNX Runtime session of ``net`` (exported in memory)."""
    import io
    import warnings

    import onnx
    import onnxruntime as ort
    from wm_ros.model.family_files import IR_VERSION, OPSET
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(net, (torch.zeros(1, size, size, 3, dtype=torch.uint8),), buf,
                          dynamo=False, opset_version=OPSET, input_names=['images'],
                          output_names=['present', 'pos'],
                          dynamic_axes={n: {0: 'batch'} for n in ('images', 'present', 'pos')})
    graph = onnx.load_from_string(buf.getvalue())
    graph.ir_version = IR_VERSION
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(graph.SerializeToString(), options,
                                providers=['CPUExecutionProvider'])


def by_kind(objects: Objects) -> tuple[np.ndarray, np.ndarray]:
    """Return presence ``bool[B,K]`` and positions ``[B,K,2]`` indexed by :data:`KINDS`."""
    b = len(objects.present)
    present, pos = np.zeros((b, len(KINDS)), bool), np.zeros((b, len(KINDS), 2), np.float32)
    index = np.array([KINDS.index(k) if k in KINDS else -1 for k in objects.kinds])
    for row in range(b):
        for j in np.flatnonzero(objects.present[row]):
            k = index[objects.kind[row, j]]
            if k >= 0:
                present[row, k], pos[row, k] = True, objects.pos[row, j]
    return present, pos
