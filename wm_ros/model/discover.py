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
Find the objects of a frame without labels: background subtraction and connected parts.

For a flat workspace seen from above (the free-slot family, :mod:`wm_ros.model.free_slots`):

1. the **background** is the static scene learned from the recording
   (:class:`Background`: each pixel's colour in most episodes, where they agree on it;
   the pusher and the objects move or start elsewhere, so they drop out; borders,
   painted markings and the board stay). Where it is not known (a pixel that changes
   often, too few episodes, or no background learned) it is the frame's median colour;
2. **foreground** is every pixel further than ``threshold`` from it (max over RGB), less
   the pusher: the pixels of a disc around its position (known from the arm's pose) whose
   colour is a mix of the background's and the pusher's (an object it touches stays
   whole; see :func:`_pusher_disc`);
3. **objects** are the 8-connected parts of at least ``min_area`` pixels, kept whole
   whatever their shape; a part is split in two (k-means on position and colour) only
   where it is two touching objects: its solid pixels form two clusters of distinct
   colours, or its area is over ``SPLIT_OVER`` x ``object_area``, the largest object's
   area learned from the training frames (two touching objects of one colour). The rule
   of models trained before issue 27 (``rule=1``) split every part over 2.2 x 42 px, the
   tabletop block's area: it cut PushT's T in two;
4. each object is cut out as a **sprite**: a ``patch`` x ``patch`` premultiplied RGBA
   texture, one texel per pixel, anchored at the pixel nearest its centroid (so drawing it
   back at its place reproduces the frame), its alpha un-mixed from the background under
   it (the camera's antialiasing: ``alpha = |pixel - bg| / |solid colour - bg|``); the
   pusher is cut out the same way around its position. ``patch`` is learned from the
   training frames too (:func:`learn_sizes`: the disc the largest object needs).

Measured by ``tools/discovery_pusht.py`` (seeds used for nothing else; the scene learned
from other episodes of the same robot), before (rule 1) and after: on 6,026 PushT frames
the T is split in 0.0 % of frames (before 60.6 %), dropped (no object within 2 cm) in
0.0 % (44.2 %), and no frame has an object that is not the T (63.8 %: border, goal
marking); its centroid is 1.0 mm off (median; 90 %: 2.0 mm; before 18.7 / 24.5 mm). On
1,919 tabletop frames (3-5 blocks) the count of objects is right in 98.9 % (before
87.5 %), one short in 0.8 % (2.8 %), one over in 0.4 % (9.7 %); centroids 0.5 mm from the
true block's (median; 90 %: 9.9 mm, as before).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache
import zlib

import numpy as np
from scipy import ndimage
from scipy.cluster.vq import kmeans2

STATIC_SHARE = 0.6      # a pixel is static where this share of the episodes agree on it
MIN_LOOKS = 4           # fewer episodes cannot tell a still object from a marking
MAX_LOOKS = 64          # episodes a background is learned from (spread over the recording)
PER_LOOK = 30           # frames read per episode
SPLIT_OVER = 1.4        # a part over this x the largest object's area is two objects


@dataclass(frozen=True)
class Background:
    """
    The static scene of a recording: what does not change across its episodes.

    Each episode is one look at the scene: its median frame drops what moves within it
    (the pusher, a pushed object); the median over episodes drops what stands still in
    one episode but elsewhere in the others (an object nobody pushed, which each episode
    starts somewhere else). ``rgb`` float32[S, S, 3] in [0, 1] is that median; ``static``
    bool[S, S] where at least ``STATIC_SHARE`` of the episodes agree with it (within the
    discovery threshold). Elsewhere, or from fewer than ``MIN_LOOKS`` episodes (one long
    recording whose objects stay put cannot tell them from markings), the frame's median
    colour stands in.
    """

    rgb: np.ndarray
    static: np.ndarray

    @classmethod
    def learn(cls, episodes, threshold: float = 0.12) -> 'Background':
        """Learn the background of ``episodes``: a sequence of frames uint8[T, S, S, 3]."""
        if not len(episodes) or any(np.ndim(f) != 4 or np.shape(f)[-1] != 3 or not len(f)
                                    for f in episodes):
            raise ValueError('learning a background needs episodes of frames '
                             'uint8[T, S, S, 3]')
        pick = np.unique(np.linspace(0, len(episodes) - 1, min(len(episodes), MAX_LOOKS))
                         .round().astype(int))
        medians = []
        for e in pick:
            frames = np.asarray(episodes[e])
            at = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), PER_LOOK))
                           .round().astype(int))
            medians.append(np.median(frames[at], 0))
        medians = np.stack(medians).astype(np.float32)
        rgb = np.median(medians, 0)
        agree = (np.abs(medians - rgb).max(-1) <= threshold * 255.0).mean(0)
        static = (agree >= STATIC_SHARE) & (len(medians) >= MIN_LOOKS)
        return cls(np.round(rgb).astype(np.float32) / 255.0, static)

    def under(self, x: np.ndarray, board: np.ndarray) -> np.ndarray:
        """Return the background float32[S, S, 3] of frame ``x`` whose median is ``board``."""
        if self.rgb.shape != x.shape:
            raise ValueError(f'the learned background is {self.rgb.shape[1]}x'
                             f'{self.rgb.shape[0]} px, the frame {x.shape[1]}x{x.shape[0]}; '
                             'retrain the model on frames of this size')
        return np.where(self.static[..., None], self.rgb, board).astype(np.float32)

    def encode(self) -> str:
        """Return the background as text (zlib RGBA, base64): what a model file stores."""
        rgba = np.concatenate([np.round(self.rgb * 255).astype(np.uint8),
                               self.static[..., None].astype(np.uint8) * 255], -1)
        h, w = self.static.shape
        return f'{h}x{w}:' + base64.b64encode(zlib.compress(rgba.tobytes(), 9)).decode()

    @staticmethod
    @lru_cache(maxsize=8)
    def decode(text: str) -> 'Background':
        """Return the background :meth:`encode` wrote (a clear error if it is not one)."""
        try:
            size, data = text.split(':', 1)
            h, w = (int(v) for v in size.split('x'))
            rgba = np.frombuffer(zlib.decompress(base64.b64decode(data)), np.uint8)
            rgba = rgba.reshape(h, w, 4)
        except (ValueError, zlib.error) as exc:
            raise ValueError(f'stored background is not one Background.encode wrote ({exc}); '
                             'retrain the model') from None
        return Background(rgba[..., :3].astype(np.float32) / 255.0, rgba[..., 3] > 127)


