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
``LearnedPolicy``: a behaviour-cloned pixel policy conditioned on the instruction.

Input: the camera frame ``uint8[64, 64, 3]`` (plus two coordinate channels), the pusher
position ``ee_xy`` float32[2] (m) and the instruction, embedded by all-MiniLM-L6-v2
(:func:`wm_ros.language.embed`): the sentence vector float32[384] and, in order, the
vectors of its first ``words`` words (articles dropped). A small CNN, every layer
modulated by FiLM from those vectors, ends in spatial-softmax keypoints; an MLP head on
the keypoints, pooled features and ``ee_xy`` gives the action float32[2] (m/s), clipped
per axis to ``max_speed``. Two of the keypoints are trained (auxiliary loss, training only)
to sit on the block the expert is pushing and on its goal.

Why word vectors too: one pooled sentence vector says only weakly *which* colour and shape
an instruction names, and not which block is pushed and which is the reference (a linear
probe reads the named colour from it 81 % of the time); with the words in order, grounding
"the red cube" in the image is learnable from about a thousand demonstrations.

The policy is stateless (one frame, no history), so ``reset`` has nothing to forget and
``act`` equals one row of ``act_batch``. Instruction handling is part of the policy: words
in ``config.ignore_words`` are deleted before embedding (the ``colour_only`` policy
deletes the shape words, so "the red cube" and "the red star" are one instruction to it).

Files: ``policy.json`` (format, version, config, training summary, measured real success)
and ``policy.safetensors`` (weights); nothing is unpickled. A missing, corrupt or
wrong-version file raises :class:`PolicyFileError` (a ``ValueError``) saying what to do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import json
from pathlib import Path
import re

import numpy as np
import torch
from torch import nn

from wm_ros.config import ConfigError, from_dict
from wm_ros.interfaces import Observation
from wm_ros.language import EMBED_DIM, embed_words
from wm_ros.runtime.cpu_graph import check_engine, Served

FORMAT, FORMAT_VERSION = 'wm_ros.bc_policy', 1
META, WEIGHTS = 'policy.json', 'policy.safetensors'


class PolicyFileError(ValueError):
    """A policy file that is missing a part, corrupt, or of another format or version."""


@dataclass(frozen=True)
class PolicyConfig:
    """Network and training settings of a behaviour-cloned policy (``tiny``: for tests)."""

    image_size: int = 64
    channels: tuple[int, ...] = (16, 32, 32)   # 3x3 convolutions, FiLM after each
    strided: int = 2                # the first ``strided`` convolutions have stride 2
    keypoints: int = 32             # spatial-softmax keypoints of the last feature map
    words: int = 10                 # instruction words embedded one by one, in order
    word_dim: int = 32              # each word's embedding projected to this width
    film_hidden: int = 128          # instruction MLP width before the FiLM scales/shifts
    hidden: int = 256               # head width
    aux_weight: float = 1.0         # weight of the auxiliary sub-goal heatmap loss
    mirror: bool = True             # train on left-right / top-bottom mirrored frames too
    max_speed: float = 0.2          # m/s, per-axis clip of the output
    board_half: float = 0.25        # m, normalises ee_xy
    ignore_words: tuple[str, ...] = ()   # deleted from instructions before embedding
    # training
    steps: int = 3000               # gradient steps of a recipe with steps_factor 1
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    threads: int = 1                # torch CPU threads while training (0: the free cores)
    device: str = 'cpu'

    def __post_init__(self):
        if not 0 <= self.strided <= len(self.channels) or self.image_size % 2 ** self.strided:
            raise ConfigError(f'image_size {self.image_size} must be divisible by '
                              f'2^strided ({self.strided} stride-2 layers of '
                              f'{len(self.channels)})')
        if self.max_speed <= 0 or self.board_half <= 0 or self.steps < 1:
            raise ConfigError('max_speed, board_half and steps must be positive')

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return asdict(self)


CONFIGS = {
    'default': PolicyConfig(),
    'tiny': PolicyConfig(channels=(8, 8), keypoints=8, film_hidden=16, hidden=32, steps=150,
                         batch_size=32, lr=3e-3),
}


