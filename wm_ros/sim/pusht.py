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
PushT (``gym-pusht``) as a second reference robot, behind the tabletop's API.

gym-pusht simulates a grey T and a round pusher on a 512 x 512 px workspace (pymunk,
frictionless contacts, the T stops when not pushed) and takes an *absolute target
position* per 0.1 s step that a PD controller (kp 100, kv 20) pulls the pusher towards.
:class:`PushTEnv` puts it behind the surface of :class:`~wm_ros.sim.tabletop.TabletopEnv`:

* metres, the tabletop's ``board`` frame: the workspace is ``2 * board_half`` m across
  (0.5 m by default), centred on the origin, +x right and +y up in the image;
  ``x = (px - 256) * m_per_px``, ``y = (256 - py) * m_per_px``, ``yaw = -angle``;
* action: an end-effector velocity ``float[2]`` in m/s, clipped per axis to
  ``max_speed``, becomes the PD target ``pusher + v / control_hz`` (clipped so the
  pusher stays inside the walls). The PD controller lags: the pusher does **not**
  move by command x dt (from rest it covers 30 % of it in the first step and 41 % per
  step under a steady command, measured in free space); the recorded ``ee_xy`` is the
  truth, the command is only what was asked for;
* observation ``{'image': uint8[S, S, 3], 'ee_xy': float32[2]}``: the whole workspace
  drawn by gym-pusht (goal in green, T grey, pusher blue) and area-averaged to ``S`` px;
* the T's pose is its *area centroid* and yaw (what a camera sees of it), not pymunk's
  body origin: :meth:`PushTEnv.block_states` is ``float32[1, 3]``;
* success is PushT's own: the T covers more than 95 % of the goal (``info['coverage']``).

