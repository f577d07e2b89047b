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
``wm-ros eval novel``: how well blocks of a colour or shape never seen in training are tracked.

Protocol, on held-out episodes, through the runtime contract only (any family): from
every ``stride``-th frame, the block the recorded actions move most within ``horizon``
steps (at least 1 cm, its colour unique in the scene) is followed. The model encodes the
frame, rolls out the recorded actions and decodes; the block is located in the decoded
frame by its colour (nearest-colour classes, as ``wm-ros eval fidelity`` does) and
compared with its place in the real frame ``horizon`` steps later (% of board width).

* **seen**: the frame as recorded;
* **novel colour**: the same frame with that block redrawn, in pixels, in ``NOVEL_RGB``
  (cyan: no tabletop colour is near it): un-mixed from the board by its antialiasing and
  mixed back with the new colour, so its outline and the rest of the frame are unchanged;
  it is located in the prediction by that colour;
* per **shape** of the followed block (for a model trained without some shape, that
  shape's row is the unseen-shape figure).

A block whose colour covers under a quarter of its real area in the prediction counts as
vanished (its error is not averaged).
"""

from __future__ import annotations

import numpy as np

from wm_ros.evaluate.metrics import PALETTE, PALETTE_NAMES
from wm_ros.runtime.base import WorldModelRuntime

NOVEL_RGB = np.array([0, 205, 205], np.float32)
MOVED = 0.01
VANISH = 0.25


def _classes(images: np.ndarray, novel: bool) -> np.ndarray:
    palette = np.concatenate([PALETTE, NOVEL_RGB[None]]) if novel else PALETTE
    d = ((images[..., None, :].astype(np.float32) - palette) ** 2).sum(-1)
    return d.argmin(-1)


def _centroid(mask: np.ndarray, board_half: float) -> tuple[np.ndarray, int]:
    s = mask.shape[0]
    count = int(mask.sum())
    if not count:
        return np.full(2, np.nan), 0
    centres = (np.arange(s) + 0.5) / s * 2 * board_half - board_half
    return np.array([(mask.sum(0) * centres).sum() / count,
                     (mask.sum(1) * -centres).sum() / count]), count


def recolour(image: np.ndarray, colour: str, xy: np.ndarray, board_half: float,
             rgb: np.ndarray = NOVEL_RGB, radius: float = 0.05) -> np.ndarray:
    """Return ``image`` with the block of ``colour`` near ``xy`` (m) redrawn in ``rgb``."""
    s = image.shape[0]
    x = image.astype(np.float32)
    board = PALETTE[PALETTE_NAMES.index('board')]
    old = PALETTE[PALETTE_NAMES.index(colour)]
    rows, cols = np.mgrid[:s, :s]
    px = (xy[0] / board_half + 1) * s / 2 - 0.5
    py = (1 - xy[1] / board_half) * s / 2 - 0.5
    near = (cols - px) ** 2 + (rows - py) ** 2 < (radius / (2 * board_half) * s) ** 2
    mine = near & (_classes(image, False) == PALETTE_NAMES.index(colour))
    # the block's pixels and its antialiased edge (classed as the board), by their mix
    mix = np.abs(x - board).max(-1) / max(np.abs(old - board).max(), 1.0)
    region = near & ndimage_dilate(ndimage_dilate(mine)) & (mix > 0.04)
    alpha = np.where(region, np.clip(mix, 0.0, 1.0), 0.0)[..., None]
    out = np.where(alpha > 0, board * (1 - alpha) + rgb * alpha, x)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def ndimage_dilate(mask: np.ndarray) -> np.ndarray:
    """Return ``mask`` grown by one pixel (8-neighbourhood)."""
    from scipy import ndimage
    return ndimage.binary_dilation(mask, structure=np.ones((3, 3), bool))


def evaluate(runtime: WorldModelRuntime, episodes, horizon: int = 16, stride: int = 8,
             board_half: float = 0.25) -> dict:
    """Return errors (% of board) of followed blocks, seen / novel colour / per shape."""
    rows = []          # (shape, seen error, novel error) per followed block
    width = 2 * board_half
    for ep in episodes:
        states = ep.block_states
        for t in range(0, len(ep) - horizon + 1, stride):
            moved = np.linalg.norm(states[t + horizon, :, :2] - states[t, :, :2], axis=-1)
            j = int(np.argmax(moved))
            block = ep.scene.blocks[j]
            same = sum(b.colour == block.colour for b in ep.scene.blocks)
            if moved[j] < MOVED or same != 1:
                continue
            real = _classes(ep.images[t + horizon][None], False)[0]
            truth, area = _centroid(real == PALETTE_NAMES.index(block.colour), board_half)
            if not area:
                continue
            frames = np.stack([ep.images[t], recolour(ep.images[t], block.colour,
                                                      states[t, j, :2], board_half)])
            state = runtime.encode(frames, np.repeat(ep.ee_xy[t][None], 2, 0))
            actions = np.repeat(ep.actions[None, t:t + horizon], 2, 0)
            pred, _ = runtime.decode(runtime.step(state, actions))
            errs = []
            for image, index, novel in ((pred[0], PALETTE_NAMES.index(block.colour), False),
                                        (pred[1], len(PALETTE), True)):
                at, n = _centroid(_classes(image[None], novel)[0] == index, board_half)
                errs.append(np.linalg.norm(at - truth) / width * 100
                            if n >= VANISH * area else np.nan)
            rows.append((block.shape, *errs))
    if not rows:
        return {'blocks': 0}
    shapes = np.array([r[0] for r in rows])
    seen, novel = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])

    def summary(x):
        ok = x[np.isfinite(x)]
        return {'median_pct': float(np.median(ok)) if len(ok) else float('nan'),
                'mean_pct': float(ok.mean()) if len(ok) else float('nan'),
                'vanished': float(np.isnan(x).mean()), 'blocks': int(len(x))}
    return {'horizon': horizon, 'blocks': len(rows), 'seen': summary(seen),
            'novel_colour': summary(novel),
            'novel_colour_ratio': summary(novel)['median_pct'] / summary(seen)['median_pct'],
            'by_shape': {s: summary(seen[shapes == s]) for s in sorted(set(shapes))}}
