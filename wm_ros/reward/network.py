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
``RewardNet``: where the named blocks are, from pixels, and whether that is success.

Success on this tabletop is a matter of where blocks are: one named block in a region,
two named blocks near or far, colour groups, a line. A plain CNN must learn that geometry
and the grounding of the words at once and generalised poorly on 2 CPU cores (issue 10,
README); this network splits the job so each part learns from a direct signal:

1. **trunk** (text-free, S -> S/2): per-cell colour and shape logits (``C+1`` and ``S+1``
   classes, 0 = no block), supervised in training with the block positions;
2. **language** (MiniLM embedding float[384] -> MLP): which colour and shape the first
   and second named block have (distributions), the task family and the region's centre,
   supervised in training with the task;
3. **read-out**: the text-conditioned attention map of each named block (P(colour) x
   P(shape) per cell) gives its position and mass; per-colour and all-block moments
   (mass, centre, spread, colour-centre distances, the all-block covariance's
   eigenvalues) describe groups and lines;
4. **head**: an MLP on those features and the region -> one success logit per family,
   mixed by the family read from the text (each family's rule is learnt from its own
   rows). The text reaches the head only through what was read out of it (named blocks,
   region, family): a head that also saw the raw embedding learnt to recognise training
   instructions instead of the geometry and failed on new ones.

Coordinates are fractions of the board half-width (+x right, +y up), as ``REGIONS``.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from wm_ros.language import EMBED_DIM
from wm_ros.reward.config import RewardConfig