@dataclass(frozen=True)
class Discovery:
    """What :func:`discover` returns for one frame (``M`` = ``max_objects``)."""

    board: np.ndarray       # float32[3] the frame's median colour in [0, 1]
    present: np.ndarray     # float32[M]
    pos: np.ndarray         # float32[M, 2] centroid (m, board frame)
    anchor: np.ndarray      # float32[M, 2] where the sprite's centre is (m)
    sprite: np.ndarray      # float32[M, 4, P, P] premultiplied RGBA, rows top to bottom
    pusher: np.ndarray      # float32[4, P, P] the pusher's sprite
    pusher_anchor: np.ndarray  # float32[2] its centre minus the pusher position (m)
    reach: np.ndarray       # int32[M] px from the anchor to its farthest pixel, rounded up
    area: np.ndarray        # int32[M] its pixels


def _pixels(xy: np.ndarray, size: int, half: float) -> np.ndarray:
    """Return (col, row) pixel coordinates of board points ``xy`` [..., 2]."""
    return np.stack([(1 + xy[..., 0] / half) * size / 2 - 0.5,
                     (1 - xy[..., 1] / half) * size / 2 - 0.5], -1)


def _metres(cr: np.ndarray, size: int, half: float) -> np.ndarray:
    """Return board points of pixel coordinates ``cr`` [..., 2] (col, row)."""
    return np.stack([((cr[..., 0] + 0.5) / (size / 2) - 1) * half,
                     (1 - (cr[..., 1] + 0.5) / (size / 2)) * half], -1)


def _cut(rgb: np.ndarray, alpha: np.ndarray, col: int, row: int, patch: int) -> np.ndarray:
    """Return the premultiplied RGBA ``patch`` square centred on pixel (col, row)."""
    s = rgb.shape[0]
    out = np.zeros((4, patch, patch), np.float32)
    lo = patch // 2
    r0, c0 = row - lo, col - lo
    rs, cs = slice(max(r0, 0), min(r0 + patch, s)), slice(max(c0, 0), min(c0 + patch, s))
    rd = slice(rs.start - r0, rs.stop - r0)
    cd = slice(cs.start - c0, cs.stop - c0)
    a = alpha[rs, cs]
    out[:3, rd, cd] = (rgb[rs, cs] * a[..., None]).transpose(2, 0, 1)
    out[3, rd, cd] = a
    return out