def get_config(name: str = 'default', **overrides) -> PolicyConfig:
    """Return config ``name`` of :data:`CONFIGS` with ``overrides`` (unknown names listed)."""
    if name not in CONFIGS:
        raise ConfigError(f'unknown policy config {name!r}; choose one of {sorted(CONFIGS)}')
    return from_dict(PolicyConfig, {**CONFIGS[name].to_dict(), **overrides},
                     source=f'policy config {name}')


class PolicyNet(nn.Module):
    """
    FiLM-conditioned CNN with spatial-softmax keypoints.

    ``forward(images uint8[B,S,S,3], ee float[B,2] (m), lang float[B,1+W,384])`` returns
    (action float[B,2] / max_speed, heat float[B,2,M*M]): the action and the logits of two
    heatmaps on the last feature map (M = S / 2^strided), where the block being pushed and
    its goal are. The heatmaps are trained against the expert's sub-goal (an auxiliary
    target, training only); their keypoints, with ``keypoints`` free ones, feed the head.
    """

    def __init__(self, cfg: PolicyConfig):
        super().__init__()
        self.cfg = cfg
        convs, cin = [], 5
        for i, c in enumerate(cfg.channels):
            convs.append(nn.Conv2d(cin, c, 3, 2 if i < cfg.strided else 1, 1))
            cin = c
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(nn.GroupNorm(min(4, c), c, affine=False) for c in cfg.channels)
        self.word = nn.Linear(EMBED_DIM, cfg.word_dim)
        self.film = nn.Sequential(nn.Linear(EMBED_DIM + cfg.words * cfg.word_dim,
                                            cfg.film_hidden), nn.ReLU(),
                                  nn.Linear(cfg.film_hidden, 2 * sum(cfg.channels)))
        self.points = nn.Conv2d(cin, cfg.keypoints + 2, 1)
        self.head = nn.Sequential(nn.Linear(2 * (cfg.keypoints + 2) + cin + 2, cfg.hidden),
                                  nn.ReLU(), nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(),
                                  nn.Linear(cfg.hidden, 2))
        s = cfg.image_size
        ys, xs = torch.meshgrid(torch.linspace(1, -1, s), torch.linspace(-1, 1, s), indexing='ij')
        self.register_buffer('coords', torch.stack([xs, ys])[None], persistent=False)
        m = s // 2 ** cfg.strided
        ys, xs = torch.meshgrid(torch.linspace(1, -1, m), torch.linspace(-1, 1, m), indexing='ij')
        self.register_buffer('grid', torch.stack([xs.flatten(), ys.flatten()], 1),
                             persistent=False)

    def forward(self, images: torch.Tensor, ee: torch.Tensor,
                lang: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (actions float[B, 2] in units of max_speed, heat logits float[B, 2, M*M])."""
        x = images.permute(0, 3, 1, 2).float() / 127.5 - 1.0
        x = torch.cat([x, self.coords.expand(x.shape[0], -1, -1, -1)], 1)  # traced: dynamic
        words = self.word(lang[:, 1:]) * lang[:, 1:, :1].ne(0)           # padding stays 0
        film = self.film(torch.cat([lang[:, 0], words.flatten(1)], 1))
        film = film.split([c for c in self.cfg.channels for _ in (0, 1)], 1)
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            scale, shift = film[2 * i][:, :, None, None], film[2 * i + 1][:, :, None, None]
            x = torch.relu(norm(conv(x)) * (1 + scale) + shift)
        logits = self.points(x).flatten(2)                             # [B, K+2, M*M]
        keypoints = (torch.softmax(logits, -1) @ self.grid).flatten(1)  # [B, 2K+4] in [-1, 1]
        h = torch.cat([keypoints, x.mean((2, 3)), ee / self.cfg.board_half], 1)
        return self.head(h), logits[:, :2]

    def heat_targets(self, goal: torch.Tensor) -> torch.Tensor:
        """Return float[B, 2, M*M]: Gaussian heatmaps (one cell sigma) at goal float[B, 4]."""
        sigma = 2.0 / (self.cfg.image_size // 2 ** self.cfg.strided)
        d2 = (goal.view(-1, 2, 1, 2) - self.grid).pow(2).sum(-1)       # [B, 2, M*M]
        return torch.softmax(-d2 / (2 * sigma ** 2), -1)


class LearnedPolicy(Served):
    """:class:`~wm_ros.interfaces.Policy` and ``BatchPolicy`` around a :class:`PolicyNet`."""

    served_output = 0            # the action; the heatmaps are for training

    def __init__(self, config: PolicyConfig, net: PolicyNet | None = None,
                 meta: dict | None = None, device: str = 'cpu'):
        self.config, self.device = config, torch.device(device)
        self.net = (net or PolicyNet(config)).to(self.device).eval()
        self.meta = dict(meta or {})
        self.non_finite = 0          # actions that came out NaN/inf and were replaced by zero
        self.path: Path | None = None    # the directory it was loaded from
        self._pattern = (re.compile(r'\b(' + '|'.join(map(re.escape, config.ignore_words))
                                    + r')\b', re.IGNORECASE) if config.ignore_words else None)

    def example(self) -> tuple[torch.Tensor, ...]:
        """Return zero inputs of one row: image uint8, ee_xy float, instruction embedding."""
        s, w = self.config.image_size, self.config.words
        return (torch.zeros(1, s, s, 3, dtype=torch.uint8), torch.zeros(1, 2),
                torch.zeros(1, 1 + w, EMBED_DIM))

    # ---------------------------------------------------------------- Policy protocol
    def reset(self) -> None:
        """Nothing to forget: the policy acts on one frame."""

    def set_task(self, scene, task) -> None:
        """Ignore the task spec (the policy reads the instruction); evaluators call it."""

    def act(self, observation: Observation) -> np.ndarray:
        """Return the action float32[2] (m/s) for one observation."""
        image = np.asarray(observation.image)
        return self.act_batch(image[None], np.asarray(observation.ee_xy)[None],
                              [observation.instruction])[0]

    def act_batch(self, images: np.ndarray, ee_xy: np.ndarray,
                  instructions: list[str]) -> np.ndarray:
        """Return actions float32[B, 2] (m/s) for images uint8[B,S,S,3] and ee_xy float32[B,2]."""
        images, ee_xy = self.check_inputs(images, ee_xy, instructions)
        lang = self.embed(instructions)
        if self.graph is not None:
            out = self.graph(np.ascontiguousarray(images), ee_xy, lang)
        else:
            with torch.inference_mode():
                out = self.net(torch.from_numpy(images).to(self.device),
                               torch.from_numpy(ee_xy).to(self.device),
                               torch.from_numpy(lang).to(self.device))[0].cpu().numpy()
        bad = ~np.isfinite(out).all(1)
        if bad.any():
            self.non_finite += int(bad.sum())
            out[bad] = 0.0
        return (np.clip(out, -1.0, 1.0) * self.config.max_speed).astype(np.float32)

    # ---------------------------------------------------------------- inputs
    def check_inputs(self, images, ee_xy, instructions) -> tuple[np.ndarray, np.ndarray]:
        """Return (uint8[B,S,S,3], float32[B,2]) or raise ValueError saying what is wrong."""
        images, ee_xy = np.asarray(images), np.asarray(ee_xy)
        s = self.config.image_size
        if images.ndim != 4 or images.shape[1:] != (s, s, 3) or images.dtype != np.uint8:
            raise ValueError(f'policy expects {s}x{s} rgb8 images (uint8[B, {s}, {s}, 3]), got '
                             f'{images.dtype}{list(images.shape)}; resize/convert the camera '
                             'image')
        if ee_xy.shape != (len(images), 2):
            raise ValueError(f'ee_xy must be float[{len(images)}, 2] (m), got shape '
                             f'{list(ee_xy.shape)}')
        if not np.isfinite(ee_xy).all():
            raise ValueError(f'ee_xy must be finite, got {ee_xy.tolist()}; no action computed')
        if len(instructions) != len(images) or not all(isinstance(t, str) for t in instructions):
            raise ValueError(f'need one instruction string per image: {len(images)} images, '
                             f'{len(instructions)} instructions')
        return np.ascontiguousarray(images), ee_xy.astype(np.float32)

    def instruction_text(self, instruction: str) -> str:
        """Return ``instruction`` as the policy reads it (``ignore_words`` deleted)."""
        if self._pattern is None:
            return instruction
        return ' '.join(self._pattern.sub(' ', instruction).split())

    def embed(self, instructions: list[str]) -> np.ndarray:
        """
        Return float32[B, 1+W, 384]: the instructions' embeddings as the policy reads them.

        Per instruction (shape words deleted if ``ignore_words`` says so): its sentence
        embedding, then the embeddings of its first W words other than articles, in order;
        zero rows pad short instructions.
        """
        return embed_words([self.instruction_text(t) for t in instructions], self.config.words)

    # ---------------------------------------------------------------- files
    def save(self, out_dir: str | Path, **meta) -> Path:
        """Write ``policy.json`` + ``policy.safetensors`` into ``out_dir``; ``meta`` is merged."""
        from safetensors.torch import save_file
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.meta.update(meta)
        state = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        save_file(state, str(out / WEIGHTS))
        (out / WEIGHTS).chmod(0o644)             # safetensors writes 0600; nodes run as anyone
        doc = {'format': FORMAT, 'format_version': FORMAT_VERSION,
               'config': self.config.to_dict(), **self.meta}
        (out / META).write_text(json.dumps(doc, indent=1))
        return out

    @classmethod
    def load(cls, path: str | Path, device: str = 'cpu',
             engine: str = 'onnxruntime') -> 'LearnedPolicy':
        """
        Load a policy directory; raise FileNotFoundError / :class:`PolicyFileError`.

        On the CPU ``engine='onnxruntime'`` serves the network with ONNX Runtime
        (:meth:`serve_with_ort`); ``'torch'`` (or a CUDA ``device``) runs it in torch.
        """
        check_engine(engine)
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        path = Path(path)
        redo = ('; re-train it with `wm-ros train policy --recipe NAME --out DIR` (or '
                '`make policies` for the shipped zoo)')
        if not (path / META).is_file() or not (path / WEIGHTS).is_file():
            raise FileNotFoundError(f'{path} is not a policy directory: it needs {META} and '
                                    f'{WEIGHTS}{redo}')
        try:
            doc = json.loads((path / META).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PolicyFileError(f'{path / META} is corrupt ({exc}){redo}') from None
        if not isinstance(doc, dict) or doc.get('format') != FORMAT:
            raise PolicyFileError(f'{path / META} is not a {FORMAT} file (format '
                                  f'{doc.get("format") if isinstance(doc, dict) else None!r})'
                                  f'{redo}')
        if doc.get('format_version') != FORMAT_VERSION:
            raise PolicyFileError(f'{path / META} has format_version '
                                  f'{doc.get("format_version")}, this wm_ros reads '
                                  f'{FORMAT_VERSION}{redo}')
        try:
            cfg = from_dict(PolicyConfig, doc['config'], source=str(path / META))
            state = load_file(str(path / WEIGHTS))
        except (KeyError, ConfigError, SafetensorError, OSError) as exc:
            raise PolicyFileError(f'{path} is corrupt ({type(exc).__name__}: {exc}){redo}') \
                from None
        net = PolicyNet(cfg)
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise PolicyFileError(f'{path / WEIGHTS} does not fit the network of '
                                  f'{path / META} ({str(exc).splitlines()[0]}){redo}') from None
        meta = {k: v for k, v in doc.items() if k not in ('format', 'format_version', 'config')}
        policy = cls(cfg, net, meta, device)
        policy.path = path
        return policy.serve_with_ort() if engine == 'onnxruntime' and device == 'cpu' else policy

    def warm_up(self) -> None:
        """Load the language model and run the network once (the first act is then fast)."""
        s = self.config.image_size
        self.act_batch(np.zeros((1, s, s, 3), np.uint8), np.zeros((1, 2), np.float32), [''])

    def num_parameters(self) -> int:
        """Return the number of weights."""
        return sum(p.numel() for p in self.net.parameters())
