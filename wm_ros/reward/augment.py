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
Augmentations that keep a frame's success label: board symmetries and photometric jitter.

Every success check depends on block centres only through distances, lines and regions,
so the 8 symmetries of the square board (flips and quarter turns: :data:`DIHEDRAL`) keep
the label when a region named in the instruction moves with the board ("the top left
corner" becomes "the top right corner" under a left-right flip). The camera looks straight
down with image columns along +x and rows along -y, so the image transform and the region
transform are exact. Photometric jitter (gain, offset, pixel noise) covers lighting and the
world model's drawing.
"""

from __future__ import annotations

import numpy as np
import torch

from wm_ros.sim.tasks import REGIONS, Task

# (transpose, flip rows, flip columns), applied in that order; index 0 is the identity
DIHEDRAL = tuple((t, r, c) for t in (False, True) for r in (False, True) for c in (False, True))


def _region_xy(xy: tuple[float, float], g: tuple[bool, bool, bool]) -> tuple[float, float]:
    """Return where a board point (fractions of the half width) goes under ``g``."""
    x, y = xy
    if g[0]:                       # (row, col) -> (col, row): x' = -y, y' = -x
        x, y = -y, -x
    if g[1]:                       # rows reversed: y -> -y
        y = -y
    if g[2]:                       # columns reversed: x -> -x
        x = -x
    return x, y


def transform_task(task: Task, g: tuple[bool, bool, bool]) -> Task:
    """Return ``task`` as it reads on the board transformed by ``g`` (regions move)."""
    if not task.region or not any(g):
        return task
    target = np.array(_region_xy(REGIONS[task.region], g))
    region = min(REGIONS, key=lambda r: float(np.abs(np.array(REGIONS[r]) - target).sum()))
    return Task(task.family, task.instruction.replace(task.region, region), task.blocks,
                region)


def transform_images(images: torch.Tensor, g: tuple[bool, bool, bool]) -> torch.Tensor:
    """Return ``images`` [B,S,S,C] transformed by ``g`` (see :data:`DIHEDRAL`)."""
    if g[0]:
        images = images.transpose(1, 2)
    dims = [d for d, on in ((1, g[1]), (2, g[2])) if on]
    return images.flip(dims) if dims else images


def jitter(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Return float[B,S,S,3] (0..255) with per-image gain and offset and per-pixel noise."""
    b = len(x)
    gain = 1 + 0.08 * (2 * torch.rand(b, 1, 1, 3, generator=gen, device=x.device) - 1)
    offset = 12 * (2 * torch.rand(b, 1, 1, 1, generator=gen, device=x.device) - 1)
    noise = 3 * torch.randn(x.shape, generator=gen, device=x.device)
    return (x * gain + offset + noise).clamp(0, 255)
