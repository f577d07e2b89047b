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
:class:`RLConfig`: the settings of ``wm-ros rl``, loaded from ``config/rl.yaml``.

Sections ``default`` (the acceptance run's settings) and ``tiny`` (seconds on a CPU: the
tests). Every key is checked against the dataclass: an unknown key, a wrong type or a
value out of range is a :class:`~wm_ros.config.ConfigError` saying which and what to do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from wm_ros import config as config_io
from wm_ros.config import ConfigError

FAMILIES = ('block_to_region', 'block_to_block', 'separate', 'group_by_colour')


@dataclass(frozen=True)
class RLConfig:
    """Group-relative optimisation in imagination (the keys are explained in rl.yaml)."""

    families: tuple[str, ...] = FAMILIES
    pool: int = 64                 # start frames per family (sampled) / in all (data)
    starts: int = 16               # start frames per update
    group: int = 8                 # rollouts per start frame (G)
    updates: int = 60
    epochs: int = 2                # passes over each update's steps
    minibatch: int = 2048          # steps per gradient step
    lr: float = 3e-5
    grad_clip: float = 1.0
    log_std: float = -1.2          # initial log-std of the Gaussian head (units of max_speed)
    learn_std: bool = True
    clip_low: float = 0.2          # ratio clip 1 - clip_low ... 1 + clip_high (no KL term)
    clip_high: float = 0.28
    keep_min: float = 0.1          # groups kept when keep_min <= success rate <= keep_max
    keep_max: float = 0.9
    shaping: float = 0.0           # + shaping x the reward model's P(success), last frame
    max_steps: int = 120
    max_steps_long: int = 400
    max_uncertainty: float = 0.02  # m: a rollout whose ensemble spread passes it is dropped
    perturb: bool = True           # else: replay from a perturbed start, drop disagreement
    perturb_px: float = 6.0        # uint8 noise amplitude of the perturbed first frame
    perturb_ee: float = 0.003      # m, pusher jitter of the perturbed start
    max_disagreement: float = 0.01  # fraction of pixels the replay may change (> 48/255)
    checkpoint_every: int = 5      # updates between checkpoints (and at the end)
    eval_starts: int = 32          # imagined success before/after on this many held starts
    eval_every: int = 0            # and every this many updates (0: before and after only)
    seed: int = 0
    threads: int = 1               # torch CPU threads

    def __post_init__(self):
        positive = ('pool', 'starts', 'group', 'updates', 'epochs', 'minibatch',
                    'max_steps', 'max_steps_long', 'checkpoint_every', 'threads')
        bad = [k for k in positive if getattr(self, k) < 1]
        if bad:
            raise ConfigError(f'rl config: {", ".join(bad)} must be >= 1')
        if self.group < 2:
            raise ConfigError('rl config: group must be >= 2 (advantages are relative to the '
                              'group of rollouts from one start frame)')
        if not 0.0 <= self.keep_min <= self.keep_max <= 1.0:
            raise ConfigError(f'rl config: need 0 <= keep_min <= keep_max <= 1, got '
                              f'{self.keep_min} and {self.keep_max}')
        if self.lr <= 0 or self.clip_low <= 0 or self.clip_high <= 0 or self.shaping < 0:
            raise ConfigError('rl config: lr, clip_low and clip_high must be > 0, shaping >= 0')
        if not self.families:
            raise ConfigError('rl config: families is empty; name at least one task family')

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return asdict(self)


def load_config(section: str = 'default', path: str | Path | None = None,
                **overrides) -> RLConfig:
    """Return section ``section`` of ``path`` (default ``config/rl.yaml``) with overrides."""
    return config_io.load(RLConfig, path or config_io.config_dir() / 'rl.yaml', section,
                          **overrides)


__all__ = ['ConfigError', 'FAMILIES', 'RLConfig', 'load_config']
