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
two named blocks near or far, colour groups, a line. A plain CNN conditioned on the
sentence embedding (FiLM) must learn that geometry and the binding of the words at once;
on 2 CPU cores it generalised poorly to new scenes and instructions (balanced accuracy
~0.8; issue 10's first model; the shipped model's figures: docs/results/reward-model.md).
This network splits the job so each part learns from a direct signal
(:mod:`wm_ros.reward.fit`):

1. **vision** (text-free, S -> S/2): per-cell colour and shape logits (``C+1`` and ``S+1``
   classes, 0 = no block), supervised in training with the block positions; their
   product is a soft map of every block kind, whose mass and centre give a soft object
   list (kind, presence, position);
2. **language** (MiniLM embeddings -> MLP): the task family, which colour and shape the
   first and second named block have (distributions) and the region's centre, supervised
   in training with the tasks. It reads the sentence embedding and, with ``text_words``,
   the instruction's first words one by one in order (:func:`wm_ros.language.embed_words`,
   each cut to ``word_dim``): from the sentence alone a fifth of the two-block
   instructions were read with their colours and shapes half swapped;
3. **geometry**: the named blocks' positions (the object list weighted by the language
   read-out), their distance and their distance to the region; over all present blocks,
   the widest same-colour spread, the narrowest gap between colour centres and how far
   the blocks are from their best-fit line;
4. **decision**: one small MLP per family on the quantities its check is about, mixed by
   the family read from the text. The embedding reaches the decision only through what was
   read out of it: a head that also saw the raw embedding learnt to recognise training
   instructions instead of the geometry and failed on new ones.

Coordinates are fractions of the board half-width (+x right, +y up), as ``REGIONS``.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import nn

from wm_ros.language import EMBED_DIM, embed_words
from wm_ros.reward.config import RewardConfig

# the decision's inputs (``features`` columns) and which ones each family's MLP reads,
# in the order of wm_ros.sim.tasks.FAMILIES
FEATURES = ('mass_a', 'mass_b', 'ab_x', 'ab_y', 'ab', 'ar_x', 'ar_y', 'ar',
            'blocks', 'line_std', 'line_max', 'spread', 'gap')
FAMILY_INPUTS = (('mass_a', 'ar_x', 'ar_y', 'ar'),                     # block_to_region
                 ('mass_a', 'mass_b', 'ab_x', 'ab_y', 'ab'),           # block_to_block
                 ('mass_a', 'mass_b', 'ab_x', 'ab_y', 'ab'),           # separate
                 ('blocks', 'spread', 'gap'),                          # group_by_colour
                 ('blocks', 'line_std', 'line_max'))                   # make_line
FAR = 4.0       # a gap between colours that do not exist (board fractions)


def text_input(texts: list[str], words: int) -> np.ndarray:
    """Return what :meth:`RewardNet.read_text` reads: float32[B, (1 + words) * 384]."""
    return embed_words(texts, words).reshape(len(texts), (1 + words) * EMBED_DIM)


