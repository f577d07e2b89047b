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
Language tasks on the tabletop: families, phrasings, sampling and success checks.

Every success check reads only the physics state (block centres in the board frame), so
it is the ground truth the learned reward models are later measured against.

Families (``FAMILIES``):

* ``block_to_region``  "push the red cube to the top left corner"
* ``block_to_block``   "put the blue moon next to the green star"
* ``separate``         "separate the red cube and the blue moon"
* ``group_by_colour``  "group the blocks by colour"            (long horizon)
* ``make_line``        "arrange the blocks in a line"          (long horizon)

PushT (:mod:`wm_ros.sim.pusht`, the second reference robot) has one task, family
``pusht`` (:data:`PUSHT_TASK`), outside ``FAMILIES``: it is judged by the T's coverage of
its goal, which the PushT environment computes, not from block centres here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import itertools

import numpy as np

from wm_ros.sim.scene import Block, BLOCK_RADIUS, COLOURS, Scene, SHAPES

FAMILIES = ('block_to_region', 'block_to_block', 'separate', 'group_by_colour', 'make_line')
LONG_HORIZON = ('group_by_colour', 'make_line')
UNKNOWN = 'unknown'   # family of episodes imported from a robot bag without a task spec
PUSHT = 'pusht'       # PushT's one task (wm_ros.sim.pusht): the T onto its goal

# Region name -> centre as a fraction of the board half-width.
REGIONS: dict[str, tuple[float, float]] = {
    'top left corner': (-0.68, 0.68),
    'top right corner': (0.68, 0.68),
    'bottom left corner': (-0.68, -0.68),
    'bottom right corner': (0.68, -0.68),
    'center': (0.0, 0.0),
    'left side': (-0.68, 0.0),
    'right side': (0.68, 0.0),
    'top edge': (0.0, 0.68),
    'bottom edge': (0.0, -0.68),
}
PHRASINGS: dict[str, tuple[str, ...]] = {
    'block_to_region': ('push the {a} to the {region}', 'move the {a} to the {region}',
                        'slide the {a} into the {region}', 'put the {a} in the {region}'),
    'block_to_block': ('put the {a} next to the {b}', 'push the {a} next to the {b}',
                       'move the {a} close to the {b}', 'bring the {a} to the {b}'),
    'separate': ('separate the {a} and the {b}', 'push the {a} away from the {b}',
                 'move the {a} and the {b} apart', 'pull the {a} and the {b} apart'),
    'group_by_colour': ('group the blocks by colour', 'put blocks of the same colour together',
                        'sort the blocks into groups by colour', 'gather each colour together'),
    'make_line': ('arrange the blocks in a line', 'make a line', 'line up the blocks',
                  'put all the blocks in a straight line'),
}

# Success thresholds (metres, board of half-width 0.25 m).
REGION_RADIUS_FRAC = 0.3      # block centre within 0.3 * half of the region centre
NEXT_TO = 0.085               # centre distance for "next to"
APART = 0.2                   # centre distance for "separate"
GROUP_SPREAD = 0.11           # max distance between same-colour blocks
GROUP_GAP = 0.15              # min distance between different-colour centroids
LINE_RESIDUAL = 0.025         # max perpendicular distance from the best-fit line


class TaskError(ValueError):
    """An unknown task family or a task that does not fit its scene."""


def check_family(family: str) -> str:
    """Return ``family`` or raise a :class:`TaskError` listing the known families."""
    if family not in FAMILIES:
        raise TaskError(f'unknown task {family!r}; choose one of {list(FAMILIES)}')
    return family


