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
The latent-grid family: a general video world model learned from images, actions and pose.

For cameras whose scenes are not flat sprites, and for robots that record no object
labels. Format ``wm_ros.latent_grid`` (``model.json``); state ``{'z': float32[L, g, g],
'ee': float32[2]}`` with ``g = image_size / 4``.

* **encoder**: three convolutions to the latent grid; the pusher position passes through.
* **dynamics**: a residual convolutional step ``z + f(z, planes)``; the planes tell it
  where the pusher is and where the command takes it (a Gaussian at ``ee`` and at
  ``ee + dt * action`` on the board, drawn for a top-down camera whose image spans
  ``[-board_half, board_half]``), plus the command and position as constant planes so a
  camera with any other geometry is learned too. The pusher moves by ``dt * action``
  plus a small learned correction (what the arm's controller does to the command).
* **decoder**: two transposed convolutions back to the image, the pusher's Gaussian
  given again at full resolution to draw it sharp.

Trained end to end on open-loop unrolls (:mod:`wm_ros.model.latent_train`). No object
read-out: its objects are measured from its decoded frames by a fixed colour probe
(:mod:`wm_ros.evaluate.fidelity`), used only for measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from wm_ros import config as config_io
from wm_ros.model import family_files
from wm_ros.model.config import FamilyConfig

FORMAT = 'wm_ros.latent_grid'
FORMAT_VERSION = 1
STATE_KEYS = ('z', 'ee')


@dataclass(frozen=True)
class LatentConfig(FamilyConfig):
    """Architecture and training settings (``config/latent.yaml``; ``tiny`` for tests)."""

    CONFIG_FILE = 'latent.yaml'

    # FamilyConfig's first: image_size, board_half, control_hz, max_speed
    latent: int = 32               # channels of the latent grid
    width: int = 48                # channels of the convolutions
    dyn_blocks: int = 2            # residual blocks of the dynamics
    pusher_sigma: float = 0.02     # m: the pusher's Gaussian in the planes
    # training (wm_ros.model.latent_train)
    batch_size: int = 32
    unroll: int = 8
    steps: int = 3000
    lr: float = 1e-3
    motion_weight: float = 20.0    # extra weight of pixels off the episode's median frame
    latent_weight: float = 0.1     # predicted latent vs the encoding of the real next frame
    seed: int = 0
    threads: int = 0                 # torch CPU threads (0: the free cores, model/threads.py)
    device: str = 'cpu'

    def __post_init__(self):
        if self.image_size % 4 or not 16 <= self.image_size <= 512:
            raise config_io.ConfigError(f'image_size must be a multiple of 4 in [16, 512], '
                                        f'got {self.image_size}')
        if self.unroll < 1 or self.steps < 0:
            raise config_io.ConfigError('unroll must be >= 1 and steps >= 0')


def load_config(name: str = 'default', path: str | Path | None = None, **overrides
                ) -> LatentConfig:
    """Load section ``name`` of ``config/latent.yaml`` (or ``path``) plus overrides."""
    return LatentConfig.load(name, path, **overrides)


def _gaussian(xy: torch.Tensor, coords: torch.Tensor, sigma: float) -> torch.Tensor:
    """Return float32[B, 1, n, n]: a Gaussian at ``xy`` [B, 2] on ``coords`` [2, n, n]."""
    d2 = ((coords[None] - xy[:, :, None, None]) ** 2).sum(1, keepdim=True)
    return torch.exp(-d2 / (2 * sigma ** 2))


def _coords(n: int, half: float) -> torch.Tensor:
    """Return the board (x, y) of each pixel centre of an n x n image, float32[2, n, n]."""
    c = (torch.arange(n, dtype=torch.float32) + 0.5) / n * 2 - 1
    y, x = torch.meshgrid(-c * half, c * half, indexing='ij')
    return torch.stack([x, y])


class _Residual(nn.Module):
    """Two 3x3 convolutions added to their input."""

    def __init__(self, width: int):
        super().__init__()
        self.a = nn.Conv2d(width, width, 3, padding=1)
        self.b = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x):
        return x + self.b(nn.functional.gelu(self.a(nn.functional.gelu(x))))


