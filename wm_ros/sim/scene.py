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
Typed description of a tabletop scene and its MuJoCo (MJCF) model.

A scene is data: blocks with a colour, a shape and a planar pose, plus the pusher start.
Edits used by out-of-distribution tests (recolour a block, swap its shape, add a
distractor) are pure functions on that data, and :func:`build_mjcf` turns any scene into
the matching physical model, so an edited initial frame always has a real counterpart.

Geometry (metres, board frame): the board is the square ``[-half, half]^2`` centred at the
origin, +x to the right of the camera image and +y to the top of it. Blocks are about
6 cm across and 3 cm tall; the pusher is a 3.6 cm cylinder that moves only in x and y.
Non-convex shapes (moon, star) are drawn exactly but collide through their convex hull,
which is MuJoCo's rule for meshes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math

import numpy as np

COLOURS: dict[str, tuple[float, float, float]] = {
    'red': (0.86, 0.12, 0.12),
    'green': (0.10, 0.65, 0.20),
    'blue': (0.12, 0.30, 0.92),
    'yellow': (0.95, 0.82, 0.05),
    'purple': (0.58, 0.18, 0.78),
    'orange': (1.00, 0.50, 0.05),
}
SHAPES = ('cube', 'cylinder', 'triangle', 'moon', 'star')
BOARD_RGB = (0.80, 0.80, 0.78)
PUSHER_RGB = (0.15, 0.15, 0.15)
BLOCK_RADIUS = 0.03        # footprint radius of every block shape (m)
CUBE_HALF = 0.85 * BLOCK_RADIUS   # a cube's half side (its corners are inside the radius)
BLOCK_HALF_HEIGHT = 0.015
PUSHER_RADIUS = 0.018
PUSHER_HALF_HEIGHT = 0.02


class SceneError(ValueError):
    """A scene description that cannot be built (unknown colour or shape, duplicates...)."""


@dataclass(frozen=True)
class Block:
    """One block: ``colour`` from :data:`COLOURS`, ``shape`` from :data:`SHAPES`, pose (m, rad)."""

    colour: str
    shape: str
    x: float
    y: float
    yaw: float = 0.0

    @property
    def name(self) -> str:
        """Return the name used in instructions, e.g. ``'red cube'``."""
        return f'{self.colour} {self.shape}'


@dataclass(frozen=True)
class Scene:
    """A full scene: the blocks (unique colour+shape pairs) and where the pusher starts."""

    blocks: tuple[Block, ...]
    pusher_xy: tuple[float, float] = (0.0, -0.18)

    def __post_init__(self):
        names = [b.name for b in self.blocks]
        if len(set(names)) != len(names):
            raise SceneError(f'block names must be unique, got {names}')
        for b in self.blocks:
            if b.colour not in COLOURS:
                raise SceneError(f'unknown colour {b.colour!r}; choose from {sorted(COLOURS)}')
            if b.shape not in SHAPES:
                raise SceneError(f'unknown shape {b.shape!r}; choose from {list(SHAPES)}')

    @property
    def names(self) -> list[str]:
        """Return the block names in model order."""
        return [b.name for b in self.blocks]

    def index(self, name: str) -> int:
        """Return the index of the block called ``name`` or raise a clear error."""
        try:
            return self.names.index(name)
        except ValueError:
            raise SceneError(f'no block {name!r} in this scene; it has {self.names}') from None

    def recolour(self, name: str, colour: str) -> 'Scene':
        """Return a copy where block ``name`` has ``colour``."""
        return self._edit(name, colour=colour)

    def reshape(self, name: str, shape: str) -> 'Scene':
        """Return a copy where block ``name`` has ``shape``."""
        return self._edit(name, shape=shape)

    def add_block(self, block: Block) -> 'Scene':
        """Return a copy with a distractor ``block`` added."""
        return replace(self, blocks=self.blocks + (block,))

    def with_poses(self, xy: np.ndarray, yaw: np.ndarray | None = None) -> 'Scene':
        """Return a copy with block positions ``xy: float[N, 2]`` (and yaws ``float[N]``)."""
        yaw = [b.yaw for b in self.blocks] if yaw is None else yaw
        return replace(self, blocks=tuple(
            replace(b, x=float(p[0]), y=float(p[1]), yaw=float(a))
            for b, p, a in zip(self.blocks, xy, yaw)))

    def jittered(self, rng: np.random.Generator, sigma: float) -> 'Scene':
        """Return a copy with every block moved by N(0, ``sigma``) m in x and y."""
        return replace(self, blocks=tuple(replace(b, x=b.x + float(rng.normal(0, sigma)),
                                                  y=b.y + float(rng.normal(0, sigma)))
                                          for b in self.blocks))

    def _edit(self, name: str, **changes) -> 'Scene':
        i = self.index(name)
        blocks = list(self.blocks)
        blocks[i] = replace(blocks[i], **changes)
        return replace(self, blocks=tuple(blocks))

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return {'blocks': [vars(b).copy() for b in self.blocks],
                'pusher_xy': list(self.pusher_xy)}

    @classmethod
    def from_dict(cls, data: dict) -> 'Scene':
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(Block(**b) for b in data['blocks']), tuple(data['pusher_xy']))


