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
Image, object and imagined-vs-real statistics.

SSIM (PSNR is :mod:`wm_ros.image_metrics`), colour-centroid block localisation; Spearman,
Pearson, MMRV and bootstrap intervals for comparing success rates in imagination with the
robot's.

Blocks are located in a frame by colour: every pixel is classified to the nearest of the
rendered palette (six block colours, board, pusher), and a block's position is the
centroid of its colour's pixels. This needs the colour to be unique in the scene, so
blocks that share a colour (group-by-colour scenes) are left out of object metrics.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.stats import spearmanr

from wm_ros.sim.scene import BOARD_RGB, COLOURS, PUSHER_RGB

RENDER_GAIN = 1.15          # the tabletop's lights brighten material colours by about this
PALETTE_NAMES = tuple(COLOURS) + ('board', 'pusher')
PALETTE = np.clip(np.array([COLOURS[c] for c in COLOURS] + [BOARD_RGB, PUSHER_RGB])
                  * 255 * RENDER_GAIN, 0, 255).astype(np.float32)


def ssim(a: np.ndarray, b: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Return mean SSIM per image (Gaussian window, per channel) for uint8 ``[B,H,W,3]``."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z):
        return gaussian_filter(z, sigma=(0, sigma, sigma, 0))
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return s.mean(axis=(1, 2, 3))


def classify(images: np.ndarray) -> np.ndarray:
    """Return int8[B, H, W]: index into ``PALETTE_NAMES`` of each pixel's nearest colour."""
    d = ((images[..., None, :].astype(np.float32) - PALETTE) ** 2).sum(-1)
    return d.argmin(-1).astype(np.int8)


def locate(classes: np.ndarray, colour: str, board_half: float) -> tuple[np.ndarray, np.ndarray]:
    """Return centroids float[B, 2] (m, NaN when absent) and pixel counts int[B] of ``colour``."""
    mask = classes == PALETTE_NAMES.index(colour)
    count = mask.sum(axis=(1, 2))
    s = classes.shape[1]
    centres = (np.arange(s) + 0.5) / s * 2 * board_half - board_half
    with np.errstate(invalid='ignore', divide='ignore'):
        x = (mask.sum(1) * centres).sum(-1) / count
        y = (mask.sum(2) * -centres).sum(-1) / count
    return np.stack([x, y], -1), count


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Return Spearman's rho of two vectors (NaN when undefined)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float('nan')
    return float(spearmanr(a[ok], b[ok]).statistic)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Return Pearson's r of two vectors (NaN when undefined: < 2 points or constant)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 2 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float('nan')
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def mmrv(real: np.ndarray, imagined: np.ndarray) -> float:
    """
    Return the mean maximum rank violation (SIMPLER) of ``imagined`` against ``real``.

    For each i, the largest ``|real[i] - real[j]|`` over the j whose order disagrees,
    ``(real[i] > real[j]) != (imagined[i] > imagined[j])`` (0 when none); the mean over i.
    0 is perfect; a swapped pair costs how far apart its real values are.
    """
    r, m = np.asarray(real, float), np.asarray(imagined, float)
    if r.shape != m.shape or r.ndim != 1:
        raise ValueError(f'mmrv needs two vectors of one length, got {r.shape} and {m.shape}')
    if not len(r):
        return float('nan')
    disagree = (r[:, None] > r[None, :]) != (m[:, None] > m[None, :])
    return float(np.where(disagree, np.abs(r[:, None] - r[None, :]), 0.0).max(1).mean())


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Return the Wilson score interval (fractions) of ``k`` successes in ``n`` trials."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Return the percentile bootstrap interval of the mean of ``values`` (NaN if empty)."""
    v = np.asarray(values, float)
    if not len(v):
        return float('nan'), float('nan')
    means = v[np.random.default_rng(seed).integers(len(v), size=(n_boot, len(v)))].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
