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
``SuccessClassifier``: a small vision-language success classifier (a RewardModel).

``score(images uint8[B,S,S,3], instructions list[str] of B) -> float32[B]`` P(success).
The network (:class:`~wm_ros.reward.network.RewardNet`): a small CNN reads per cell
which colour and shape of block is there; the instruction's all-MiniLM-L6-v2 embedding
(:mod:`wm_ros.language`, float32[384]) says which blocks it names, so attention finds them;
their positions, colour-group and line statistics and the embedding go through an MLP to
one logit. Trained with balanced batches, its
logit is then calibrated (``p = sigmoid(a * logit + b)``, Platt scaling on held-out
episodes at the natural rate of success) and ``threshold`` (in ``reward.json``) is the
calibrated probability above which :meth:`SuccessClassifier.predict` calls a frame a
success: an evaluator that stops an episode at the first success wants few false
positives per frame.

Files: ``reward.json`` (format, version, config, image size, text encoder, calibration,
threshold, training-data summary, metrics) + ``reward.safetensors`` (weights; nothing is
unpickled). A missing, corrupt or foreign file raises :class:`RewardFileError`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from wm_ros.artefacts import read_metadata
from wm_ros.config import ConfigError, from_dict
from wm_ros.language import EMBED_DIM
from wm_ros.reward.config import RewardConfig, RewardFileError
from wm_ros.reward.network import RewardNet, text_input
from wm_ros.runtime.cpu_graph import check_engine, Served

FORMAT = 'wm_ros.reward_classifier'
FORMAT_VERSION = 1
WEIGHTS, META = 'reward.safetensors', 'reward.json'
TEXT_ENCODER = 'sentence-transformers/all-MiniLM-L6-v2 (mean-pooled, L2-normalised)'


