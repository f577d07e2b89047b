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
Object figures of ``wm-ros eval fidelity`` where the data has no object labels.

A robot's bag holds frames, commands and the arm's pose, no ``/sim/block_poses``: the true
objects are not known. They are measured the way the free-slot family finds them, with the
weightless discovery of :mod:`wm_ros.model.discover` (background subtraction, connected
parts, the pusher's disc left out), run alike on the real frame at ``t + h``, the real
frame at ``t`` (copy-last) and the predicted frame, so no learned reader flatters or
blames the model:

* each object of the real frame at ``t + h`` is paired with one of the frame at ``t``
  and one of the prediction by an optimal assignment on centroid distance (in board
  widths) plus colour difference; a pair whose mean colours differ by more than
  ``SAME_COLOUR`` is no pair;
* the object **moved** when its pair at ``t`` is more than 1 cm away (an object with no
  pair at ``t`` appeared: it is left out, there is no copy-last figure for it);
* it **vanished** in the prediction when the area of its colour there (every find within
  ``SAME_COLOUR``) is under ``VANISH`` x the area of its colour in the real frame, as the
  label path counts a colour's pixels;
* its error is the centroid distance (% of the board width) to its pair in the
  prediction, or, where the prediction holds fewer parts of its colour (discovery split a
  part in one frame and not in the other), to the nearest one of its colour.

The keys returned are those of the label path (``wm_ros.evaluate.fidelity``), so the table,
the JSON and the checks read either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from wm_ros.model.discover import Background, discover
from wm_ros.sim.dataset import Episode
from wm_ros.sim.scene import Scene
from wm_ros.sim.tasks import Task, UNKNOWN

MAX_OBJECTS = 16        # more than any scene we know; a frame's largest parts come first
SAME_COLOUR = 0.3       # max |mean RGB difference| (0-1) for two finds to be one object


@dataclass(frozen=True)
class Found:
    """The objects discovery finds in one frame: ``pos`` [K, 2] m, ``rgb`` [K, 3], ``area`` [K]."""

    pos: np.ndarray
    rgb: np.ndarray
    area: np.ndarray


@dataclass(frozen=True)
class Finder:
    """
    Discovery settings, from the model's config where it has them (free-slot family).

    A free-slot model trained since issue 27 also lends what it learned of the robot's
    scene: its static ``background`` (borders and painted markings are not objects) and
    its largest object's area (``object_area``: touching objects of one colour are two).
    """

    board_half: float = 0.25
    pusher_radius: float = 0.018
    threshold: float = 0.12
    background: Background | None = None
    object_area: float = 0.0

    @classmethod
    def for_runtime(cls, runtime, board_half: float) -> 'Finder':
        """Return a finder with the runtime's discovery settings, where it has them."""
        cfg = getattr(runtime, 'cfg', None)
        radius = getattr(cfg, 'pusher_m', None) or getattr(cfg, 'pusher_radius', None)
        radius = radius or getattr(getattr(cfg, 'world', None), 'pusher_radius', cls.pusher_radius)
        scene = getattr(cfg, 'scene', None)
        return cls(board_half, float(radius), float(getattr(cfg, 'threshold', cls.threshold)),
                   scene() if callable(scene) else None,
                   float(getattr(cfg, 'object_area', 0.0) or 0.0))

    def __call__(self, image: np.ndarray, ee: np.ndarray) -> Found:
        """Return the objects of ``image`` uint8[S, S, 3] with the pusher at ``ee`` (m)."""
        s = image.shape[0]
        patch = s + 1 - s % 2           # odd and wide enough to hold any part whole
        d = discover(image, ee, MAX_OBJECTS, self.board_half, self.pusher_radius, patch,
                     self.threshold, background=self.background, object_area=self.object_area)
        keep = d.present > 0.5
        alpha = d.sprite[keep, 3].sum((-1, -2))
        rgb = d.sprite[keep, :3].sum((-1, -2)) / np.maximum(alpha, 1e-6)[:, None]
        return Found(d.pos[keep].astype(float), rgb, alpha)


def unlabelled(recording) -> Episode:
    """Return a label-free bag's episode (a :class:`~wm_ros.model.bag_source.Recording`)."""
    n = len(recording.actions)
    return Episode(recording.images, recording.ee_xy, recording.actions, np.zeros(n + 1, bool),
                   np.zeros((n + 1, 0, 3), np.float32), Scene(()), Task(UNKNOWN, ''),
                   'recorded', 0, recording.dt, dict(recording.extra))


def pair(a: Found, b: Found, width: float) -> np.ndarray:
    """Return, per object of ``a``, the index of its object in ``b`` (-1: none)."""
    out = np.full(len(a.pos), -1)
    if not len(a.pos) or not len(b.pos):
        return out
    dist = np.linalg.norm(a.pos[:, None] - b.pos[None], axis=-1) / width
    colour = np.abs(a.rgb[:, None] - b.rgb[None]).max(-1)
    rows, cols = linear_sum_assignment(dist + colour)
    ok = colour[rows, cols] <= SAME_COLOUR
    out[rows[ok]] = cols[ok]
    return out


def rows(real: Found, last: Found, pred: Found, width: float, moved_m: float,
         vanish: float) -> list[tuple[bool, float, float, bool]]:
    """Return ``(moved, model error %, copy-last error %, vanished)`` per real object."""
    to_last, to_pred = pair(real, last, width), pair(real, pred, width)
    alike = np.abs(real.rgb[:, None] - pred.rgb[None]).max(-1) <= SAME_COLOUR
    twins = np.abs(real.rgb[:, None] - real.rgb[None]).max(-1) <= SAME_COLOUR
    out = []
    for k, xy in enumerate(real.pos):
        if to_last[k] < 0:
            continue                    # appeared since t: no copy-last figure
        shift = float(np.linalg.norm(xy - last.pos[to_last[k]]))
        # vanished: its colour's area in the prediction is under `vanish` x in the frame
        vanished = bool(pred.area[alike[k]].sum() < vanish * real.area[twins[k]].sum())
        near = np.linalg.norm(pred.pos - xy, axis=-1) if len(pred.pos) else np.zeros(0)
        p = to_pred[k] if to_pred[k] >= 0 else int(np.argmin(np.where(alike[k], near, np.inf)))
        err = np.nan if vanished else float(near[p]) / width * 100
        out.append((shift > moved_m, err, shift / width * 100, vanished))
    return out


def object_rows(find: Finder, pred, pred_ee, pairs, episodes, h: int, moved_m: float,
                vanish: float, cache: dict) -> dict[str, list]:
    """
    Return the label path's row lists (``model``, ``copy``, ``vanished``, ``moved``).

    ``pred`` uint8[B, S, S, 3] and ``pred_ee`` [B, 2] are the predictions for the starts
    ``pairs`` (episode, t) at horizon ``h``; ``cache`` keeps the real frames' finds across
    horizons (key: episode, frame).
    """
    def real(e, k):
        if (e, k) not in cache:
            cache[e, k] = find(episodes[e].images[k], episodes[e].ee_xy[k])
        return cache[e, k]
    width = 2 * find.board_half
    out: dict[str, list] = {'model': [], 'copy': [], 'vanished': [], 'moved': []}
    for b, (e, t) in enumerate(pairs):
        for moved, err, copy, vanished in rows(real(e, t + h), real(e, t),
                                               find(pred[b], pred_ee[b]), width, moved_m,
                                               vanish):
            out['moved'].append(moved)
            out['model'].append(err)
            out['copy'].append(copy)
            out['vanished'].append(vanished)
    return out
