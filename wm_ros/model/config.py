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
World-model configuration (``config/world_model.yaml``) and what the model knows of the world.

The object-slot families name a block by its *kind* (colour x shape). Which colours and
shapes exist, their rotational symmetry, where each shape's pixels are centred, and how the
board and pusher look reach the model only through :class:`WorldSpec`, a part of the
config (the YAML's ``world`` section, written from the tabletop's geometry and checked
against it by a test) that is stored in ``model.json``. Nothing under ``wm_ros.model``
imports the simulator, so a robot team describes its own objects the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import math
from pathlib import Path

from wm_ros import config as config_io
import yaml

SLOT_KEYS = ('kind', 'present', 'pos', 'yaw', 'prev_pos')   # per-slot arrays [B, M, ...]


class ModelFileError(ValueError):
    """A model file that is missing, corrupt, of another version or of another shape."""


@dataclass(frozen=True)
class FamilyConfig:
    """
    What every model family's config shares: the geometry and rate it sees, dict form, loading.

    A family's frozen dataclass derives from it (these fields come first), names its YAML
    file in ``CONFIG_FILE`` (under ``config/``) and, in ``INHERIT``, the file's top-level
    keys every section gets unless it sets its own; its module's ``load_config`` calls
    :meth:`load`.
    """

    CONFIG_FILE = ''
    INHERIT = ()

    # what the model sees and predicts (checked against data and at load time)
    image_size: int = 64
    board_half: float = 0.25
    control_hz: float = 10.0
    max_speed: float = 0.2

    @property
    def dt(self) -> float:
        """Return the control period (s)."""
        return 1.0 / self.control_hz

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def load(cls, name: str = 'default', path: str | Path | None = None, **overrides):
        """Load section ``name`` of ``config/<CONFIG_FILE>`` (or ``path``) plus overrides."""
        path = Path(path) if path else config_io.config_dir() / cls.CONFIG_FILE
        return config_io.load(cls, path, section=name, inherit=cls.INHERIT, **overrides)