@dataclass(frozen=True)
class Task:
    """
    A task: family, the blocks it names, an optional region, and its instruction.

    ``canonical`` is the tabletop's own wording when ``instruction`` rephrases it (the
    ``rephrase`` edit): the policy reads the instruction, success judges read
    :attr:`goal_text`, since a rephrasing changes the words and not the task.
    """

    family: str
    instruction: str
    blocks: tuple[str, ...] = ()
    region: str = ''
    canonical: str = ''

    def __post_init__(self):
        if self.family not in (UNKNOWN, PUSHT):
            check_family(self.family)
        if self.region and self.region not in REGIONS:
            raise TaskError(f'unknown region {self.region!r}; choose one of {list(REGIONS)}')

    @property
    def goal_text(self) -> str:
        """Return the wording a success judge reads: the canonical one under a rephrasing."""
        return self.canonical or self.instruction

    @property
    def long_horizon(self) -> bool:
        """Return True for the multi-step families (group, line)."""
        return self.family in LONG_HORIZON

    def region_xy(self, board_half: float) -> np.ndarray:
        """Return the region centre ``float[2]`` in metres."""
        return np.asarray(REGIONS[self.region], np.float64) * board_half

    def success(self, scene: Scene, xy: np.ndarray, board_half: float) -> bool:
        """Return True when block centres ``xy: float[N, 2]`` (scene order) satisfy the task."""
        if self.family == UNKNOWN:
            raise TaskError(f'cannot judge success of a task of unknown family '
                            f'({self.instruction!r}); use a reward model instead')
        if self.family == PUSHT:
            raise TaskError("PushT's success is the T's coverage of its goal, which needs "
                            'its yaw: ask PushTEnv.success() (wm_ros.sim.pusht)')
        xy = np.asarray(xy, np.float64)
        idx = [scene.index(n) for n in self.blocks]
        if self.family == 'block_to_region':
            radius = REGION_RADIUS_FRAC * board_half
            return bool(np.linalg.norm(xy[idx[0]] - self.region_xy(board_half)) <= radius)
        if self.family == 'block_to_block':
            return bool(np.linalg.norm(xy[idx[0]] - xy[idx[1]]) <= NEXT_TO)
        if self.family == 'separate':
            return bool(np.linalg.norm(xy[idx[0]] - xy[idx[1]]) >= APART)
        if self.family == 'group_by_colour':
            return grouped_by_colour(scene, xy)
        return in_a_line(xy)

    def margin(self, names: list[str], xy: np.ndarray, board_half: float) -> float:
        """
        Return how far (m) the named blocks are inside (+) or outside (-) the success check.

        ``names`` and ``xy: float[N, 2]`` are the blocks in the same order. NaN where the
        check is not one distance (group_by_colour, make_line) or a named block is missing.
        """
        if self.family not in ('block_to_region', 'block_to_block', 'separate') or \
                any(n not in names for n in self.blocks):
            return float('nan')
        xy = np.asarray(xy, np.float64)
        a = xy[names.index(self.blocks[0])]
        if self.family == 'block_to_region':
            return float(REGION_RADIUS_FRAC * board_half -
                         np.linalg.norm(a - self.region_xy(board_half)))
        d = float(np.linalg.norm(a - xy[names.index(self.blocks[1])]))
        return NEXT_TO - d if self.family == 'block_to_block' else d - APART

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> 'Task':
        """Inverse of :meth:`to_dict`."""
        return cls(data['family'], data['instruction'], tuple(data['blocks']), data['region'],
                   data.get('canonical', ''))


PUSHT_TASK = Task(PUSHT, 'push the T onto the green T')


def grouped_by_colour(scene: Scene, xy: np.ndarray) -> bool:
    """Return True when same-colour blocks are together and colour groups are apart."""
    groups: dict[str, list[int]] = {}
    for i, b in enumerate(scene.blocks):
        groups.setdefault(b.colour, []).append(i)
    centroids = []
    for members in groups.values():
        pts = xy[members]
        if len(members) > 1 and max(np.linalg.norm(p - q) for p, q in
                                    itertools.combinations(pts, 2)) > GROUP_SPREAD:
            return False
        centroids.append(pts.mean(0))
    return all(np.linalg.norm(p - q) >= GROUP_GAP for p, q in itertools.combinations(centroids, 2))


