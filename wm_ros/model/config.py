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
World-model configuration (``config/world_model.yaml``) and the object-kind vocabulary.

The model is object-centric: a block is one of ``KINDS`` (colour x shape, 30 kinds, unique
per scene by construction of the tabletop), so a slot's identity is its kind. ``SYMMETRY``
is each shape's rotational symmetry order, used to read and render yaw.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from wm_ros import config as config_io
from wm_ros.sim.scene import COLOURS, SHAPES

KINDS: tuple[str, ...] = tuple(f'{c} {s}' for c in COLOURS for s in SHAPES)
SYMMETRY = {'cube': 4, 'cylinder': 1, 'triangle': 3, 'moon': 1, 'star': 5}
KIND_SYMMETRY: tuple[int, ...] = tuple(SYMMETRY[k.split(' ')[1]] for k in KINDS)


@dataclass(frozen=True)
class WorldModelConfig:
    """Architecture and training settings; ``tiny`` in the YAML is the test config."""

    # what the model sees and predicts (checked against data and at load time)
    image_size: int = 64
    board_half: float = 0.25
    control_hz: float = 10.0
    max_speed: float = 0.2
    max_blocks: int = 8
    # encoder: conv heatmaps per kind at image_size / 2
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
    device: str = 'cpu'
    threads: int = 0            # torch CPU threads (0: torch default)

    def __post_init__(self):
        if self.image_size % 2 or not 16 <= self.image_size <= 512:
            raise config_io.ConfigError(f'image_size must be even and in [16, 512], got '
                                        f'{self.image_size}')
        if self.ensemble < 2:
            raise config_io.ConfigError('ensemble must be >= 2: its spread is the uncertainty')
        if not 1 <= self.max_blocks <= len(KINDS):
            raise config_io.ConfigError(f'max_blocks must be in [1, {len(KINDS)}]')

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return asdict(self)


def load_config(name: str = 'default', path: str | Path | None = None, **overrides
                ) -> WorldModelConfig:
    """Load section ``name`` of ``config/world_model.yaml`` (or ``path``) plus overrides."""
    path = Path(path) if path else config_io.config_dir() / 'world_model.yaml'
    return config_io.load(WorldModelConfig, path, section=name, **overrides)
