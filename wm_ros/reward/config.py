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
Reward-classifier configuration (``config/reward.yaml``): one frozen dataclass per section.

``default`` is the shipped model's recipe, ``tiny`` the seconds-long test config. The
fields are grouped as what the network is (``width``, ``hidden``), which frames it learns
from (per episode: every successful frame, ``near_end`` last frames, ``hard_negatives``
frames just before the first success, ``frames_per_episode`` random ones; a
the same frames under ``relabel`` other tasks of the scene labelled by the physics
oracle; ``reconstructed_fraction`` of them as the world model redraws them and, with
``imagined``, frames of open-loop replays in the world model) and how it trains.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from wm_ros import config as config_io


class RewardFileError(ValueError):
    """A reward-model file that is missing, corrupt, of another version or of another shape."""


@dataclass(frozen=True)
class RewardConfig:
    """Architecture, data and training settings of the success classifier."""

    # what the model sees
    image_size: int = 64
    width: int = 12                 # channels of the first conv (then 2x, 2x)
    hidden: int = 128               # the head's hidden units
    aux_colours: int = 6            # block colours, shapes and task families the network
    aux_shapes: int = 5             # reads out (wm_ros.reward.network)
    aux_families: int = 5
    text_hidden: int = 512          # the instruction read-out's hidden units
    text_words: int = 0             # instruction words it reads one by one, in order, beside
    word_dim: int = 32              # the sentence (0: the sentence alone), each cut to this
    board_half: float = 0.25        # m; the camera sees the whole board
    # which frames it learns from (module docstring)
    frames_per_episode: int = 8
    near_end: int = 4
    hard_negatives: int = 4
    relabel: int = 3                # other tasks per episode, labelled by the physics
    reconstructed_fraction: float = 0.5
    imagined: bool = True           # replays in the world model (needs its ObjectReadout)
    world_model: str = ''           # model directory; '' = the shipped wm_ros/models/world_model
    val_fraction: float = 0.05      # episodes held out of training to calibrate the threshold
    max_fpr: float = 0.01           # per-frame false positives the threshold may allow there
    unresolved_px: float = 0.0      # ... not counting failures within this many pixels of it
    max_episodes: int = 0           # 0: every episode of the data directories
    # training (wm_ros.reward.fit): language, vision, decision
    vocabulary: bool = True         # read every task the tabletop can phrase (~8000 texts)
    text_steps: int = 4000
    steps: int = 3000               # vision: block maps
    batch_size: int = 64
    head_epochs: int = 20
    head_views: int = 2             # board symmetries of each row the head learns from
    lr: float = 2e-3
    weight_decay: float = 1e-4
    positive_fraction: float = 0.5  # of each batch (positives are ~5 % of natural frames)
    own_fraction: float = 0.5       # of each batch: rows of the episode's own task
    augment: bool = True            # board symmetries, photometric jitter, pixel noise
    seed: int = 0
    threads: int = 1                # torch CPU threads (0: the free cores)
    device: str = 'cpu'             # cpu, cuda[:N] or auto

    def __post_init__(self):
        if self.image_size % 8 or not 16 <= self.image_size <= 512:
            raise config_io.ConfigError(f'image_size must be a multiple of 8 in [16, 512], '
                                        f'got {self.image_size}')
        if self.width < 1 or self.hidden < 1 or self.relabel < 0:
            raise config_io.ConfigError('width and hidden must be >= 1, relabel >= 0')
        if self.unresolved_px < 0:
            raise config_io.ConfigError(f'unresolved_px is a distance in camera pixels, >= 0; '
                                        f'got {self.unresolved_px}')
        if self.text_words < 0 or self.word_dim < 1:
            raise config_io.ConfigError(f'text_words must be >= 0 and word_dim >= 1, got '
                                        f'{self.text_words} and {self.word_dim}')
        for name in ('reconstructed_fraction', 'positive_fraction', 'own_fraction'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise config_io.ConfigError(f'{name} must be in [0, 1], got '
                                            f'{getattr(self, name)}')
        if not 0.0 <= self.val_fraction < 0.5:
            raise config_io.ConfigError(f'val_fraction must be in [0, 0.5), got '
                                        f'{self.val_fraction}')
        if self.steps < 1 or self.batch_size < 2:
            raise config_io.ConfigError('steps must be >= 1 and batch_size >= 2')
        if self.device not in ('cpu', 'auto') and not self.device.startswith('cuda'):
            raise config_io.ConfigError(f'device must be cpu, cuda[:N] or auto, got '
                                        f'{self.device!r}')

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return asdict(self)


def load_config(name: str = 'default', path: str | Path | None = None, **overrides
                ) -> RewardConfig:
    """Load section ``name`` of ``config/reward.yaml`` (or ``path``) plus overrides."""
    path = Path(path) if path else config_io.config_dir() / 'reward.yaml'
    return config_io.load(RewardConfig, path, section=name, **overrides)