def _pusher_disc(x, bg, diff, fg, pc, reach, rule: int) -> np.ndarray:
    """
    Return bool[S, S]: the pusher's pixels (in the disc of radius ``reach`` px around ``pc``).

    In the disc, a pixel is the pusher's when its colour is a mix of the pusher's and the
    background's; anything else is an object it touches. Rule 1 reads the pusher's colour
    at its centre pixel and mixes it with the frame's median colour. Rule 2 reads it at
    the most contrasting of the 3 x 3 pixels around the centre (a small pusher's centre
    can be a mix itself), mixes it with the background under each pixel (a pusher over a
    marking), and also gives the pusher any foreground part that lies wholly in its disc
    (pixels where it mixes with an object and the marking under both: too small to be an
    object, which would reach out of the disc).
    """
    s = x.shape[0]
    rows, cols = np.mgrid[:s, :s]
    disc = (cols - pc[0]) ** 2 + (rows - pc[1]) ** 2 < reach ** 2
    r, c = int(np.clip(np.round(pc[1]), 0, s - 1)), int(np.clip(np.round(pc[0]), 0, s - 1))
    if rule == 1:
        axis = x[r, c] - bg
        t = np.clip(((x - bg) @ axis) / max(float(axis @ axis), 1e-6), 0.0, 1.0)
        return disc & (np.abs(x - bg - t[..., None] * axis).max(-1) < 0.15)
    r0, c0 = max(r - 1, 0), max(c - 1, 0)
    window = diff[r0:r + 2, c0:c + 2]
    dr, dc = np.unravel_index(np.argmax(window), window.shape)
    axis = x[r0 + dr, c0 + dc] - bg                        # per pixel where bg is
    t = np.clip(((x - bg) * axis).sum(-1) / np.maximum((axis * axis).sum(-1), 1e-6), 0.0, 1.0)
    near = disc & (np.abs(x - bg - t[..., None] * axis).max(-1) < 0.15)
    labels, _ = ndimage.label(fg & ~near, structure=np.ones((3, 3)))
    inside = (labels > 0) & ~np.isin(labels, labels[~disc])
    return near | inside


def discover(image: np.ndarray, ee: np.ndarray, max_objects: int, board_half: float,
             pusher_radius: float, patch: int, threshold: float = 0.12, min_area: int = 4,
             typical_area: float = 42.0, split_area: float = 2.2, split_colour: float = 0.6,
             background: Background | None = None, rule: int = 2,
             object_area: float = 0.0) -> Discovery:
    """
    Return the objects of ``image`` uint8[S, S, 3] with the pusher at ``ee`` (m).

    ``background``: the static scene learned from the recording (None: the frame's median
    colour everywhere); ``object_area``: the largest object's area learned from it (px;
    0: no part is split by its area). ``rule`` 2 is the module docstring's; rule 1, that
    of models trained before issue 27, splits a part over ``split_area`` x
    ``typical_area`` pixels, tells two colours by the spread of a part's solid pixels and
    reads the pusher's colour at its centre pixel.
    """
    if rule not in (1, 2) or (rule == 1 and background is not None):
        raise ValueError(f'discovery rule must be 2, or 1 without a background; got {rule}')
    s = image.shape[0]
    x = image.astype(np.float32) / 255.0
    board = np.median(x.reshape(-1, 3), 0)
    bg = board if background is None else background.under(x, board)
    diff = np.abs(x - bg).max(-1)
    pc = _pixels(np.asarray(ee, np.float64), s, board_half)
    fg = diff > threshold
    near = _pusher_disc(x, bg, diff, fg, pc, pusher_radius / (2 * board_half) * s + 1.2, rule)
    limit = split_area * typical_area if rule == 1 else SPLIT_OVER * object_area
    parts = _parts(fg, near, x, diff, min_area, limit, split_colour, rule)
    parts.sort(key=lambda p: -len(p[0]))
    m = max_objects
    present, reach, area = np.zeros(m, np.float32), np.zeros(m, np.int32), np.zeros(m, np.int32)
    pos, anchor = np.zeros((m, 2), np.float32), np.zeros((m, 2), np.float32)
    sprite = np.zeros((m, 4, patch, patch), np.float32)
    for k, (ys, xs) in enumerate(parts[:m]):
        centroid, (col, row), sprite[k] = _object(x, bg, diff, ys, xs, patch,
                                                  background is None)
        present[k], area[k] = 1.0, len(ys)
        pos[k] = _metres(centroid, s, board_half)
        anchor[k] = _metres(np.array([col, row], float), s, board_half)
        reach[k] = int(np.ceil(np.sqrt(((xs - col) ** 2 + (ys - row) ** 2).max())))
    pusher, pusher_anchor = _pusher_sprite(x, diff, near, board, pc, patch, board_half, ee)
    return Discovery(board.astype(np.float32), present, pos, anchor, sprite, pusher,
                     pusher_anchor.astype(np.float32), reach, area)