``reset(seed=s)`` gives gym-pusht's own start for seed ``s`` (pusher, T position and
angle), so the same seed is the same episode here and in gym-pusht; ``options={'state':
[ee_x, ee_y, t_x, t_y, t_yaw]}`` (metres, radians, this module's frame) starts from a
given state. ``info`` carries ``instruction``, ``t``, ``success``, ``task``,
``block_xy`` (float32[1, 2]), ``block_yaw`` (float32[1]) and ``coverage``.
"""

from __future__ import annotations

from dataclasses import dataclass
import os

import numpy as np

from wm_ros.config import ConfigError
from wm_ros.sim.scene import Scene
from wm_ros.sim.surface import reset_options, RobotSurface
from wm_ros.sim.tasks import PUSHT_TASK

WORKSPACE_PX = 512.0
CENTRE_PX = WORKSPACE_PX / 2
PUSHER_RADIUS_PX = 15.0
INNER_PX = (5.0 + 2.0 + PUSHER_RADIUS_PX, 506.0 - 2.0 - PUSHER_RADIUS_PX)  # inside the walls
PHYSICS_HZ = 100.0               # gym-pusht's fixed pymunk step (dt 0.01 s)
# the T in gym-pusht's body frame (px, y down): the bar and the stem
T_POLYGONS_PX = (((-60.0, 30.0), (60.0, 30.0), (60.0, 0.0), (-60.0, 0.0)),
                 ((-15.0, 30.0), (-15.0, 120.0), (15.0, 120.0), (15.0, 30.0)))
T_CENTROID_PX = (0.0, (3600.0 * 15.0 + 2700.0 * 75.0) / 6300.0)   # area centroid, 40.71 px
T_COG_PX = (0.0, 45.0)           # gym-pusht's centre of gravity (mass 1, moment 3000 px^2)
T_MOMENT_PX2 = 3000.0
GOAL_PX = (256.0, 256.0, np.pi / 4)


def _gym_pusht():
    """Import gym-pusht (pygame with no display, no banner on stdout) on first use."""
    os.environ.setdefault('SDL_VIDEODRIVER', 'dummy')
    os.environ.setdefault('PYGAME_HIDE_SUPPORT_PROMPT', '1')
    try:
        from gym_pusht.envs.pusht import PushTEnv as GymPushT
    except ImportError as exc:
        raise ImportError(f'PushT needs gym-pusht ({exc}); pip install gym-pusht==0.1.8') from None
    return GymPushT


def wrap(angle):
    """Return ``angle`` (rad) wrapped to [-pi, pi)."""
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


@dataclass(frozen=True)
class PushTConfig:
    """Settings of the PushT robot (see ``config/pusht.yaml``); :meth:`tiny` for tests."""

    image_size: int = 64            # square top-down camera, pixels
    control_hz: float = 10.0        # actions per second (divides the 100 Hz physics)
    max_speed: float = 0.2          # per-axis end-effector speed limit, m/s
    board_half: float = 0.25        # half width of the 512 px workspace, m
    max_steps: int = 300            # gym-pusht's episode limit

    def __post_init__(self):
        if not 16 <= self.image_size <= 512:
            raise ConfigError(f'image_size must be in [16, 512] pixels, got {self.image_size}')
        if not 0 < self.control_hz <= PHYSICS_HZ or \
                abs(PHYSICS_HZ / self.control_hz - round(PHYSICS_HZ / self.control_hz)) > 1e-6:
            raise ConfigError(f"control_hz must divide gym-pusht's {PHYSICS_HZ:.0f} Hz physics "
                              f'(e.g. 5, 10, 20, 25, 50), got {self.control_hz}')
        if self.max_speed <= 0 or self.board_half <= 0 or self.max_steps < 1:
            raise ConfigError('max_speed, board_half and max_steps must be positive')

    @classmethod
    def tiny(cls) -> 'PushTConfig':
        """Return the test config: a 32 px camera and 40-step episodes."""
        return cls(image_size=32, max_steps=40)

    @property
    def m_per_px(self) -> float:
        """Return metres per workspace pixel."""
        return 2.0 * self.board_half / WORKSPACE_PX

    def to_metres(self, px) -> np.ndarray:
        """Return workspace points ``float[..., 2]`` (px, y down) in board metres."""
        px = np.asarray(px, np.float64)
        return np.stack([px[..., 0] - CENTRE_PX, CENTRE_PX - px[..., 1]], -1) * self.m_per_px

    def to_px(self, xy) -> np.ndarray:
        """Inverse of :meth:`to_metres`."""
        xy = np.asarray(xy, np.float64) / self.m_per_px
        return np.stack([xy[..., 0] + CENTRE_PX, CENTRE_PX - xy[..., 1]], -1)


def t_pose_px(origin_px, angle: float) -> tuple[np.ndarray, float]:
    """Return the centroid (px) of a T whose body origin is ``origin_px`` at ``angle``."""
    c, s = np.cos(angle), np.sin(angle)
    cx, cy = T_CENTROID_PX
    return np.asarray(origin_px, np.float64) + [c * cx - s * cy, s * cx + c * cy], float(angle)


def goal_state(config: PushTConfig) -> np.ndarray:
    """Return the goal pose of the T ``float[3]``: centroid (m) and yaw (rad)."""
    centroid, angle = t_pose_px(GOAL_PX[:2], GOAL_PX[2])
    return np.array([*config.to_metres(centroid), float(wrap(-angle))])


class PushTEnv(RobotSurface):
    """gym-pusht in metres and velocities, with the tabletop's surface (module docstring)."""

    def __init__(self, config: PushTConfig | None = None, render_mode: str = 'rgb_array'):
        super().__init__(config or PushTConfig(), render_mode)
        c = self.config
        self.sim = _gym_pusht()(obs_type='state', render_mode='rgb_array',
                                observation_width=c.image_size, observation_height=c.image_size)
        self.sim.control_hz = c.control_hz
        self.task = PUSHT_TASK
        self.scene: Scene | None = None
        self.t = 0
        self._coverage = 0.0
        self._started = False

    # ----------------------------------------------------------------- gymnasium API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode: gym-pusht's start for ``seed``, or ``options['state']``."""
        super().reset(seed=seed)
        state, task = reset_options(options, 'state', 'task')
        if task not in (None, PUSHT_TASK.family, PUSHT_TASK):
            raise ValueError(f'PushT has one task ({PUSHT_TASK.instruction!r}), got {task!r}')
        self.sim.reset(seed=seed)
        if state is not None:
            self._place(state)
        self._started, self.t = True, 0
        self._coverage = float(self.sim._get_coverage())
        self.scene = Scene((), tuple(float(v) for v in self.ee_xy()))
        return self._observe(), self._info()

    def step(self, action):
        """Move the PD target by ``action`` (m/s) for one control period; module docstring."""
        self.advance(action)
        info = self._info()
        reward = float(np.clip(self._coverage / self.sim.success_threshold, 0.0, 1.0))
        return (self._observe(), reward, info['success'], self.t >= self.config.max_steps,
                info)

    def advance(self, action) -> None:
        """Run the physics for one control period without rendering (``step`` minus camera)."""
        if not self._started:
            raise RuntimeError('call reset() before step()')
        a = self.checked_action(action)
        c = self.config
        v = np.clip(a, -c.max_speed, c.max_speed)
        target = self.config.to_px(self.ee_xy().astype(np.float64) + v / c.control_hz)
        self.sim.step(np.clip(target, *INNER_PX))
        self._coverage = float(self.sim._get_coverage())
        self.t += 1

    def render(self) -> np.ndarray:
        """Return the camera image ``uint8[S, S, 3]`` (the workspace, area-averaged)."""
        import cv2
        import pygame
        screen = self.sim._draw()
        image = np.transpose(np.array(pygame.surfarray.pixels3d(screen)), (1, 0, 2))
        size = self.config.image_size
        return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)

    def close(self):
        """Nothing to free (gym-pusht draws off-screen)."""
        self.sim.close()

    # ----------------------------------------------------------------- physics state
    def ee_xy(self) -> np.ndarray:
        """Return the pusher centre ``float32[2]`` (m)."""
        return self.config.to_metres(tuple(self.sim.agent.position)).astype(np.float32)

    def ee_velocity(self) -> np.ndarray:
        """Return the pusher velocity ``float32[2]`` (m/s)."""
        vx, vy = self.sim.agent.velocity
        return (np.array([vx, -vy]) * self.config.m_per_px).astype(np.float32)

    def block_states(self) -> np.ndarray:
        """Return ``float32[1, 3]``: the T's centroid x, y (m) and yaw (rad)."""
        centroid, angle = t_pose_px(tuple(self.sim.block.position), self.sim.block.angle)
        return np.array([[*self.config.to_metres(centroid), wrap(-angle)]], np.float32)

    def state(self) -> np.ndarray:
        """Return ``float[5]`` (ee x, y, T x, y, yaw): ``reset(options={'state': ...})``."""
        return np.concatenate([self.ee_xy(), self.block_states()[0]]).astype(np.float64)

    def coverage(self) -> float:
        """Return the fraction of the goal the T covers (gym-pusht's, 0..1)."""
        return self._coverage

    def success(self) -> bool:
        """Return PushT's verdict: the T covers more than 95 % of the goal."""
        return bool(self._coverage > self.sim.success_threshold)

    # ----------------------------------------------------------------- internals
    def _place(self, state) -> None:
        """Put the pusher and the T at ``state`` (m, rad): angle first, then position."""
        state = np.asarray(state, np.float64)
        if state.shape != (5,) or not np.all(np.isfinite(state)):
            raise ValueError(f'state must be 5 finite numbers (ee x, y, T x, y, yaw in m and '
                             f'rad), got {state.tolist()}')
        angle = float(-state[4])
        centroid = self.config.to_px(state[2:4])
        origin = centroid - (t_pose_px((0.0, 0.0), angle)[0])
        self.sim.agent.position = tuple(np.clip(self.config.to_px(state[:2]), *INNER_PX))
        self.sim.block.angle = angle
        self.sim.block.position = tuple(origin)
        self.sim.space.step(1.0 / PHYSICS_HZ)

    def _observe(self) -> dict:
        return {'image': self.render(), 'ee_xy': self.ee_xy()}

    def _info(self) -> dict:
        states = self.block_states()
        return {'instruction': self.task.instruction, 't': self.t, 'success': self.success(),
                'task': self.task.family, 'block_xy': states[:, :2],
                'block_yaw': states[:, 2].copy(), 'coverage': self._coverage}