def _outline(shape: str) -> tuple[np.ndarray, np.ndarray]:
    """Return a 2-D outline ``float[K, 2]`` and top-cap triangles ``int[M, 3]`` (CCW)."""
    r = BLOCK_RADIUS
    if shape == 'triangle':
        ang = np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        pts = 1.15 * r * np.stack([np.cos(ang), np.sin(ang)], 1)
        return pts, np.array([[0, 1, 2]])
    if shape == 'star':
        ang = np.pi / 2 + np.arange(10) * np.pi / 5
        rad = np.where(np.arange(10) % 2 == 0, 1.2 * r, 0.55 * r)
        ring = rad[:, None] * np.stack([np.cos(ang), np.sin(ang)], 1)
        pts = np.concatenate([[[0.0, 0.0]], ring])
        tris = np.array([[0, 1 + i, 1 + (i + 1) % 10] for i in range(10)])
        return pts, tris
    if shape == 'moon':
        n = 9
        theta = np.linspace(np.deg2rad(50), np.deg2rad(310), n)
        width = 0.95 * r * np.sin(np.linspace(0, np.pi, n)) + 1e-3
        centre = 0.8 * r
        d = np.stack([np.cos(theta), np.sin(theta)], 1)
        outer = (centre + width[:, None] / 2) * d
        inner = (centre - width[:, None] / 2) * d
        pts = np.concatenate([outer, inner])
        pts -= pts.mean(0)
        tris = []
        for i in range(n - 1):
            tris += [[i, i + 1, n + i], [i + 1, n + i + 1, n + i]]     # CCW seen from +z
        return pts, np.array(tris)
    raise SceneError(f'shape {shape!r} has no mesh outline')


def _prism_mesh(shape: str) -> str:
    """Return an MJCF ``<mesh>`` element extruding the shape's outline to a prism."""
    pts, tris = _outline(shape)
    k = len(pts)
    h = BLOCK_HALF_HEIGHT
    verts = np.concatenate([np.c_[pts, np.full(k, h)], np.c_[pts, np.full(k, -h)]])
    faces = [list(t) for t in tris] + [[k + t[0], k + t[2], k + t[1]] for t in tris]
    edges = {}
    for t in tris:                       # boundary edges appear once among cap triangles
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            key = (min(a, b), max(a, b))
            edges[key] = None if key in edges else (a, b)
    for e in edges.values():
        if e is not None:
            a, b = e
            faces += [[a, k + a, k + b], [a, k + b, b]]
    vtext = ' '.join(f'{v:.5f}' for v in verts.ravel())
    ftext = ' '.join(str(int(i)) for f in faces for i in f)
    return f'<mesh name="{shape}" vertex="{vtext}" face="{ftext}" inertia="convex"/>'


def _block_geom(block: Block, i: int) -> str:
    rgba = ' '.join(f'{c:.3f}' for c in COLOURS[block.colour]) + ' 1'
    common = f'name="block{i}" rgba="{rgba}" material="matte" friction="0.5 0.005 0.0001"'
    if block.shape == 'cube':
        s = CUBE_HALF
        return f'<geom type="box" size="{s} {s} {BLOCK_HALF_HEIGHT}" {common}/>'
    if block.shape == 'cylinder':
        return f'<geom type="cylinder" size="{BLOCK_RADIUS} {BLOCK_HALF_HEIGHT}" {common}/>'
    return f'<geom type="mesh" mesh="{block.shape}" {common}/>'