def in_a_line(xy: np.ndarray) -> bool:
    """Return True when every centre is within ``LINE_RESIDUAL`` of the best-fit line."""
    if len(xy) < 3:
        return True                     # one or two points are always on a line
    centred = xy - xy.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    residual = np.abs(centred @ vt[1])
    return bool(residual.max() <= LINE_RESIDUAL)


def _place(rng: np.random.Generator, n: int, board_half: float, taken: list[np.ndarray],
           min_gap: float = 0.085, margin: float = 0.06) -> list[np.ndarray]:
    """Sample ``n`` block centres at least ``min_gap`` apart and ``margin`` from the walls."""
    out = []
    lim = board_half - margin
    for _ in range(n):
        for _ in range(1000):
            p = rng.uniform(-lim, lim, 2)
            if all(np.linalg.norm(p - q) >= min_gap for q in taken + out):
                out.append(p)
                break
        else:
            raise TaskError(f'could not place {n} blocks on a {2 * board_half} m board')
    return out


def _kinds(rng: np.random.Generator, n: int, colours: list[str] | None = None
           ) -> list[tuple[str, str]]:
    """Sample ``n`` distinct (colour, shape) pairs, using ``colours`` in order when given."""
    pairs = [(c, s) for c in COLOURS for s in SHAPES]
    if colours is None:
        return [pairs[i] for i in rng.choice(len(pairs), n, replace=False)]
    out = []
    for c in colours:
        shapes = [s for s in SHAPES if (c, s) not in out]
        out.append((c, shapes[rng.integers(len(shapes))]))
    return out


def sample_episode(family: str, rng: np.random.Generator, board_half: float = 0.25,
                   n_blocks: int = 4) -> tuple[Scene, Task]:
    """Sample a scene and a task of ``family`` that is not already solved."""
    check_family(family)
    if not 4 <= n_blocks <= 8:
        raise TaskError(f'n_blocks must be between 4 and 8, got {n_blocks}')
    for _ in range(100):
        scene, task = _sample_once(family, rng, board_half, n_blocks)
        xy = np.array([[b.x, b.y] for b in scene.blocks])
        if not task.success(scene, xy, board_half):
            return scene, task
    raise TaskError(f'could not sample an unsolved {family} episode')


def _sample_once(family: str, rng: np.random.Generator, board_half: float,
                 n_blocks: int) -> tuple[Scene, Task]:
    if family == 'group_by_colour':
        n_colours = 2 if n_blocks < 6 else 3
        palette = list(rng.choice(list(COLOURS), n_colours, replace=False))
        colours = [palette[i % n_colours] for i in range(n_blocks)]
        kinds = _kinds(rng, n_blocks, colours)
    else:
        kinds = _kinds(rng, n_blocks)
    if family == 'separate':        # the two named blocks start close together
        first = _place(rng, 1, board_half, [], margin=0.1)
        ang = rng.uniform(0, 2 * np.pi)
        second = first[0] + rng.uniform(0.065, 0.09) * np.array([np.cos(ang), np.sin(ang)])
        pts = first + [second] + _place(rng, n_blocks - 2, board_half, first + [second])
    else:
        pts = _place(rng, n_blocks, board_half, [])
    yaws = rng.uniform(-np.pi, np.pi, n_blocks)
    blocks = tuple(Block(c, s, float(p[0]), float(p[1]), float(a))
                   for (c, s), p, a in zip(kinds, pts, yaws))
    pusher = _place(rng, 1, board_half, list(pts), min_gap=BLOCK_RADIUS + 0.04, margin=0.03)[0]
    scene = Scene(blocks, (float(pusher[0]), float(pusher[1])))
    template = PHRASINGS[family][rng.integers(len(PHRASINGS[family]))]
    names = scene.names
    if family == 'block_to_region':
        region = list(REGIONS)[rng.integers(len(REGIONS))]
        a = names[0]
        return scene, Task(family, template.format(a=a, region=region), (a,), region)
    if family in ('block_to_block', 'separate'):
        a, b = names[0], names[1]
        return scene, Task(family, template.format(a=a, b=b), (a, b))
    return scene, Task(family, template)