def _object(x, bg, diff, ys, xs, patch: int, uniform: bool):
    """Return an object's centroid (col, row), its anchor pixel and its sprite."""
    w = diff[ys, xs]
    solid = x[ys, xs][np.argmax(w)]
    # alpha un-mixed from the background under each pixel; the frame-median rule weighs
    # the centroid by contrast (the same where the background is uniform)
    a = np.clip(w / np.maximum(np.abs(solid - bg[ys, xs] if bg.ndim == 3 else solid - bg)
                               .max(-1), 1e-3), 0.0, 1.0)
    weight = w if uniform else a
    centroid = np.array([(weight * xs).sum() / weight.sum(), (weight * ys).sum() / weight.sum()])
    col, row = np.round(centroid).astype(int)
    s = x.shape[0]
    alpha = np.zeros((s, s), np.float32)
    alpha[ys, xs] = a
    rgb = np.where(alpha[..., None] > 0, bg + (x - bg) / np.maximum(alpha[..., None], 1e-3), 0.0)
    return centroid, (col, row), _cut(np.clip(rgb, 0, 1), alpha, col, row, patch)


def _pusher_sprite(x, diff, near, board, pc, patch, board_half, ee):
    """Return the pusher's sprite (every pixel of ``near``) and its anchor minus ``ee``."""
    col, row = np.round(pc).astype(int)
    alpha = np.where(near, np.clip(diff / max(diff[near].max(initial=0.0), 1e-3), 0, 1), 0.0)
    solid = x[near][np.argmax(diff[near])] if near.any() else board
    rgb = np.where(alpha[..., None] > 0, solid, 0.0)
    pusher = _cut(rgb.astype(np.float32), alpha.astype(np.float32), col, row, patch)
    return pusher, _metres(np.array([col, row], float), x.shape[0], board_half) - ee


def _parts(fg, near, x, diff, min_area, max_area, split_colour, rule) -> list:
    """Return ``(rows, cols)`` of each object's pixels (see the module docstring)."""
    labels, n = ndimage.label(fg & ~near, structure=np.ones((3, 3)))
    out = []
    for k in range(1, n + 1):
        ys, xs = np.nonzero(labels == k)
        if len(ys) < min_area:
            continue
        solid = diff[ys, xs] > 0.3
        if rule == 1:
            two = len(ys) > max_area or (
                solid.sum() > 6 and np.linalg.norm(x[ys, xs][solid].max(0)
                                                   - x[ys, xs][solid].min(0)) > split_colour)
        else:
            two = (0 < max_area < len(ys)) or _two_colours(x[ys, xs][solid], split_colour)
        if not two:
            out.append((ys, xs))
            continue
        feats = np.concatenate([np.stack([xs, ys], 1) / 4.0, x[ys, xs] * 4], 1)
        _, group = kmeans2(feats.astype(np.float64), 2, minit='++', seed=0)
        out += [(ys[group == g], xs[group == g]) for g in (0, 1) if (group == g).sum() >= 2]
    return out


def _two_colours(colours: np.ndarray, apart: float) -> bool:
    """
    Return whether solid pixels ``colours`` [N, 3] hold two distinct colours (two objects).

    Two k-means clusters of colour, each of at least 6 pixels and 15 % of the part, whose
    centres are more than ``apart`` apart: the few pixels a part's edge mixes with the
    pusher or a marking do not make it two.
    """
    if len(colours) < 12 or np.linalg.norm(colours.max(0) - colours.min(0)) <= apart:
        return False                      # no two centres can be further apart than that
    centres, group = kmeans2(colours.astype(np.float64), 2, minit='++', seed=0)
    n = np.bincount(group, minlength=2)
    return bool(n.min() >= max(6, 0.15 * len(colours))
                and np.linalg.norm(centres[0] - centres[1]) > apart)


def learn_sizes(reach: np.ndarray, area: np.ndarray, image_size: int) -> tuple[int, float]:
    """
    Return the sprite side (odd, px) and the object area (px) of the training frames.

    ``reach`` and ``area``: :attr:`Discovery.reach` and :attr:`Discovery.area` of every
    object found in them. Both are the largest seen in at least 2 % of the objects (a
    rarer extent is two objects that touched): the sprite holds the disc around its
    anchor that the largest object needs (so it stays whole when turned), at most the
    frame; a part over ``SPLIT_OVER`` x that area is two touching objects of one colour.
    """
    reach, area = np.asarray(reach), np.asarray(area)
    if not len(reach):
        raise ValueError('no object found in the training frames to size the sprites by; '
                         'check the recording shows objects, or set patch')
    half = int(np.ceil(np.quantile(reach, 0.98)))
    return min(2 * half + 1, image_size + 1 - image_size % 2), float(np.quantile(area, 0.98))