def moments(mass: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Return [B, K, 6]: mass, centre x, y, std x, y, xy-correlation of maps [B,K,N]."""
    total = mass.sum(-1, keepdim=True)
    w = mass / total.clamp_min(1e-4)
    first, second = w @ grid[:2].T, w @ grid[2:].T          # [B,K,2]: E[x], E[y]; E[..^2]
    var = (second[..., :2] - first * first).clamp_min(0)
    cov = second[..., 2:] - first[..., :1] * first[..., 1:]
    std = (var + 1e-4).sqrt()
    return torch.cat([total * 0.2, first, std, cov / (std[..., :1] * std[..., 1:])], -1)


class RewardNet(nn.Module):
    """Success logits float[B] of images uint8[B,S,S,3] and text embeddings float[B,384]."""

    def __init__(self, cfg: RewardConfig):
        super().__init__()
        w, nc, ns = cfg.width, cfg.aux_colours, cfg.aux_shapes
        self.nc, self.ns, self.nf = nc, ns, cfg.aux_families
        self.conv0 = nn.Conv2d(3, w, 4, 2, 1)                    # S/2, sees every pixel
        self.where = nn.Conv2d(2, w, 4, 2, 1, bias=False)        # the coordinates' part
        self.conv1 = nn.Conv2d(w, 2 * w, 3, 1, 1)
        self.conv2 = nn.Conv2d(2 * w, 2 * w, 3, 1, 1)
        self.norms = nn.ModuleList([nn.GroupNorm(min(4, c), c) for c in (w, 2 * w, 2 * w)])
        self.blocks = nn.Conv2d(2 * w, nc + ns + 2, 1)
        h, t = cfg.hidden, cfg.text_hidden
        self.text = nn.Sequential(nn.Linear(EMBED_DIM, t), nn.ReLU(), nn.Linear(t, t), nn.ReLU())
        self.query = nn.Linear(t, 2 * (nc + ns) + self.nf + 2)
        self.pairs = list(itertools.combinations(range(nc), 2))
        width = 2 * 6 + 8 + (nc + 1) * 6 + len(self.pairs) + 2
        self.head = nn.Sequential(nn.Linear(width, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                                  nn.Linear(h, self.nf))
        ramp = torch.linspace(-1.0, 1.0, cfg.image_size)
        self.register_buffer('coords', torch.stack(torch.meshgrid(ramp, ramp, indexing='ij'))
                             [None], persistent=False)
        half = (torch.arange(cfg.image_size // 2) + 0.5) / (cfg.image_size // 2) * 2 - 1
        gy, gx = torch.meshgrid(-half, half, indexing='ij')       # +y up, +x right
        gx, gy = gx.reshape(-1), gy.reshape(-1)                    # x, y, x^2, y^2, xy
        self.register_buffer('grid', torch.stack([gx, gy, gx * gx, gy * gy, gx * gy]),
                             persistent=False)

    def block_logits(self, images: torch.Tensor) -> torch.Tensor:
        """Return per-cell colour and shape logits [B, C+S+2, S/2, S/2] of images 0..255."""
        x = images.permute(0, 3, 1, 2).float()
        x = nn.functional.conv2d(x, self.conv0.weight * (1 / 127.5), self.conv0.bias, 2, 1)
        x = torch.relu_(self.norms[0](x + self.where(self.coords)))
        x = torch.relu_(self.norms[1](self.conv1(x)))
        x = torch.relu_(self.norms[2](self.conv2(x)))
        return self.blocks(x)

    def read_text(self, text: torch.Tensor) -> dict:
        """Return the instruction's parts: query logits, family logits, region, features."""
        h = self.text(text)
        q = self.query(h)
        nc, ns, nf = self.nc, self.ns, self.nf
        a, b = q[:, :nc + ns], q[:, nc + ns:2 * (nc + ns)]
        return {'a_colour': a[:, :nc], 'a_shape': a[:, nc:], 'b_colour': b[:, :nc],
                'b_shape': b[:, nc:], 'family': q[:, 2 * (nc + ns):2 * (nc + ns) + nf],
                'region': q[:, -2:]}

    def features(self, maps: torch.Tensor, parts: dict) -> torch.Tensor:
        """Return the head's input [B, F] from block logits and the instruction's parts."""
        nc = self.nc
        colour = maps[:, :nc + 1].flatten(2).softmax(1)                  # [B, C+1, N]
        shape = maps[:, nc + 1:].flatten(2).softmax(1)[:, 1:]            # [B, S, N]
        named = []
        for key in ('a', 'b'):
            qc = parts[f'{key}_colour'].softmax(-1)[:, None]             # [B, 1, C]
            qs = parts[f'{key}_shape'].softmax(-1)[:, None]
            named.append((qc @ colour[:, 1:]) * (qs @ shape))            # [B, 1, N]
        per_colour = torch.cat([colour[:, 1:], 1 - colour[:, :1]], 1)    # C colours + any
        m = moments(torch.cat(named + [per_colour], 1), self.grid)       # [B, 2+C+1, 6]
        a, b, groups = m[:, 0], m[:, 1], m[:, 2:]
        region = parts['region']
        centres = groups[:, :nc, 1:3]
        gaps = torch.stack([(centres[:, i] - centres[:, j]).norm(dim=-1)
                            for i, j in self.pairs], -1)
        cov = groups[:, -1]
        sx, sy, r = cov[:, 3], cov[:, 4], cov[:, 5]
        vx, vy, vxy = sx * sx, sy * sy, r * sx * sy
        root = (((vx - vy) / 2) ** 2 + vxy ** 2 + 1e-8).sqrt()
        eigen = torch.stack([((vx + vy) / 2 - root).clamp_min(0).sqrt(),
                             ((vx + vy) / 2 + root).sqrt()], -1)
        ab = a[:, 1:3] - b[:, 1:3]
        ar = a[:, 1:3] - region
        return torch.cat([a, b, ab, ab.norm(dim=-1, keepdim=True), ar,
                          ar.norm(dim=-1, keepdim=True), region, groups.flatten(1), gaps,
                          eigen], 1)

    def decide(self, features: torch.Tensor, family: torch.Tensor) -> torch.Tensor:
        """Return logits float[B]: each family's head, mixed by the family logits [B, F]."""
        return (self.head(features) * family.softmax(-1)).sum(-1)

    def forward(self, images: torch.Tensor, text: torch.Tensor, aux: bool = False):
        """Return logits float[B] (and the block logits and text parts with ``aux``)."""
        maps = self.block_logits(images)
        parts = self.read_text(text)
        logits = self.decide(self.features(maps, parts), parts['family'])
        return (logits, maps, parts) if aux else logits
