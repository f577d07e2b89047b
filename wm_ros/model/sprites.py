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
The object-slot world model's decoder: state -> frame by compositing warped sprites.

A learned background plus one learned RGBA sprite per kind (and one for the pusher),
each warped to its slot's pose with ``grid_sample`` over its own small window and
scatter-added onto the canvas (:func:`paste_sprites`, shared with the label-free family).
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from wm_ros.model.config import WorldModelConfig


def _logit(p: float) -> float:
    """Return the logit of ``p`` clipped to [0.001, 0.999]."""
    p = min(max(p, 1e-3), 1 - 1e-3)
    return math.log(p / (1 - p))


def paste_sprites(tex: torch.Tensor, xy: torch.Tensor, angle: torch.Tensor,
                  weight: torch.Tensor, batch: int, size: int, half: float, extent: float,
                  offsets: torch.Tensor, offsets_i: torch.Tensor) -> torch.Tensor:
    """
    Return the premultiplied RGBA canvas float32[B, 4, S, S] of N = B x K sprites.

    ``tex`` [N, 4, p, p] premultiplied textures spanning ``extent`` metres, placed centred at
    ``xy`` [N, 2] (board metres), turned by ``angle`` [N] and scaled by ``weight`` [N]
    (sprite k of image b is row ``b * K + k``). Each is sampled only over its own
    ``w x w`` window (``w = len(offsets)``) and scatter-added onto a padded canvas;
    sprites never overlap from the top, so summing layers equals compositing them.
    """
    n, s, w = tex.shape[0], size, offsets.shape[0]
    per = n // batch
    col = (xy[:, 0] / half + 1.0) * (s / 2.0) - 0.5                         # pixel coords
    row = (1.0 - xy[:, 1] / half) * (s / 2.0) - 0.5
    x0 = torch.clamp(torch.floor(col) - (w // 2 - 1), -w, s).to(torch.int64)
    y0 = torch.clamp(torch.floor(row) - (w // 2 - 1), -w, s).to(torch.int64)
    gx = (x0.unsqueeze(1).to(torch.float32) + offsets - col.unsqueeze(1))  # [N, w]
    gy = (y0.unsqueeze(1).to(torch.float32) + offsets - row.unsqueeze(1))
    scale = 4.0 * half / (extent * s)                                       # px -> tex
    c, sn = torch.cos(angle).view(n, 1, 1) * scale, torch.sin(angle).view(n, 1, 1) * scale
    dx, dy = gx.unsqueeze(1), gy.unsqueeze(2)                                # [N, 1|w, w|1]
    grid = torch.stack([(c * dx - sn * dy), (sn * dx + c * dy)], -1)         # [N, w, w, 2]
    layers = F.grid_sample(tex, grid, mode='bilinear', padding_mode='zeros',
                           align_corners=False)                              # [N, 4, w, w]
    layers = (layers * weight.view(n, 1, 1, 1)).view(batch, per, 4, w * w).permute(0, 2, 1, 3)
    p = s + 2 * w
    index = ((y0 + w).view(n, 1, 1) + offsets_i.view(1, w, 1)) * p \
        + (x0 + w).view(n, 1, 1) + offsets_i.view(1, 1, w)                   # [N, w, w]
    index = index.view(batch, 1, per * w * w).expand(batch, 4, -1)
    canvas = torch.zeros(batch, 4, p * p, dtype=layers.dtype, device=layers.device)
    canvas = canvas.scatter_add(2, index, layers.reshape(batch, 4, per * w * w))
    return canvas.view(batch, 4, p, p)[:, :, w:w + s, w:w + s]


class Decoder(nn.Module):
    """State -> frame: learned background plus one warped RGBA sprite per slot and pusher."""

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.cfg = cfg
        s, px, world = cfg.image_size, cfg.sprite_px, cfg.world
        k = len(world.kinds)
        lin = (torch.arange(px, dtype=torch.float32) + 0.5) / px * 2 - 1
        yy, xx = torch.meshgrid(lin, lin, indexing='ij')
        r = torch.sqrt(xx ** 2 + yy ** 2) * cfg.sprite_extent / 2
        disc = torch.where(r < world.block_radius, _logit(0.9), _logit(0.02))
        pusher = torch.where(r < world.pusher_radius, _logit(0.95), _logit(0.01))
        colours = world.kind_rgb() + [world.pusher_rgb]
        sprites = torch.empty(k + 1, 4, px, px)
        for i, rgb in enumerate(colours):
            for ch in range(3):
                sprites[i, ch] = _logit(rgb[ch])
            sprites[i, 3] = disc if i < k else pusher
        self.sprites = nn.Parameter(sprites)
        self.background = nn.Parameter(torch.tensor([_logit(c) for c in world.board_rgb])
                                       .view(3, 1, 1).repeat(1, s, s))
        self.window = int(math.ceil(cfg.sprite_extent / (2 * cfg.board_half) * s)) + 2
        self.register_buffer('offsets', torch.arange(self.window, dtype=torch.float32),
                             persistent=False)
        self.register_buffer('offsets_i', torch.arange(self.window), persistent=False)

    def render(self, kind, present, pos, yaw, ee) -> torch.Tensor:
        """
        Return float images [B, 3, S, S] in [0, 1].

        Each sprite is sampled only over its own ``window`` x ``window`` pixels (about 5 %
        of the frame) and the premultiplied layers are scatter-added onto a padded canvas.
        Objects never overlap from the top, so summing layers equals compositing them.
        """
        b, m = kind.shape
        k = len(self.cfg.world.kinds)
        kinds = torch.cat([kind, torch.full_like(kind[:, :1], k)], 1)           # [B, M+1]
        sprite = torch.sigmoid(self.sprites)
        sprite = torch.cat([sprite[:, :3] * sprite[:, 3:], sprite[:, 3:]], 1)    # premultiplied
        tex = sprite.index_select(0, kinds.flatten())                            # [N, 4, p, p]
        xy = torch.cat([pos, ee.unsqueeze(1)], 1).reshape(-1, 2)
        angle = torch.cat([yaw, torch.zeros_like(yaw[:, :1])], 1).reshape(-1)
        weight = torch.cat([present, torch.ones_like(present[:, :1])], 1).reshape(-1)
        canvas = paste_sprites(tex, xy, angle, weight, b, self.cfg.image_size,
                               self.cfg.board_half, self.cfg.sprite_extent, self.offsets,
                               self.offsets_i)
        background = torch.sigmoid(self.background).unsqueeze(0)
        return background * (1.0 - torch.clamp(canvas[:, 3:], 0.0, 1.0)) + canvas[:, :3]

    def forward(self, kind, present, pos, yaw, prev_pos, ee, prev_ee, uncertainty):
        """Return ``images`` uint8[B, S, S, 3] and ``ee`` float32[B, 2]."""
        image = self.render(kind, present, pos, yaw, ee)
        image = torch.clamp(image * 255.0 + 0.5, 0.0, 255.0).to(torch.uint8)
        return image.permute(0, 2, 3, 1), ee