class LatentWorldModel(nn.Module):
    """Encoder, dynamics and decoder of the latent-grid family (see the module docstring)."""

    def __init__(self, cfg: LatentConfig):
        super().__init__()
        self.cfg = cfg
        w, n, s = cfg.width, cfg.latent, cfg.image_size
        self.register_buffer('grid', _coords(s // 4, cfg.board_half), persistent=False)
        self.register_buffer('pixels', _coords(s, cfg.board_half), persistent=False)
        self.enc = nn.Sequential(nn.Conv2d(3, w // 2, 4, 2, 1), nn.GELU(),
                                 nn.Conv2d(w // 2, w, 4, 2, 1), nn.GELU(),
                                 nn.Conv2d(w, w, 3, padding=1), nn.GELU(), nn.Conv2d(w, n, 1))
        self.dyn_in = nn.Conv2d(n + 6, w, 3, padding=1)
        self.dyn = nn.Sequential(*[_Residual(w) for _ in range(cfg.dyn_blocks)], nn.GELU())
        self.dyn_out = nn.Conv2d(w, n, 3, padding=1)
        nn.init.zeros_(self.dyn_out.weight)
        nn.init.zeros_(self.dyn_out.bias)
        self.ee_head = nn.Sequential(nn.Linear(4, 32), nn.GELU(), nn.Linear(32, 2))
        nn.init.zeros_(self.ee_head[-1].weight)
        nn.init.zeros_(self.ee_head[-1].bias)
        self.dec_in = nn.Sequential(nn.Conv2d(n + 1, w, 3, padding=1), nn.GELU())
        self.up = nn.Sequential(nn.ConvTranspose2d(w, w // 2, 4, 2, 1), nn.GELU(),
                                nn.ConvTranspose2d(w // 2, w // 3, 4, 2, 1), nn.GELU())
        self.dec_out = nn.Conv2d(w // 3 + 1, 3, 3, padding=1)

    def _clip(self, ee: torch.Tensor) -> torch.Tensor:
        h = self.cfg.board_half
        return torch.clamp(ee, -h, h)

    def encode(self, images: torch.Tensor, ee: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return ``(z, ee)`` from uint8 images [B, S, S, 3] and pusher positions [B, 2]."""
        x = images.permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1.0
        return self.enc(x), self._clip(ee.to(torch.float32))

    def step(self, z: torch.Tensor, ee: torch.Tensor, action: torch.Tensor
             ) -> tuple[torch.Tensor, ...]:
        """Return the state one control period after applying ``action`` [B, 2] (m/s)."""
        cfg = self.cfg
        moved = ee + cfg.dt * action
        g = z.shape[-1]
        const = torch.cat([action / cfg.max_speed, ee / cfg.board_half], 1)
        planes = torch.cat([_gaussian(ee, self.grid, cfg.pusher_sigma),
                            _gaussian(moved, self.grid, cfg.pusher_sigma),
                            const[:, :, None, None].expand(-1, -1, g, g)], 1)
        z = z + self.dyn_out(self.dyn(self.dyn_in(torch.cat([z, planes], 1))))
        ee = self._clip(moved + 0.01 * self.ee_head(const))
        return z, ee

    def decode(self, z: torch.Tensor, ee: torch.Tensor) -> torch.Tensor:
        """Return the image float32[B, 3, S, S] in [0, 1] of a state."""
        sigma = self.cfg.pusher_sigma
        h = self.up(self.dec_in(torch.cat([z, _gaussian(ee, self.grid, sigma)], 1)))
        h = torch.cat([h, _gaussian(ee, self.pixels, sigma)], 1)
        return torch.sigmoid(self.dec_out(h))

    def decode_uint8(self, z: torch.Tensor, ee: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return ``(images uint8[B, S, S, 3], ee)`` (what runtimes and graphs return)."""
        image = self.decode(z, ee).permute(0, 2, 3, 1)
        return torch.round(image * 255.0).to(torch.uint8), ee


def state_spec(cfg: LatentConfig) -> dict:
    """Return ``{key: {'shape': [...] without batch, 'dtype': ...}}`` of this family's State."""
    g = cfg.image_size // 4
    return {'z': {'shape': [cfg.latent, g, g], 'dtype': 'float32'},
            'ee': {'shape': [2], 'dtype': 'float32'}}


FILES = family_files.Family(FORMAT, FORMAT_VERSION, 'latent', LatentConfig, LatentWorldModel)


def metadata(cfg: LatentConfig, data_hash: str = '', train: dict | None = None) -> dict:
    """Return the metadata written beside the weights (and the ONNX graphs)."""
    return family_files.metadata(
        FORMAT, FORMAT_VERSION, cfg, state_spec(cfg),
        {'images': 'uint8 RGB, /127.5 - 1 inside the graph',
         'positions': 'metres in the board frame (+x right, +y up)'}, (), data_hash, train)


def save(model: LatentWorldModel, out_dir: str | Path, data_hash: str = '',
         train: dict | None = None, extra: dict | None = None) -> Path:
    """Write weights and metadata into ``out_dir``; returns the directory."""
    return family_files.save(model, out_dir,
                             {**metadata(model.cfg, data_hash, train), **(extra or {})})


GRAPHS = family_files.Z_EE_GRAPHS


def export(model_dir: str | Path, out_dir: str | Path) -> Path:
    """Export to ``out_dir``: encoder / step / decoder ``.onnx`` and ``model.json``."""
    return family_files.export_z_ee(FILES, model_dir, out_dir)