class RewardNet(nn.Module):
    """Success logits float[B] of images uint8[B,S,S,3] and text float[B, (1+W)*384]."""

    def __init__(self, cfg: RewardConfig):
        super().__init__()
        w, nc, ns = cfg.width, cfg.aux_colours, cfg.aux_shapes
        if cfg.aux_families != len(FAMILY_INPUTS):
            raise ValueError(f'aux_families must be {len(FAMILY_INPUTS)} (one decision per '
                             f'family of wm_ros.sim.tasks), got {cfg.aux_families}')
        self.nc, self.ns, self.nf = nc, ns, cfg.aux_families
        self.conv0 = nn.Conv2d(3, w, 4, 2, 1)                    # S/2, sees every pixel
        self.where = nn.Conv2d(2, w, 4, 2, 1, bias=False)        # the coordinates' part
        self.conv1 = nn.Conv2d(w, 2 * w, 3, 1, 1)
        self.conv2 = nn.Conv2d(2 * w, 2 * w, 3, 1, 1)
        self.norms = nn.ModuleList([nn.BatchNorm2d(c) for c in (w, 2 * w, 2 * w)])
        self.blocks = nn.Conv2d(2 * w, nc + ns + 2, 1)
        t, self.words = cfg.text_hidden, cfg.text_words
        self.word = nn.Linear(EMBED_DIM, cfg.word_dim) if self.words else None
        self.text = nn.Sequential(nn.Linear(EMBED_DIM + self.words * cfg.word_dim, t),
                                  nn.ReLU(), nn.Linear(t, t), nn.ReLU())
        self.query = nn.Linear(t, 2 * (nc + ns) + self.nf + 2)
        self.inputs = [[FEATURES.index(f) for f in names] for names in FAMILY_INPUTS]
        self.heads = nn.ModuleList([
            nn.Sequential(nn.Linear(len(i), cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, 1))
            for i in self.inputs])
        self.colour_pairs = [(i, j) for c in range(nc) for i, j in
                             itertools.combinations(range(c * ns, (c + 1) * ns), 2)]
        self.gap_pairs = list(itertools.combinations(range(nc), 2))
        ramp = torch.linspace(-1.0, 1.0, cfg.image_size)
        self.register_buffer('coords', torch.stack(torch.meshgrid(ramp, ramp, indexing='ij'))
                             [None], persistent=False)
        half = (torch.arange(cfg.image_size // 2) + 0.5) / (cfg.image_size // 2) * 2 - 1
        gy, gx = torch.meshgrid(-half, half, indexing='ij')       # +y up, +x right
        self.register_buffer('grid', torch.stack([gx.reshape(-1), gy.reshape(-1)]),
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
        """Return the instruction's parts: named blocks' logits, family logits, region."""
        if self.word is not None:             # text: [B, (1+W)*384], sentence then words
            lang = text.view(text.shape[0], 1 + self.words, EMBED_DIM)
            words = self.word(lang[:, 1:]) * lang[:, 1:, :1].ne(0)     # padding stays 0
            text = torch.cat([lang[:, 0], words.flatten(1)], 1)
        q = self.query(self.text(text))
        nc, ns, nf = self.nc, self.ns, self.nf
        a, b = q[:, :nc + ns], q[:, nc + ns:2 * (nc + ns)]
        return {'a_colour': a[:, :nc], 'a_shape': a[:, nc:], 'b_colour': b[:, :nc],
                'b_shape': b[:, nc:], 'family': q[:, 2 * (nc + ns):2 * (nc + ns) + nf],
                'region': q[:, -2:]}

    def objects(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return per kind (colour-major) its mass in cells [B, C*S] and centre [B, C*S, 2]."""
        nc = self.nc
        colour = maps[:, :nc + 1].flatten(2).softmax(1)[:, 1:]           # [B, C, N]
        shape = maps[:, nc + 1:].flatten(2).softmax(1)[:, 1:]            # [B, S, N]
        kind = (colour[:, :, None] * shape[:, None]).flatten(1, 2)       # [B, C*S, N]
        mass = kind.sum(-1)
        centre = (kind @ self.grid.T) / mass[..., None].clamp_min(1e-4)
        return mass, centre

    def features(self, maps: torch.Tensor, parts: dict) -> torch.Tensor:
        """Return the decision's inputs [B, len(FEATURES)] (module docstring, step 3)."""
        return self.geometry(*self.objects(maps), parts)

    def geometry(self, mass: torch.Tensor, centre: torch.Tensor, parts: dict) -> torch.Tensor:
        """Return the decision's inputs from the object list (:meth:`objects`) and text."""
        present = torch.sigmoid(1.5 * (mass - 3.0))           # a block covers ~8 cells
        named = []
        for key in ('a', 'b'):
            q = (parts[f'{key}_colour'].softmax(-1)[:, :, None] *
                 parts[f'{key}_shape'].softmax(-1)[:, None]).flatten(1)     # [B, C*S]
            named.append(((q * mass).sum(-1, keepdim=True) * 0.125,
                          (q[..., None] * centre).sum(1)))
        (mass_a, pos_a), (mass_b, pos_b) = named
        ab, ar = pos_a - pos_b, pos_a - parts['region']
        n = present.sum(-1, keepdim=True)
        # best-fit line through the present blocks' centres
        mean = (present[..., None] * centre).sum(1) / n.clamp_min(1e-4)
        d = centre - mean[:, None]
        cxx = (present * d[..., 0] ** 2).sum(-1)
        cyy = (present * d[..., 1] ** 2).sum(-1)
        cxy = (present * d[..., 0] * d[..., 1]).sum(-1)
        theta = 0.5 * torch.atan2(2 * cxy, cxx - cyy)
        normal = torch.stack([-torch.sin(theta), torch.cos(theta)], -1)
        off = (d * normal[:, None]).sum(-1).abs()                          # [B, C*S]
        line_std = ((present * off ** 2).sum(-1) / n[:, 0].clamp_min(1e-4)).sqrt()
        line_max = (present * off).max(-1).values
        # colour groups: widest same-colour pair, narrowest gap between colour centres
        i, j = zip(*self.colour_pairs)
        spread = (present[:, i] * present[:, j] *
                  (centre[:, i] - centre[:, j]).norm(dim=-1)).max(-1).values
        per = present.view(present.shape[0], self.nc, self.ns)        # traced: dynamic batch
        weight = per.sum(-1, keepdim=True)
        colour_centre = (per[..., None] * centre.view(present.shape[0], self.nc, self.ns, 2)
                         ).sum(2) / weight.clamp_min(1e-4)
        has = weight[..., 0].clamp_max(1.0)
        i, j = zip(*self.gap_pairs)
        gap = ((colour_centre[:, i] - colour_centre[:, j]).norm(dim=-1) +
               FAR * (1 - has[:, i] * has[:, j])).min(-1).values
        return torch.cat([mass_a, mass_b, ab, ab.norm(dim=-1, keepdim=True), ar,
                          ar.norm(dim=-1, keepdim=True), n * 0.25, line_std[:, None],
                          line_max[:, None], spread[:, None], gap[:, None]], 1)

    def decide(self, features: torch.Tensor, family: torch.Tensor) -> torch.Tensor:
        """Return logits float[B]: each family's MLP on its inputs, mixed by ``family``."""
        out = torch.cat([head(features[:, i]) for head, i in zip(self.heads, self.inputs)], 1)
        return (out * family.softmax(-1)).sum(-1)

    def forward(self, images: torch.Tensor, text: torch.Tensor, aux: bool = False):
        """Return logits float[B] (and the block logits and text parts with ``aux``)."""
        maps = self.block_logits(images)
        parts = self.read_text(text)
        logits = self.decide(self.features(maps, parts), parts['family'])
        return (logits, maps, parts) if aux else logits
