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
Find named objects (``'red cube'``) among the objects a model read, by best match.

An encoder can read a block as another kind, read two blocks as the same kind, or miss
one. Nothing downstream may crash on that: :func:`match_names` assigns each name to at
most one present slot (Hungarian assignment) by how alike the kinds are (same colour
and shape < same colour < same shape < neither) and, when known, how close the slot is
to where the object was last seen. Names no slot fits stay unmatched and are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

COST_SAME, COST_COLOUR, COST_SHAPE, COST_OTHER = 0.0, 1.0, 1.5, 3.0
DIST_SCALE = 0.03      # metres that cost as much as a colour-only match
MAX_COST = 2.5         # above this a name is left unmatched (a kind unlike in both)


def kind_cost(a: str, b: str) -> float:
    """Return how unlike two kind names ``'<colour> <shape>'`` are (0 = same kind)."""
    if a == b:
        return COST_SAME
    (ca, _, sa), (cb, _, sb) = a.partition(' '), b.partition(' ')
    if ca == cb:
        return COST_COLOUR
    if sa == sb:
        return COST_SHAPE
    return COST_OTHER


@dataclass
class Match:
    """``slot[name]`` = slot index; ``misread[name]`` = the kind that slot was read as."""

    slot: dict[str, int] = field(default_factory=dict)
    misread: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def match_names(names: list[str], slot_kinds: list[str], present: np.ndarray,
                slot_xy: np.ndarray | None = None,
                prior_xy: dict[str, np.ndarray] | None = None) -> Match:
    """
    Assign ``names`` to present slots (``slot_kinds`` [M], ``present`` bool[M]).

    ``prior_xy`` (name -> float[2], m) with ``slot_xy`` float[M, 2] adds the distance to
    where each name was last seen, so identities stay put when kinds are misread.
    """
    out = Match()
    slots = np.flatnonzero(np.asarray(present, bool))
    if not names:
        return out
    if not len(slots):
        out.missing = list(names)
        return out
    cost = np.array([[kind_cost(n, slot_kinds[j]) for j in slots] for n in names], float)
    if prior_xy and slot_xy is not None:
        for i, n in enumerate(names):
            if n in prior_xy:
                d = np.linalg.norm(np.asarray(slot_xy)[slots] - np.asarray(prior_xy[n]), axis=1)
                cost[i] += np.where(np.isfinite(d), d / DIST_SCALE, 1e3)
    rows, cols = linear_sum_assignment(cost)
    for i, j in zip(rows, cols):
        if cost[i, j] <= MAX_COST:
            slot = int(slots[j])
            out.slot[names[i]] = slot
            if slot_kinds[slot] != names[i]:
                out.misread[names[i]] = slot_kinds[slot]
    out.missing = [n for n in names if n not in out.slot]
    return out


def unique_names(slot_kinds: list[str], taken: dict[int, str], vocabulary: tuple[str, ...]
                 ) -> list[str]:
    """
    Return one distinct name per slot.

    ``taken`` (slot -> name) first, then each slot's own kind, and for a kind already used
    the most alike unused kind of ``vocabulary``.
    """
    names: list[str | None] = [taken.get(j) for j in range(len(slot_kinds))]
    used = {n for n in names if n}
    for j, kind in enumerate(slot_kinds):
        if names[j]:
            continue
        pick = kind if kind not in used else min(
            (v for v in vocabulary if v not in used), key=lambda v: (kind_cost(kind, v), v))
        names[j] = pick
        used.add(pick)
    return names