class SuccessClassifier(Served):
    """The pixel success judge; see the module docstring. Implements ``RewardModel``."""

    def __init__(self, config: RewardConfig | None = None, net: RewardNet | None = None,
                 calibration: tuple[float, float] = (1.0, 0.0), threshold: float = 0.5,
                 meta: dict | None = None, batch: int = 256):
        self.config = config or RewardConfig()
        self.net = (net or RewardNet(self.config)).eval().to(memory_format=torch.channels_last)
        self.calibration = (float(calibration[0]), float(calibration[1]))
        if not 0.0 < threshold < 1.0:
            raise ValueError(f'threshold must be a probability in (0, 1), got {threshold}')
        self.threshold = float(threshold)
        self.meta = dict(meta or {})
        self.batch = batch

    def example(self) -> tuple[torch.Tensor, ...]:
        """Return zero inputs of one row: image uint8, instruction embedding."""
        s = self.image_size
        return (torch.zeros(1, s, s, 3, dtype=torch.uint8),
                torch.zeros(1, (1 + self.config.text_words) * EMBED_DIM))

    @property
    def image_size(self) -> int:
        """Return the side of the square rgb8 frames this model reads."""
        return self.config.image_size

    def check(self, images: np.ndarray, instructions) -> tuple[np.ndarray, list[str]]:
        """Return the inputs as checked arrays or raise ValueError saying what was expected."""
        s = self.image_size
        images = np.asarray(images)
        if images.ndim == 3:
            raise ValueError(f'images must be a batch uint8[B, {s}, {s}, 3]; got one frame '
                             f'{images.shape}: pass images[None]')
        if images.ndim != 4 or images.shape[1:] != (s, s, 3):
            raise ValueError(f'reward model expects {s}x{s} rgb8 frames uint8[B, {s}, {s}, 3],'
                             f' got shape {images.shape}')
        if images.dtype != np.uint8:
            if not np.issubdtype(images.dtype, np.number) or not np.all(np.isfinite(images)):
                raise ValueError(f'images must be finite uint8 RGB, got {images.dtype} with '
                                 'NaN/inf')
            raise ValueError(f'images must be uint8 RGB in [0, 255], got {images.dtype}; '
                             'convert with (x * 255).round().astype(np.uint8) if in [0, 1]')
        if isinstance(instructions, str):
            raise ValueError('instructions must be a list of B strings (one per image), got '
                             'one string: pass [instruction] * len(images)')
        instructions = list(instructions)
        if len(instructions) != len(images):
            raise ValueError(f'got {len(images)} images and {len(instructions)} instructions; '
                             'need one instruction per image')
        bad = [type(t).__name__ for t in instructions if not isinstance(t, str)]
        if bad:
            raise ValueError(f'instructions must be strings, got {bad[0]}')
        return images, instructions

    def logits(self, images: np.ndarray, instructions) -> np.ndarray:
        """Return the raw (uncalibrated) logits float32[B] (inputs as :meth:`score`)."""
        images, instructions = self.check(images, instructions)
        if not len(images):
            return np.zeros(0, np.float32)
        text = text_input(instructions, self.config.text_words)
        if self.graph is not None:
            return np.concatenate([self.graph(np.ascontiguousarray(images[i:i + self.batch]),
                                              text[i:i + self.batch]).astype(np.float32)
                                   for i in range(0, len(images), self.batch)])
        device = next(self.net.parameters()).device
        text = torch.from_numpy(text).to(device)
        out = []
        with torch.inference_mode():
            for i in range(0, len(images), self.batch):
                x = torch.from_numpy(np.ascontiguousarray(images[i:i + self.batch]))
                out.append(self.net(x.to(device), text[i:i + self.batch]).float().cpu())
        return torch.cat(out).numpy()

    def score(self, images: np.ndarray, instructions) -> np.ndarray:
        """Return P(success) float32[B] for images uint8[B,S,S,3] and B instructions."""
        a, b = self.calibration
        z = a * self.logits(images, instructions).astype(np.float64) + b
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    def predict(self, images: np.ndarray, instructions) -> np.ndarray:
        """Return bool[B]: ``score >= threshold`` (the stored, calibrated threshold)."""
        return self.score(images, instructions) >= self.threshold

    # ----------------------------------------------------------------- files
    def save(self, out_dir: str | Path, **meta) -> Path:
        """Write ``reward.safetensors`` + ``reward.json`` (``meta`` adds e.g. data, metrics)."""
        from safetensors.torch import save_file
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()},
                  str(out / WEIGHTS))
        self.meta.update(meta)
        info = {'format': FORMAT, 'format_version': FORMAT_VERSION,
                'config': self.config.to_dict(), 'image_size': self.image_size,
                'input': f'uint8 RGB [B, {self.image_size}, {self.image_size}, 3], /127.5 - 1 '
                         'inside', 'text_encoder': TEXT_ENCODER, 'embed_dim': EMBED_DIM,
                'calibration': {'a': self.calibration[0], 'b': self.calibration[1]},
                'threshold': self.threshold, **self.meta}
        (out / META).write_text(json.dumps(info, indent=2))
        return out

    @classmethod
    def load(cls, path: str | Path, device: str = 'cpu',
             engine: str = 'onnxruntime') -> 'SuccessClassifier':
        """
        Load a directory written by :meth:`save`; :class:`RewardFileError` if unusable.

        On the CPU ``engine='onnxruntime'`` serves the network with ONNX Runtime
        (:meth:`serve_with_ort`); ``'torch'`` (or a CUDA ``device``) runs it in torch.
        """
        check_engine(engine)
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        path = Path(path)
        meta_path, weights = path / META, path / WEIGHTS
        if not meta_path.is_file():
            raise RewardFileError(f'reward model metadata {meta_path} does not exist; train one '
                                  'with `wm-ros train reward` or pass the directory that has it')
        meta = read_metadata(meta_path, FORMAT, FORMAT_VERSION, RewardFileError,
                             'a reward classifier', ': retrain with `wm-ros train reward`')
        try:
            cfg = from_dict(RewardConfig, meta['config'], source=str(meta_path))
            calibration = (meta['calibration']['a'], meta['calibration']['b'])
            threshold = float(meta['threshold'])
        except (ConfigError, KeyError, TypeError) as exc:
            raise RewardFileError(f'{meta_path} does not match this wm_ros: {exc}') from None
        if not weights.is_file():
            raise RewardFileError(f'reward model weights {weights} do not exist')
        try:
            state = load_file(str(weights), device=device)
        except (SafetensorError, OSError, ValueError) as exc:
            raise RewardFileError(f'reward model weights {weights} are corrupt: {exc}') from None
        net = RewardNet(cfg)
        own = net.state_dict()
        wrong = sorted(k for k in own if k not in state or state[k].shape != own[k].shape)
        if wrong or set(state) - set(own):
            raise RewardFileError(f'weights in {weights} do not fit the config in {META} '
                                  f'(missing or wrong shape: {wrong[:3]})')
        net.load_state_dict(state)
        rest = {k: v for k, v in meta.items() if k not in (
            'format', 'format_version', 'config', 'image_size', 'input', 'text_encoder',
            'embed_dim', 'calibration', 'threshold')}
        model = cls(cfg, net.to(device), calibration, threshold, rest)
        return model.serve_with_ort() if engine == 'onnxruntime' and device == 'cpu' else model