@dataclass(frozen=True)
class WorldSpec:
    """
    The object vocabulary and geometry a model is trained for (metres, RGB in [0, 1]).

    ``kinds`` = every ``'<colour> <shape>'``, colour-major; ``symmetry`` is each shape's
    rotational symmetry order (1 = none, 0 = round: yaw means nothing), ``shape_centroids``
    where its pixels are centred in its body frame (the moon's origin is off its centroid),
    ``shape_hulls`` the convex hull of its footprint (body frame, counter-clockwise; ``[]``:
    round, ``block_radius``), which is what it collides with. Without ``shape_hulls``
    (models made before them) every block is a disc of ``0.7 * block_radius`` in contacts.
    """

    colours: tuple[str, ...] = ()
    colour_rgb: tuple[tuple[float, float, float], ...] = ()
    shapes: tuple[str, ...] = ()
    symmetry: tuple[int, ...] = ()
    shape_centroids: tuple[tuple[float, float], ...] = ()
    board_rgb: tuple[float, float, float] = (0.5, 0.5, 0.5)
    pusher_rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)
    block_radius: float = 0.03
    pusher_radius: float = 0.018
    shape_hulls: tuple[tuple[tuple[float, float], ...], ...] = ()

    def __post_init__(self):
        n, s = len(self.colours), len(self.shapes)
        if not n or not s:
            raise config_io.ConfigError(
                'the world-model config has no world (colours, shapes): add a `world` '
                'section to config/world_model.yaml, as the reference tabletop has')
        if len(self.colour_rgb) != n or len(self.symmetry) != s or \
                len(self.shape_centroids) != s:
            raise config_io.ConfigError('world: colour_rgb needs one RGB per colour, symmetry '
                                        'and shape_centroids one entry per shape')
        if self.shape_hulls and (len(self.shape_hulls) != s or any(
                0 < len(h) < 3 for h in self.shape_hulls)):
            raise config_io.ConfigError('world: shape_hulls needs one entry per shape, each '
                                        '[] (round) or >= 3 [x, y] vertices')

    @property
    def kinds(self) -> tuple[str, ...]:
        """Return every kind name, colour-major: ``'red cube', 'red cylinder', ...``."""
        return tuple(f'{c} {s}' for c in self.colours for s in self.shapes)

    @property
    def kind_symmetry(self) -> tuple[int, ...]:
        """Return each kind's rotational symmetry order."""
        return tuple(self.symmetry[i % len(self.shapes)] for i in range(len(self.kinds)))

    def contact_planes(self, sides: int = 16) -> list[list[tuple[float, float, float]]]:
        """
        Return per shape the half-planes ``(nx, ny, d)`` (``n . x <= d``) of its hull.

        A round shape is the ``sides``-gon whose faces touch its circle; shapes are padded
        to one count by repeating a plane. ``[]`` when the world has no ``shape_hulls``.
        """
        if not self.shape_hulls:
            return []
        planes = []
        for hull in self.shape_hulls:
            if hull:
                pts = [(float(x), float(y)) for x, y in hull]
                edges = zip(pts, pts[1:] + pts[:1])
                sides_of = [((b[1] - a[1]), -(b[0] - a[0]), a) for a, b in edges]
                planes.append([(nx / math.hypot(nx, ny), ny / math.hypot(nx, ny),
                                (nx * a[0] + ny * a[1]) / math.hypot(nx, ny))
                               for nx, ny, a in sides_of])
            else:
                angles = [2 * math.pi * i / sides for i in range(sides)]
                planes.append([(math.cos(t), math.sin(t), self.block_radius) for t in angles])
        count = max(len(p) for p in planes)
        return [p + [p[0]] * (count - len(p)) for p in planes]

    def kind_rgb(self) -> list[tuple[float, float, float]]:
        """Return each kind's colour."""
        return [self.colour_rgb[i // len(self.shapes)] for i in range(len(self.kinds))]


def tabletop_world(path: str | Path | None = None) -> WorldSpec:
    """Return the ``world`` of ``config/world_model.yaml`` (the reference tabletop)."""
    path = Path(path) if path else config_io.config_dir() / 'world_model.yaml'
    data = yaml.safe_load(path.read_text()) or {}
    return config_io.from_dict(WorldSpec, data.get('world'), source=f'{path}: world')


@dataclass(frozen=True)
class WorldModelConfig(FamilyConfig):
    """Architecture and training settings; ``tiny`` in the YAML is the test config."""

    CONFIG_FILE = 'world_model.yaml'
    INHERIT = ('world',)

    # FamilyConfig's first: image_size, board_half, control_hz, max_speed
    max_blocks: int = 8
    # encoder: conv heatmaps per kind at image_size / 4
    enc_channels: int = 16
    # decoder: learned sprite per kind (RGBA, sprite_px^2) covering sprite_extent metres
    sprite_px: int = 16
    sprite_extent: float = 0.09
    # dynamics: relational MLPs, an ensemble of heads for uncertainty
    kind_dim: int = 16
    pair_hidden: int = 32
    hidden: int = 64
    ensemble: int = 4
    # training
    batch_size: int = 64
    unroll: int = 16
    encoder_steps: int = 3000
    decoder_steps: int = 1500
    dynamics_steps: int = 6000
    lr: float = 2e-3
    contact_fraction: float = 0.7
    seed: int = 0
    device: str = 'cpu'         # training device: cpu, cuda[:N], auto (CUDA if present)
    threads: int = 0            # torch CPU threads (0: the free cores, model/threads.py)
    # dynamics: push blocks out of the pusher and of each other after each learned step
    contact_projection: bool = False
    # decoder: weight of the encoder's read loss on the drawn frame (second half of the stage)
    cycle_weight: float = 0.0
    world: WorldSpec = field(default_factory=tabletop_world)

    def __post_init__(self):
        if self.image_size % 2 or not 16 <= self.image_size <= 512:
            raise config_io.ConfigError(f'image_size must be even and in [16, 512], got '
                                        f'{self.image_size}')
        if self.device not in ('cpu', 'auto') and not self.device.startswith('cuda'):
            raise config_io.ConfigError(f'device must be cpu, cuda[:N] or auto, got '
                                        f'{self.device!r}')
        if self.ensemble < 2:
            raise config_io.ConfigError('ensemble must be >= 2: its spread is the uncertainty')
        if not 1 <= self.max_blocks <= len(self.world.kinds):
            raise config_io.ConfigError(f'max_blocks must be in [1, {len(self.world.kinds)}]')


def load_config(name: str = 'default', path: str | Path | None = None, **overrides
                ) -> WorldModelConfig:
    """
    Load section ``name`` of ``config/world_model.yaml`` (or ``path``) plus overrides.

    The file's top-level ``world`` is every section's world unless the section has its own.
    """
    return WorldModelConfig.load(name, path, **overrides)
