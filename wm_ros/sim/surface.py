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


"""What every reference robot shows a gymnasium user: a twist in, a camera frame and pusher out."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class RobotSurface(gym.Env):
    """
    The gymnasium surface the tabletop and PushT share; ``config`` gives its sizes.

    Actions are float32[2] end-effector velocities (m/s, per axis within ``max_speed``);
    observations ``{'image': uint8[S, S, 3], 'ee_xy': float32[2]}`` (metres, board frame).
    """

    metadata = {'render_modes': ['rgb_array'], 'render_fps': 10}

    def __init__(self, config, render_mode: str = 'rgb_array'):
        self.config = c = config
        self.render_mode = render_mode
        self.metadata = dict(self.metadata, render_fps=c.control_hz)
        self.action_space = gym.spaces.Box(-c.max_speed, c.max_speed, (2,), np.float32)
        self.observation_space = gym.spaces.Dict({
            'image': gym.spaces.Box(0, 255, (c.image_size, c.image_size, 3), np.uint8),
            'ee_xy': gym.spaces.Box(-c.board_half, c.board_half, (2,), np.float32),
        })

    @staticmethod
    def checked_action(action) -> np.ndarray:
        """Return ``action`` as float64[2] m/s; refuse a wrong shape or a non-finite value."""
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (2,):
            raise ValueError(f'action must be float[2] (vx, vy in m/s), got shape {a.shape}')
        if not np.all(np.isfinite(a)):
            raise ValueError(f'action must be finite, got {a.tolist()}; the pusher was not moved')
        return a


def reset_options(options: dict | None, *names: str) -> tuple:
    """Return ``options[name]`` for each of ``names`` (None if absent); refuse any other."""
    options = dict(options or {})
    values = tuple(options.pop(n, None) for n in names)
    if options:
        raise ValueError(f'unknown reset option(s) {sorted(options)}; use {", ".join(names)}')
    return values
