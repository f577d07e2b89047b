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
The JEPA family: a joint-embedding predictive world model learned from pixels alone.

As PLDM and LeWM train from scratch: no pretrained encoder, no object labels, no pixel
loss on the world model. Format ``wm_ros.jepa`` (``model.json``); state ``{'z':
float32[C, g, g], 'ee': float32[2]}`` with ``g = image_size / 8``: a spatial embedding,
as PLDM and DINO-WM plan with (a single vector, tried first, kept where the T was and
lost how it was turned: a linear probe read its position at R^2 0.93-0.98 and its yaw at
none).

* **encoder**: three stride-2 convolutions and a 1x1 one, image -> ``z``, with the pusher
  painted over first (a disc of ``pusher_mask`` m at ``ee``, filled from around it): the
  embedding holds the scene, the state's ``ee`` the pusher. Without it the pusher, a few
  pixels, moved the embedding as much as the T did (the same model's distance to a goal
  image fell from 0.26 to 0.05 with only the pusher put where the goal image had it, and
  to 0.23 with only the T on its goal), so plans chased the goal image's pusher.
* **predictor**: a residual convolution ``z + f(z, planes)`` on the grid; the planes say
  where the pusher is and where the command takes it (a Gaussian at ``ee`` and at
  ``ee + dt * action``, drawn for a top-down camera spanning ``[-board_half,
  board_half]``, as the latent-grid family draws them), the pusher's offset from each
  cell's centre (a cell is 6 cm on PushT: contact needs finer) and the command as
  constant planes, so a camera with another geometry is learned too. The pusher moves
  by ``dt * action`` plus a learned correction of at most ``dt * max_speed`` per step
  (what the robot's controller makes of the command, learned from the recorded poses:
  PushT's PD controller covers about 40 % of it).
* **training** (:mod:`wm_ros.model.jepa_train`): the predictor is unrolled open loop
  over ``unroll`` recorded commands and each predicted embedding is pulled toward the
  encoder's embedding of the real frame (both sides learn, as in LeWM); VICReg's variance
  hinge (every feature's std over the batch at least 1) and covariance penalty (between
  the channels of each cell) keep the embeddings from collapsing.
* **decoder**: transposed convolutions from ``z`` (and the pusher's Gaussian) back to
  the image, trained on *detached* embeddings only: it is for viewing (``decode``), and
  nothing it learns reaches the encoder or the predictor.

A planner reads the embedding (``z`` flattened, ``D = C g^2``) through the runtime's
:class:`~wm_ros.runtime.base.Embedding` capability (:mod:`wm_ros.plan.goal`: the
distance of an imagined embedding to a goal image's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from wm_ros import config as config_io
from wm_ros.model import family_files
from wm_ros.model.config import FamilyConfig
from wm_ros.model.latent import _coords, _gaussian, _Residual

FORMAT = 'wm_ros.jepa'
FORMAT_VERSION = 1
STATE_KEYS = ('z', 'ee')
CAPABILITIES = ('embedding',)


@dataclass(frozen=True)
class JepaConfig(FamilyConfig):
    """Architecture and training settings (``config/jepa.yaml``; ``tiny`` for tests)."""

    CONFIG_FILE = 'jepa.yaml'

    # FamilyConfig's first: image_size, board_half, control_hz, max_speed
    channels: int = 8              # C: channels of the embedding grid
    width: int = 16                # channels of the encoder's first convolution (x2 deeper)
    dyn_width: int = 24            # channels of the predictor's convolutions
    dyn_blocks: int = 1            # residual blocks of the predictor
    pusher_sigma: float = 0.02     # m: the pusher's Gaussian in the planes and the drawing
    pusher_mask: float = 0.03      # m: radius the encoder paints over at the pusher (0: off)
    # training (wm_ros.model.jepa_train)
    batch_size: int = 24
    unroll: int = 8                # open-loop predictor steps per window
    steps: int = 6000
    lr: float = 1e-3
    var_weight: float = 1.0        # VICReg variance hinge
    cov_weight: float = 0.04       # VICReg covariance (off-diagonal squares / C, per cell)
    ee_weight: float = 100.0       # L1 (m) of the unrolled pusher
    decoder_weight: float = 1.0    # pixel loss of the viewing decoder (detached z)
    motion_weight: float = 20.0    # extra pixel weight off the background (decoder only)
    seed: int = 0
    threads: int = 0               # torch CPU threads (0: the free cores, model/threads.py)
    device: str = 'cpu'

    def __post_init__(self):
        if self.image_size % 8 or not 32 <= self.image_size <= 512:
            raise config_io.ConfigError(f'image_size must be a multiple of 8 in [32, 512], '
                                        f'got {self.image_size}')
        if self.unroll < 1 or self.steps < 0 or self.channels < 1 or self.width < 4:
            raise config_io.ConfigError('unroll must be >= 1, steps >= 0, channels >= 1 and '
                                        'width >= 4')

    @property
    def grid(self) -> int:
        """Return g: the embedding grid's side."""
        return self.image_size // 8

    @property
    def embed(self) -> int:
        """Return D = C g^2: the length of the embedding a planner compares."""
        return self.channels * self.grid ** 2


def load_config(name: str = 'default', path: str | Path | None = None, **overrides
                ) -> JepaConfig:
    """Load section ``name`` of ``config/jepa.yaml`` (or ``path``) plus overrides."""
    return JepaConfig.load(name, path, **overrides)


class JepaWorldModel(nn.Module):
    """Encoder, predictor and viewing decoder of the JEPA family (module docstring)."""

    def __init__(self, cfg: JepaConfig):
        super().__init__()
        self.cfg = cfg
        w, c, v, s = cfg.width, cfg.channels, cfg.dyn_width, cfg.image_size
        self.register_buffer('cells', _coords(cfg.grid, cfg.board_half), persistent=False)
        self.register_buffer('pixels', _coords(s, cfg.board_half), persistent=False)
        k = torch.arange(-5, 6, dtype=torch.float32)
        blur = torch.exp(-k ** 2 / (2 * 3.0 ** 2))
        blur = (blur[:, None] * blur[None]) / blur.sum() ** 2
        self.register_buffer('blur', blur.expand(4, 1, 11, 11).clone(), persistent=False)
        self.enc = nn.Sequential(nn.Conv2d(3, w, 4, 2, 1), nn.GELU(),
                                 nn.Conv2d(w, 2 * w, 4, 2, 1), nn.GELU(),
                                 nn.Conv2d(2 * w, 2 * w, 4, 2, 1), nn.GELU(),
                                 nn.Conv2d(2 * w, c, 1))
        self.dyn_in = nn.Conv2d(c + 6, v, 3, padding=1)
        self.dyn = nn.Sequential(*[_Residual(v) for _ in range(cfg.dyn_blocks)], nn.GELU())
        self.dyn_out = nn.Conv2d(v, c, 3, padding=1)
        self.ee_head = nn.Sequential(nn.Linear(c + 4, 64), nn.GELU(), nn.Linear(64, 2))
        for head in (self.dyn_out, self.ee_head[-1]):      # start as copy-last / dt * action
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.dec_in = nn.Sequential(nn.Conv2d(c + 1, 2 * w, 3, padding=1), nn.GELU())
        self.up = nn.Sequential(nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.GELU(),
                                nn.ConvTranspose2d(w, w, 4, 2, 1), nn.GELU(),
                                nn.ConvTranspose2d(w, w // 2, 4, 2, 1), nn.GELU())
        self.dec_out = nn.Conv2d(w // 2 + 1, 3, 3, padding=1)

    def _clip(self, ee: torch.Tensor) -> torch.Tensor:
        h = self.cfg.board_half
        return torch.clamp(ee, -h, h)

    def embed(self, images: torch.Tensor, ee: torch.Tensor) -> torch.Tensor:
        """Return the embeddings float32[B, C, g, g] of uint8 images [B, S, S, 3]."""
        x = images.permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1.0
        return self.enc(self.unpushed(x, ee.to(torch.float32)))

    def unpushed(self, x: torch.Tensor, ee: torch.Tensor) -> torch.Tensor:
        """
        Return images ``x`` [B, 3, S, S] with the pusher at ``ee`` painted over.

        The disc of radius ``pusher_mask`` is filled from its surroundings (a normalised
        Gaussian blur of the rest), so the embedding holds the scene and the state's
        ``ee`` holds the pusher: a goal image's pusher does not pull a plan, and the
        predictor is told where the pusher is by its planes.
        """
        r = self.cfg.pusher_mask
        if r <= 0:
            return x
        d = ((self.pixels[None] - ee[:, :, None, None]) ** 2).sum(1, keepdim=True).sqrt()
        keep = torch.clamp((d - r) / (0.25 * r), 0.0, 1.0)               # [B, 1, S, S]
        both = nn.functional.conv2d(torch.cat([x * keep, keep], 1), self.blur, padding=5,
                                    groups=4)
        fill = both[:, :3] / (both[:, 3:] + 1e-3)
        return keep * x + (1.0 - keep) * fill

    def encode(self, images: torch.Tensor, ee: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return the state ``(z, ee)`` of uint8 images [B, S, S, 3] and pushers [B, 2]."""
        ee = self._clip(ee.to(torch.float32))
        return self.embed(images, ee), ee

    def step(self, z: torch.Tensor, ee: torch.Tensor, action: torch.Tensor
             ) -> tuple[torch.Tensor, ...]:
        """Return the state one control period after ``action`` [B, 2] (m/s)."""
        cfg = self.cfg
        g = z.shape[-1]
        command = (action / cfg.max_speed)[:, :, None, None].expand(-1, -1, g, g)
        offset = (ee[:, :, None, None] - self.cells[None]) / cfg.board_half   # [B, 2, g, g]
        planes = torch.cat([_gaussian(ee, self.cells, cfg.pusher_sigma),
                            _gaussian(ee + cfg.dt * action, self.cells, cfg.pusher_sigma),
                            offset, command], 1)
        x = torch.cat([z.mean((2, 3)), action / cfg.max_speed, ee / cfg.board_half], 1)
        move = cfg.dt * (action + cfg.max_speed * torch.tanh(self.ee_head(x)))
        z = z + self.dyn_out(self.dyn(self.dyn_in(torch.cat([z, planes], 1))))
        return z, self._clip(ee + move)

    def decode(self, z: torch.Tensor, ee: torch.Tensor) -> torch.Tensor:
        """Return the image float32[B, 3, S, S] in [0, 1] the viewing decoder draws."""
        sigma = self.cfg.pusher_sigma
        h = self.up(self.dec_in(torch.cat([z, _gaussian(ee, self.cells, sigma)], 1)))
        h = torch.cat([h, _gaussian(ee, self.pixels, sigma)], 1)
        return torch.sigmoid(self.dec_out(h))

    def decode_uint8(self, z: torch.Tensor, ee: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return ``(images uint8[B, S, S, 3], ee)`` (what runtimes and graphs return)."""
        image = self.decode(z, ee).permute(0, 2, 3, 1)
        return torch.round(image * 255.0).to(torch.uint8), ee


def state_spec(cfg: JepaConfig) -> dict:
    """Return ``{key: {'shape': [...] without batch, 'dtype': ...}}`` of this family's State."""
    g = cfg.grid
    return {'z': {'shape': [cfg.channels, g, g], 'dtype': 'float32'},
            'ee': {'shape': [2], 'dtype': 'float32'}}


FILES = family_files.Family(FORMAT, FORMAT_VERSION, 'jepa', JepaConfig, JepaWorldModel)


def metadata(cfg: JepaConfig, data_hash: str = '', train: dict | None = None) -> dict:
    """Return the metadata written beside the weights (and the ONNX graphs)."""
    return family_files.metadata(
        FORMAT, FORMAT_VERSION, cfg, state_spec(cfg),
        {'images': 'uint8 RGB, /127.5 - 1 inside the graph',
         'positions': 'metres in the board frame (+x right, +y up)'}, CAPABILITIES,
        data_hash, train, embedding={'key': 'z', 'dim': cfg.embed})


def save(model: JepaWorldModel, out_dir: str | Path, data_hash: str = '',
         train: dict | None = None) -> Path:
    """Write weights and metadata into ``out_dir``; returns the directory."""
    return family_files.save(model, out_dir, metadata(model.cfg, data_hash, train))


GRAPHS = family_files.Z_EE_GRAPHS


def export(model_dir: str | Path, out_dir: str | Path) -> Path:
    """Export to ``out_dir``: encoder / step / decoder ``.onnx`` and ``model.json``."""
    return family_files.export_z_ee(FILES, model_dir, out_dir)