def build_mjcf(scene: Scene, board_half: float, image_size: int, shadows: bool,
               physics_dt: float, max_speed: float) -> str:
    """Return the MJCF XML of ``scene`` (board, walls, pusher, blocks, top camera)."""
    wall = board_half + 0.01
    reach = board_half - PUSHER_RADIUS - 0.002
    blocks = []
    for i, b in enumerate(scene.blocks):
        qw, qz = math.cos(b.yaw / 2), math.sin(b.yaw / 2)
        blocks.append(
            f'<body name="block{i}" pos="{b.x} {b.y} {BLOCK_HALF_HEIGHT + 1e-4}" '
            f'quat="{qw} 0 0 {qz}"><freejoint/>'
            f'<inertial pos="0 0 0" mass="0.1" diaginertia="3e-5 3e-5 5e-5"/>'
            f'{_block_geom(b, i)}</body>')
    meshes = ''.join(_prism_mesh(s) for s in sorted({b.shape for b in scene.blocks})
                     if s not in ('cube', 'cylinder'))
    board = ' '.join(str(c) for c in BOARD_RGB)
    pusher = ' '.join(str(c) for c in PUSHER_RGB)
    buf = max(512, image_size)
    return f"""
<mujoco model="wm_ros_tabletop">
  <option timestep="{physics_dt}" integrator="implicitfast" cone="elliptic"/>
  <visual>
    <global offwidth="{buf}" offheight="{buf}"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.35 0.35 0.35" specular="0 0 0"/>
    <quality shadowsize="{2048 if shadows else 0}"/>
  </visual>
  <asset>
    <material name="matte" specular="0" shininess="0" reflectance="0"/>
    {meshes}
  </asset>
  <worldbody>
    <light directional="true" pos="0 0 2" dir="0 0 -1" diffuse="0.35 0.35 0.35"
           specular="0 0 0" castshadow="{'true' if shadows else 'false'}"/>
    <camera name="top" pos="0 0 1.0" xyaxes="1 0 0 0 1 0" projection="orthographic"
            fovy="{2 * board_half}"/>
    <geom name="board" type="plane" size="{wall + 0.05} {wall + 0.05} 0.01" rgba="{board} 1"
          material="matte" friction="0.5 0.005 0.0001"/>
    <geom type="box" pos="{wall} 0 0.03" size="0.01 {wall + 0.01} 0.03" rgba="0.3 0.3 0.3 1"/>
    <geom type="box" pos="{-wall} 0 0.03" size="0.01 {wall + 0.01} 0.03" rgba="0.3 0.3 0.3 1"/>
    <geom type="box" pos="0 {wall} 0.03" size="{wall + 0.01} 0.01 0.03" rgba="0.3 0.3 0.3 1"/>
    <geom type="box" pos="0 {-wall} 0.03" size="{wall + 0.01} 0.01 0.03" rgba="0.3 0.3 0.3 1"/>
    <body name="pusher" pos="0 0 {PUSHER_HALF_HEIGHT + 0.004}">
      <joint name="pusher_x" type="slide" axis="1 0 0" limited="true" range="{-reach} {reach}"/>
      <joint name="pusher_y" type="slide" axis="0 1 0" limited="true" range="{-reach} {reach}"/>
      <geom name="pusher" type="cylinder" size="{PUSHER_RADIUS} {PUSHER_HALF_HEIGHT}" mass="1.0"
            rgba="{pusher} 1" material="matte" friction="0.2 0.005 0.0001"/>
    </body>
    {''.join(blocks)}
  </worldbody>
  <contact>
    <exclude body1="world" body2="pusher"/>
  </contact>
  <actuator>
    <velocity name="vx" joint="pusher_x" kv="300" ctrlrange="{-max_speed} {max_speed}"/>
    <velocity name="vy" joint="pusher_y" kv="300" ctrlrange="{-max_speed} {max_speed}"/>
  </actuator>
</mujoco>"""


def shape_centroid(shape: str) -> tuple[float, float]:
    """Return the area centroid of ``shape``'s footprint in its body frame (m)."""
    if shape in ('cube', 'cylinder'):
        return (0.0, 0.0)
    pts, tris = _outline(shape)
    a, b, c = pts[tris[:, 0]], pts[tris[:, 1]], pts[tris[:, 2]]
    area = 0.5 * np.abs((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0])
    centre = (area[:, None] * (a + b + c) / 3).sum(0) / area.sum()
    return (round(float(centre[0]), 5), round(float(centre[1]), 5))


def shape_hull(shape: str) -> list[list[float]]:
    """Return the convex hull of ``shape``'s footprint (body frame, CCW); [] if round."""
    if shape == 'cylinder':
        return []
    if shape == 'cube':
        s = CUBE_HALF
        pts = np.array([[s, -s], [s, s], [-s, s], [-s, -s]])
    else:
        from scipy.spatial import ConvexHull
        outline, _ = _outline(shape)
        pts = outline[ConvexHull(outline).vertices]         # counter-clockwise in 2-D
    return [[round(float(x), 5), round(float(y), 5)] for x, y in pts]


# rotational symmetry order of each footprint: 1 = none (the moon), 0 = round (any angle)
SYMMETRY = {'cube': 4, 'cylinder': 0, 'triangle': 3, 'moon': 1, 'star': 5}


def world_spec() -> dict:
    """
    Return the tabletop's vocabulary and geometry as a world-model ``world`` config dict.

    ``config/world_model.yaml`` carries the same values (a test checks that they agree):
    this is how the tabletop's knowledge reaches a world model, at training time only.
    """
    return {'colours': list(COLOURS), 'colour_rgb': [list(v) for v in COLOURS.values()],
            'shapes': list(SHAPES), 'symmetry': [SYMMETRY[s] for s in SHAPES],
            'shape_centroids': [list(shape_centroid(s)) for s in SHAPES],
            'board_rgb': list(BOARD_RGB), 'pusher_rgb': list(PUSHER_RGB),
            'block_radius': BLOCK_RADIUS, 'pusher_radius': PUSHER_RADIUS,
            'shape_hulls': [shape_hull(s) for s in SHAPES]}
