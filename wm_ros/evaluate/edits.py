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
Out-of-distribution edits of an evaluation episode, applied to the scene and to the frame.

Each edit is applied twice, in matching ways: :func:`apply_scene` edits the tabletop
scene and task (the "real robot" runs the edited scene), :func:`apply_frame` edits only
the first frame ``uint8[S, S, 3]`` in pixel space from the two scenes' difference, as
image editing would (no renderer: a real robot frame has none). Kinds (``KINDS``) and
what they do to the instruction:

* ``recolour``    one block gets another colour. ``target='task'``: the instructed block,
  whose name in the instruction follows (``red cube`` -> ``blue cube``): same goal, new
  words. ``target='other'``: a block the task does not name; the instruction is unchanged.
* ``swap_shape``  one block keeps its colour and gets another shape; instruction as above.
* ``distractor``  an extra block of a kind not in the scene, at a free spot (away from
  blocks, pusher, walls and the target region). ``target='task'`` makes it confusable
  (the instructed block's colour), ``'other'`` shares no colour or shape with it.
  Instruction unchanged.
* ``rephrase``    the same task in wording the tabletop never uses (``REPHRASINGS``); the
  task keeps its own wording as ``canonical``, which success judges read.
* ``change_instruction`` another unsolved task of the same family on the same scene:
  ``target='task'`` keeps the block(s) and changes the goal (region / reference block),
  ``'other'`` names another block.

Families naming no blocks (group_by_colour, make_line) involve every block: ``'task'``
picks any block; ``'other'`` and ``change_instruction`` do not apply (:func:`applicable`).
There recolour and distractor change what the unchanged instruction asks (colour groups,
blocks to line up), in the scene and in the frame alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import re

import numpy as np

from wm_ros.sim.scene import _outline, Block, BLOCK_RADIUS, BOARD_RGB, COLOURS, CUBE_HALF, \
    PUSHER_RADIUS, Scene, SHAPES
from wm_ros.sim.tasks import REGION_RADIUS_FRAC, REGIONS, Task

KINDS = ('recolour', 'swap_shape', 'distractor', 'rephrase', 'change_instruction')
TARGETS = ('task', 'other')
# Rendered top face = MJCF rgb * (headlight ambient 0.45 + diffuse 0.35 + top light 0.35).
RENDER_GAIN = 1.15
# The tabletop camera's 4x MSAA sample positions (column, row) inside a pixel, rows counted
# from the top: with them painted edges match MuJoCo's renders (a real camera integrates
# over the pixel: pass box_samples() there).
CAMERA_SAMPLES = ((0.375, 0.875), (0.875, 0.625), (0.125, 0.375), (0.625, 0.125))
CYLINDER_SLICES = 28        # MuJoCo draws a cylinder as a 28-gon (visual/quality numslices)
REPHRASINGS: dict[str, tuple[str, ...]] = {
    'block_to_region': ('nudge the {a} over to the {region}', 'get the {a} into the {region}',
                        'the {a} belongs in the {region}, shove it there'),
    'block_to_block': ('the {a} should end up beside the {b}', 'place the {a} alongside the {b}',
                       'nudge the {a} up against the {b}'),
    'separate': ('keep the {a} well clear of the {b}',
                 'put some distance between the {a} and the {b}',
                 'the {a} and the {b} should not touch, spread them out'),
    'group_by_colour': ('cluster the blocks so each colour sits together',
                        'collect same coloured blocks into piles',
                        'bring blocks that share a colour next to each other'),
    'make_line': ('line the blocks up in a row', 'form one straight row with every block',
                  'place each block along a single line'),
}


class EditError(ValueError):
    """An unknown edit, or an edit that does not apply to this episode."""


@dataclass(frozen=True)
class Edit:
    """An edit: ``kind`` from KINDS, ``target`` 'task' | 'other', optional ``value``."""

    kind: str
    target: str = 'task'
    value: str | None = None     # colour, shape, 'colour shape', template index, region/block

    def __post_init__(self):
        if self.kind not in KINDS:
            raise EditError(f'unknown edit kind {self.kind!r}; choose one of {list(KINDS)}')
        if self.target not in TARGETS:
            raise EditError(f'edit target must be one of {list(TARGETS)}, got {self.target!r}')


EDITS: dict[str, Edit] = {
    'recolour': Edit('recolour'), 'recolour_other': Edit('recolour', 'other'),
    'swap_shape': Edit('swap_shape'), 'swap_shape_other': Edit('swap_shape', 'other'),
    'distractor': Edit('distractor', 'other'), 'distractor_similar': Edit('distractor'),
    'rephrase': Edit('rephrase'), 'change_instruction': Edit('change_instruction'),
    'change_block': Edit('change_instruction', 'other'),
}


def parse_edit(name: str) -> Edit:
    """Return the edit called ``name`` (a key of EDITS, or ``kind:target[:value]``)."""
    if name in EDITS:
        return EDITS[name]
    parts = name.split(':', 2)
    if len(parts) >= 2 and parts[0] in KINDS:
        return Edit(*parts)
    raise EditError(f'unknown edit {name!r}; choose one of {list(EDITS)} or write '
                    f'kind:target[:value] with a kind from {list(KINDS)}')


def applicable(edit: Edit, task: Task) -> bool:
    """Return whether ``edit`` applies to an episode of ``task``."""
    if edit.kind == 'change_instruction':
        return bool(task.blocks)
    return bool(task.blocks) or edit.target == 'task' or edit.kind in ('distractor', 'rephrase')


def apply_scene(scene: Scene, task: Task, edit: Edit, rng: np.random.Generator,
                board_half: float = 0.25) -> tuple[Scene, Task]:
    """Return the edited scene and task (see the module docstring for each kind)."""
    if not applicable(edit, task):
        raise EditError(f'{edit} does not apply to a {task.family} task (it names no blocks)')
    if edit.kind == 'rephrase':
        templates = REPHRASINGS[task.family]
        i = int(rng.integers(len(templates))) if edit.value is None else int(edit.value)
        text = templates[i].format(region=task.region, **dict(zip('ab', task.blocks)))
        return scene, replace(task, instruction=text, canonical=task.goal_text)
    if edit.kind == 'change_instruction':
        return scene, _change_instruction(scene, task, edit, rng, board_half)
    if edit.kind == 'distractor':
        return scene.add_block(_distractor(scene, task, edit, rng, board_half)), task
    pool = [n for n in scene.names if (n in task.blocks) == (edit.target == 'task')]
    name = (pool or scene.names)[rng.integers(len(pool or scene.names))]
    old = scene.blocks[scene.index(name)]
    field, options = ('colour', list(COLOURS)) if edit.kind == 'recolour' else ('shape', SHAPES)
    free = [v for v in options if replace(old, **{field: v}).name not in scene.names]
    value = edit.value or free[rng.integers(len(free))]
    if value not in free:
        raise EditError(f'cannot {edit.kind} the {name} to {value!r}; choose one of {free}')
    edited = scene.recolour(name, value) if field == 'colour' else scene.reshape(name, value)
    new = edited.blocks[scene.index(name)].name
    if name in task.blocks:                              # the instruction names it anew
        task = replace(task, instruction=re.sub(rf'\b{re.escape(name)}\b', new,
                                                task.instruction),
                       blocks=tuple(new if b == name else b for b in task.blocks))
    return edited, task


def _change_instruction(scene: Scene, task: Task, edit: Edit, rng: np.random.Generator,
                        board_half: float) -> Task:
    """Return another unsolved task of ``task``'s family on ``scene``, worded alike."""
    template = task.instruction
    for key, name in zip('ab', task.blocks):
        template = re.sub(rf'\b{re.escape(name)}\b', '{' + key + '}', template)
    if task.region:
        template = template.replace(task.region, '{region}')
    others = [n for n in scene.names if n not in task.blocks]
    if task.family == 'block_to_region':
        candidates = ([(task.blocks, r) for r in REGIONS if r != task.region]
                      if edit.target == 'task' else [((n,), task.region) for n in others])
    elif edit.target == 'task':
        candidates = [((task.blocks[0], n), '') for n in others]
    else:
        candidates = [((n, task.blocks[1]), '') for n in others]
    if edit.value is not None:               # a region or a block name the new task uses
        candidates = [c for c in candidates if edit.value == c[1] or edit.value in c[0]]
    xy = np.array([[b.x, b.y] for b in scene.blocks])
    tasks = [Task(task.family, template.format(region=region, **dict(zip('ab', blocks))),
                  tuple(blocks), region) for blocks, region in candidates]
    tasks = [t for t in tasks if not t.success(scene, xy, board_half)]
    if not tasks:
        raise EditError(f'no other unsolved {task.family} task on this scene for {edit}')
    return tasks[rng.integers(len(tasks))]


def _distractor(scene: Scene, task: Task, edit: Edit, rng: np.random.Generator,
                board_half: float) -> Block:
    """Return a block of a new kind at a free spot of ``scene``."""
    if edit.value:
        colour, _, shape = edit.value.partition(' ')
        if edit.value in scene.names or colour not in COLOURS or shape not in SHAPES:
            raise EditError(f'distractor {edit.value!r} must be a new "colour shape", '
                            f'not one of {scene.names}; colours {list(COLOURS)}, '
                            f'shapes {list(SHAPES)}')
    else:
        ref = [scene.blocks[scene.index(n)] for n in task.blocks] or list(scene.blocks)
        kinds = [(c, s) for c in COLOURS for s in SHAPES if f'{c} {s}' not in scene.names]
        if edit.target == 'task':      # confusable: the instructed block's colour
            near = [k for k in kinds if k[0] == ref[0].colour]
        else:                           # shares no colour or shape with the named blocks
            near = [k for k in kinds if all(k[0] != b.colour and k[1] != b.shape for b in ref)]
        colour, shape = (near or kinds)[rng.integers(len(near or kinds))]
    keep_out = [(np.array([b.x, b.y]), 0.085) for b in scene.blocks]
    keep_out.append((np.array(scene.pusher_xy), BLOCK_RADIUS + 0.04))
    if task.region:
        keep_out.append((task.region_xy(board_half), REGION_RADIUS_FRAC * board_half + 0.03))
    lim = board_half - 0.06
    for _ in range(2000):
        p = rng.uniform(-lim, lim, 2)
        if all(np.linalg.norm(p - q) >= r for q, r in keep_out):
            yaw = float(rng.uniform(-np.pi, np.pi))
            return Block(colour, shape, float(p[0]), float(p[1]), yaw)
    raise EditError(f'no free spot for a distractor on this scene ({len(scene.blocks)} blocks)')


# ----------------------------------------------------------------------------- frames
def rendered_rgb(colour: str | tuple[float, float, float]) -> np.ndarray:
    """Return the camera's ``float[3]`` (0..255) of a top face of MJCF colour ``colour``."""
    rgb = np.asarray(COLOURS[colour] if isinstance(colour, str) else colour, np.float64)
    return np.clip(np.round(255.0 * RENDER_GAIN * rgb), 0, 255)


def box_samples(n: int = 4) -> tuple[tuple[float, float], ...]:
    """Return an ``n x n`` grid of (column, row) sample offsets inside a pixel (a box filter)."""
    g = (np.arange(n) + 0.5) / n
    return tuple((float(u), float(v)) for v in g for u in g)


def coverage(block: Block, size: int, board_half: float,
             samples: tuple[tuple[float, float], ...] = CAMERA_SAMPLES,
             radius: float = BLOCK_RADIUS) -> np.ndarray:
    """
    Return ``float32[S, S]``: the fraction of each pixel's samples the block's top covers.

    Pixel (row i, column j) spans board x in ``[j, j + 1] * 2h / S - h`` and y in
    ``h - [i, i + 1] * 2h / S`` (the top camera is orthographic and sees exactly the board).
    """
    step = 2 * board_half / size
    total = np.zeros((size, size), np.float32)
    c, s = np.cos(block.yaw), np.sin(block.yaw)
    for du, dv in samples:
        dx, dy = np.meshgrid((np.arange(size) + du) * step - board_half - block.x,
                             board_half - (np.arange(size) + dv) * step - block.y)
        total += _inside(block.shape, c * dx + s * dy, c * dy - s * dx, radius)
    return total / len(samples)


def _inside(shape: str, u: np.ndarray, v: np.ndarray, radius: float) -> np.ndarray:
    """Return whether body-frame points ``(u, v)`` lie in the top face of ``shape``."""
    if shape == 'cube':
        return (np.abs(u) <= CUBE_HALF) & (np.abs(v) <= CUBE_HALF)
    if shape == 'cylinder':        # a regular polygon with a vertex on the body x axis
        k = 2 * np.pi / CYLINDER_SLICES
        return np.hypot(u, v) * np.cos(np.arctan2(v, u) % k - k / 2) <= radius * np.cos(k / 2)
    pts, tris = _outline(shape)
    inside = np.zeros(u.shape, bool)
    for a, b, d in pts[tris]:
        e = [(q[0] - p[0]) * (v - p[1]) - (q[1] - p[1]) * (u - p[0])
             for p, q in ((a, b), (b, d), (d, a))]
        inside |= (e[0] >= 0) & (e[1] >= 0) & (e[2] >= 0)
    return inside


def _dilate(mask: np.ndarray) -> np.ndarray:
    p = np.pad(mask, 1)
    h, w = mask.shape
    return np.any([p[i:i + h, j:j + w] for i in range(3) for j in range(3)], 0)


def scene_diff(scene: Scene, edited: Scene) -> tuple[int | None, Block | None, Block | None]:
    """
    Return ``(index, before, after)``: the one block ``edited`` changes or adds.

    ``(None, None, None)`` when the blocks are the same (a language edit); ``before`` is
    None for an added block. Anything else (a moved block, two changes) raises EditError.
    """
    old, new = scene.blocks, edited.blocks
    if len(new) == len(old) + 1 and new[:-1] == old:
        return len(old), None, new[-1]
    changed = [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
    if len(new) != len(old) or len(changed) > 1 or edited.pusher_xy != scene.pusher_xy or (
            changed and (old[changed[0]].x, old[changed[0]].y, old[changed[0]].yaw) !=
            (new[changed[0]].x, new[changed[0]].y, new[changed[0]].yaw)):
        raise EditError('a frame edit changes the colour or shape of one block (not its pose) '
                        'or adds one block; '
                        f'got {scene.names} -> {edited.names}')
    return (changed[0], old[changed[0]], new[changed[0]]) if changed else (None, None, None)


def _others(edited: Scene, index: int, size: int, board_half: float) -> np.ndarray:
    """Return ``float32[S, S]``: coverage of all but block ``index`` (blocks, pusher)."""
    total = np.zeros((size, size), np.float32)
    for i, b in enumerate(edited.blocks):
        if i != index:
            total += coverage(b, size, board_half)
    px, py = edited.pusher_xy
    return total + coverage(Block('red', 'cylinder', px, py), size, board_half,
                            radius=PUSHER_RADIUS)


def edit_region(scene: Scene, edited: Scene, size: int, board_half: float = 0.25) -> np.ndarray:
    """Return ``bool[S, S]``: the pixels :func:`apply_frame` may change; the rest stay."""
    index, before, after = scene_diff(scene, edited)
    covers = [coverage(b, size, board_half) > 0 for b in (before, after) if b is not None]
    region = np.zeros((size, size), bool)
    for cov in covers:
        region |= _dilate(cov)
    if covers:
        region &= np.any(covers, 0) | (_others(edited, index, size, board_half) == 0)
    return region


def apply_frame(image: np.ndarray, scene: Scene, edited: Scene,
                board_half: float = 0.25) -> np.ndarray:
    """
    Return the first frame ``uint8[S, S, 3]`` of ``scene`` edited in pixel space to ``edited``.

    Only the frame, the two scenes' block kinds and poses are used (no renderer); pixels
    outside :func:`edit_region` are returned unchanged. The old block is un-mixed
    (per-pixel alpha on the colour line from the local board colour to the block colour,
    both measured in the frame), then the new one is drawn with its footprint coverage.
    Colours scale with the measured board (recolour: with the block's own shading).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] != image.shape[1] or \
            image.dtype != np.uint8:
        raise EditError(f'apply_frame expects a square rgb8 frame uint8[S, S, 3], got '
                        f'{image.dtype}{list(image.shape)}')
    index, before, after = scene_diff(scene, edited)
    if index is None:
        return image.copy()
    size = image.shape[0]
    region = edit_region(scene, edited, size, board_half)
    px = image.astype(np.float64)
    cov_after = coverage(after, size, board_half)[..., None]
    board = _local(px, _dilate(_dilate(region)) & ~region, rendered_rgb(BOARD_RGB))
    shade = board / rendered_rgb(BOARD_RGB)
    if before is None:                               # distractor: draw over the board
        out = px + cov_after * (rendered_rgb(after.colour) * shade - px)
    else:
        cov = coverage(before, size, board_half)
        measured = _local(px, cov >= 1.0, rendered_rgb(before.colour) * shade)
        d = measured - board
        alpha = np.clip((px - board) @ d / max(d @ d, 1e-6), 0.0, 1.0)
        off_line = np.linalg.norm(px - board - alpha[..., None] * d, axis=-1) > 30.0
        alpha = np.where(off_line | (_others(edited, index, size, board_half) > 0), cov, alpha)
        if before.shape == after.shape:             # recolour, keeping the shading
            gain = measured.sum() / rendered_rgb(before.colour).sum()
            lum = np.where(cov >= 1.0, np.clip(px.sum(-1) / max(measured.sum(), 1.0), 0.5, 1.5),
                           1.0)
            out = px + (alpha * lum)[..., None] * (rendered_rgb(after.colour) * gain - measured)
        else:                                        # swap_shape: erase, then draw
            erased = px + alpha[..., None] * (board - measured)
            colour = measured if after.colour == before.colour else \
                rendered_rgb(after.colour) * shade
            out = erased + cov_after * (colour - erased)
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    return np.where(region[..., None], out, image)


def _local(px: np.ndarray, mask: np.ndarray, default: np.ndarray) -> np.ndarray:
    """Return the robust (median of the majority) colour of ``px[mask]``, or ``default``."""
    values = px[mask]
    if len(values) == 0:
        return np.asarray(default, np.float64)
    med = np.median(values, 0)
    near = values[np.linalg.norm(values - med, axis=-1) < 30.0]
    return np.median(near if len(near) else values, 0)
