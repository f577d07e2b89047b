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
What the free-slot family measures in the recorded frames besides positions (no labels).

* :func:`track_yaw`: each tracked object's yaw in every frame, relative to its sprite
  as first seen: the first sprite is turned by candidate angles around the previous
  frame's yaw and compared with the object's sprite in this frame (premultiplied RGBA,
  both centred on their centroids); the best fit wins, the smallest turn among equals,
  so a round or square object whose turn cannot be seen keeps its yaw. These are the
  training targets of the yaw the step predicts.
* :func:`pusher_radius`: the pusher's radius from the frames: the area of the pixels
  around its recorded position that are a mix of its colour and the background.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

COARSE = np.deg2rad(np.arange(-36.0, 36.1, 3.0))      # per frame, around the last yaw
FINE = np.deg2rad(np.arange(-2.5, 2.6, 0.5))
STILL = 0.01          # fit cost per radian of turn: among equal fits, the smallest turn


def _texel_grid(offset: np.ndarray, px: float, p: int) -> torch.Tensor:
    """Return float[p, p, 2]: each texel's position (m, board frame) from the centroid."""
    idx = (np.arange(p) - p // 2) * px
    x, y = np.meshgrid(idx, -idx)                            # columns right, rows up
    return torch.from_numpy(np.stack([x + offset[0], y + offset[1]], -1).astype(np.float32))


def turned(ref: np.ndarray, ref_offset: np.ndarray, offset: np.ndarray, angles: np.ndarray,
           px: float) -> torch.Tensor:
    """
    Return float[K, 4, P, P]: sprite ``ref`` turned by each of ``angles`` (rad).

    ``ref_offset`` and ``offset`` are the sprites' anchors minus their centroids (m): the
    turned sprite is drawn on the texels of a sprite anchored at ``offset``.
    """
    p = ref.shape[-1]
    q = _texel_grid(offset, px, p)                                    # [P, P, 2]
    c = torch.cos(torch.from_numpy(-angles.astype(np.float32))).view(-1, 1, 1)
    s = torch.sin(torch.from_numpy(-angles.astype(np.float32))).view(-1, 1, 1)
    x = c * q[..., 0] - s * q[..., 1] - float(ref_offset[0])           # [K, P, P] from anchor
    y = s * q[..., 0] + c * q[..., 1] - float(ref_offset[1])
    grid = torch.stack([x / px / (p / 2), -y / px / (p / 2)], -1)       # align_corners=False
    tex = torch.from_numpy(ref.astype(np.float32)).unsqueeze(0).expand(len(angles), -1, -1, -1)
    return F.grid_sample(tex, grid, mode='bilinear', padding_mode='zeros', align_corners=False)


def fit_yaw(ref, ref_offset, sprite, offset, last: float, px: float) -> float:
    """Return the yaw (rad) at which ``ref`` turned best fits ``sprite`` near ``last``."""
    target = torch.from_numpy(sprite.astype(np.float32))
    norm = max(float(target[3].sum()), 1.0)
    best = last
    for steps in (COARSE, FINE):
        angles = best + steps
        cost = ((turned(ref, ref_offset, offset, angles, px) - target) ** 2).sum((1, 2, 3))
        cost = cost.numpy() / norm + STILL * np.abs(angles - last)
        best = float(angles[int(np.argmin(cost))])
    return best


def track_yaw(first, found, slot_of, px: float) -> np.ndarray:
    """
    Return float32[T, M]: each slot's yaw through an episode (0 where not seen).

    ``first``: the first frame's :class:`~wm_ros.model.discover.Discovery`; ``found``: each
    frame's; ``slot_of[t]``: {slot: index of its object in ``found[t]``}.
    """
    m = len(first.present)
    yaw = np.zeros((len(found), m), np.float32)
    ref_offset = first.anchor - first.pos
    for t in range(1, len(found)):
        yaw[t] = yaw[t - 1]
        for slot, k in slot_of[t].items():
            d = found[t]
            yaw[t, slot] = fit_yaw(first.sprite[slot], ref_offset[slot], d.sprite[k],
                                   d.anchor[k] - d.pos[k], float(yaw[t - 1, slot]), px)
    return (np.remainder(yaw + math.pi, 2 * math.pi) - math.pi).astype(np.float32)


def pusher_radius(frames, ee, background, board_half: float, threshold: float) -> float:
    """
    Return the pusher's radius (m): the median over ``frames`` of ``sqrt(area / pi)``.

    ``area`` sums, around the recorded position ``ee`` (within 6 cm), each pixel's share of
    the pusher's colour where the pixel is a mix of it and the background (``background``:
    a :class:`~wm_ros.model.discover.Background`, or None for the frame's median colour),
    read from the most contrasting pixel of the 3 x 3 around its centre.
    """
    radii = []
    for image, xy in zip(frames, ee):
        x = image.astype(np.float32) / 255.0
        s = x.shape[0]
        board = np.median(x.reshape(-1, 3), 0)
        bg = board if background is None else background.under(x, board)
        diff = np.abs(x - bg).max(-1)
        col = (1 + xy[0] / board_half) * s / 2 - 0.5
        row = (1 - xy[1] / board_half) * s / 2 - 0.5
        r, c = int(np.clip(round(row), 1, s - 2)), int(np.clip(round(col), 1, s - 2))
        window = diff[r - 1:r + 2, c - 1:c + 2]
        if window.max() <= threshold:
            continue
        dr, dc = np.unravel_index(np.argmax(window), window.shape)
        axis = x[r - 1 + dr, c - 1 + dc] - bg
        share = ((x - bg) * axis).sum(-1) / np.maximum((axis * axis).sum(-1), 1e-6)
        rows, cols = np.mgrid[:s, :s]
        near = (cols - col) ** 2 + (rows - row) ** 2 < (0.06 / (2 * board_half) * s) ** 2
        mix = np.abs(x - bg - np.clip(share, 0, 1)[..., None] * axis).max(-1) < 0.15
        area = np.clip(share, 0, 1)[near & mix & (diff > threshold / 2)].sum()
        radii.append(math.sqrt(area / math.pi) * 2 * board_half / s)
    if not radii:
        raise ValueError('the pusher was not seen in the training frames (no pixel at its '
                         'recorded pose differs from the background); check /ee_pose and '
                         'the camera agree, or set pusher_radius')
    return float(np.median(radii))
