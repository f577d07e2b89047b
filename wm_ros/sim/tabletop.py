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
The reference "real robot": a Language-Table-like MuJoCo tabletop with a gymnasium API.

Action: end-effector velocity ``float32[2]`` in m/s (board frame, +x right, +y up in the
image), clipped per axis to ``[-max_speed, max_speed]`` (0.2 m/s by default) and held for
one control period (``1 / control_hz`` = 0.1 s by default). Non-finite actions raise.

Observation: ``{'image': uint8[S, S, 3], 'ee_xy': float32[2]}`` from a fixed orthographic
top-down camera that sees exactly the board. ``info`` carries ``instruction``, ``t``,
``success``, ``task`` and ``block_xy`` (the physics state used by the success checks).

``reset(seed=..., options={'scene': Scene, 'task': Task | family})`` starts an episode;
without options a task family (``config.task``, or a random one) and a scene are sampled
from the seed. The same seed always gives the same episode and the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from wm_ros.config import ConfigError
from wm_ros.sim.scene import build_mjcf, COLOURS, Scene
from wm_ros.sim.surface import reset_options, RobotSurface
from wm_ros.sim.tasks import FAMILIES, sample_episode, Task

MAX_IMAGE_SIZE = 512


@dataclass(frozen=True)
class TabletopConfig:
    """Settings of the tabletop (see ``config/tabletop.yaml``)."""

    image_size: int = 64            # square top-down camera, pixels
    control_hz: float = 10.0        # actions per second
    physics_dt: float = 0.005       # MuJoCo timestep, s
    max_speed: float = 0.2          # per-axis end-effector speed limit, m/s
    board_half: float = 0.25        # half width of the square board, m
    n_blocks: int = 4               # blocks per sampled scene (4..8)
    task: str = 'random'            # a family from FAMILIES or 'random'
    shadows: bool = False           # shadow-casting light: ~8x render cost
    max_steps: int = 120            # episode limit for single-step families
    max_steps_long: int = 400       # episode limit for group_by_colour / make_line

    def __post_init__(self):
        if not 16 <= self.image_size <= MAX_IMAGE_SIZE:
            raise ConfigError(f'image_size must be in [16, {MAX_IMAGE_SIZE}] pixels, '
                              f'got {self.image_size}')
        if self.control_hz <= 0 or self.physics_dt <= 0 or self.max_speed <= 0:
            raise ConfigError('control_hz, physics_dt and max_speed must be positive')
        if self.physics_dt * self.control_hz > 1.0:
            raise ConfigError(f'physics_dt {self.physics_dt} s is longer than one control '
                              f'period {1 / self.control_hz} s')
        if self.task != 'random' and self.task not in FAMILIES:
            raise ConfigError(f'unknown task {self.task!r}; choose random or one of '
                              f'{list(FAMILIES)}')
        if not 4 <= self.n_blocks <= 8:
            raise ConfigError(f'n_blocks must be in [4, 8], got {self.n_blocks}')

    @property
    def substeps(self) -> int:
        """Physics steps per control period."""
        return max(1, round(1.0 / (self.control_hz * self.physics_dt)))


class TabletopEnv(RobotSurface):
    """MuJoCo pushing tabletop with language tasks; see the module docstring."""

    def __init__(self, config: TabletopConfig | None = None, render_mode: str = 'rgb_array'):
        super().__init__(config or TabletopConfig(), render_mode)
        self.scene: Scene | None = None
        self.task: Task | None = None
        self.t = 0
        self._signature = None
        self._model = self._data = self._renderer = None

    # ----------------------------------------------------------------- gymnasium API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode (see the module docstring for ``options``)."""
        super().reset(seed=seed)
        scene, task = reset_options(options, 'scene', 'task')
        if isinstance(task, str) or task is None:
            family = task or self.config.task
            if family == 'random':
                family = FAMILIES[self.np_random.integers(len(FAMILIES))]
            sampled_scene, task = sample_episode(family, self.np_random, self.config.board_half,
                                                 self.config.n_blocks)
            scene = scene or sampled_scene
        if scene is None:
            raise ValueError('reset with a Task needs a scene too: options={"scene": ..., '
                             '"task": ...}')
        for name in task.blocks:
            scene.index(name)
        self._load(scene)
        self.task, self.t = task, 0
        return self._observe(), self._info()

    def step(self, action):
        """Apply ``action`` (m/s) for one control period; see the module docstring."""
        self.advance(action)
        info = self._info()
        limit = self.config.max_steps_long if self.task.long_horizon else self.config.max_steps
        return (self._observe(), float(info['success']), info['success'], self.t >= limit,
                info)

    def advance(self, action) -> None:
        """Run the physics for one control period without rendering (``step`` minus camera)."""
        if self._data is None:
            raise RuntimeError('call reset() before step()')
        a = self.checked_action(action)
        self._data.ctrl[:] = np.clip(a, -self.config.max_speed, self.config.max_speed)
        mujoco.mj_step(self._model, self._data, self.config.substeps)
        self.t += 1

    def render(self) -> np.ndarray:
        """Return the camera image ``uint8[S, S, 3]``."""
        self._renderer.update_scene(self._data, camera='top')
        return self._renderer.render().copy()

    def close(self):
        """Free the renderer's GL context."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # ----------------------------------------------------------------- physics state
    def ee_xy(self) -> np.ndarray:
        """Return the pusher centre ``float32[2]`` (m)."""
        return self._data.qpos[:2].astype(np.float32)

    def ee_velocity(self) -> np.ndarray:
        """Return the pusher velocity ``float32[2]`` (m/s)."""
        return self._data.qvel[:2].astype(np.float32)

    def block_states(self) -> np.ndarray:
        """Return ``float32[N, 3]``: x, y (m) and yaw (rad) of each block, in scene order."""
        out = np.empty((len(self.scene.blocks), 3), np.float32)
        for i in range(len(self.scene.blocks)):
            q = self._data.qpos[2 + 7 * i: 2 + 7 * i + 7]
            w, z = q[3], q[6]
            out[i] = q[0], q[1], 2.0 * np.arctan2(z, w)
        return out

    def current_scene(self) -> Scene:
        """Return the scene with the blocks where they are now (e.g. to restart from here)."""
        s = self.block_states()
        return Scene(self.scene.with_poses(s[:, :2], s[:, 2]).blocks,
                     tuple(float(v) for v in self.ee_xy()))

    def success(self) -> bool:
        """Return whether the current task is solved, from the physics state."""
        return self.task.success(self.scene, self.block_states()[:, :2], self.config.board_half)

    # ----------------------------------------------------------------- internals
    def _load(self, scene: Scene):
        """(Re)build the model when the block set changes; otherwise recolour and re-pose."""
        c = self.config
        signature = tuple(b.shape for b in scene.blocks)
        if signature != self._signature:
            self.close()
            xml = build_mjcf(scene, c.board_half, c.image_size, c.shadows, c.physics_dt,
                             c.max_speed)
            self._model = mujoco.MjModel.from_xml_string(xml)
            self._data = mujoco.MjData(self._model)
            self._renderer = mujoco.Renderer(self._model, c.image_size, c.image_size)
            self._signature = signature
        mujoco.mj_resetData(self._model, self._data)
        self._data.qpos[:2] = scene.pusher_xy
        for i, b in enumerate(scene.blocks):
            gid = mujoco.mj_name2id(self._model, mujoco.mjtObj.mjOBJ_GEOM, f'block{i}')
            self._model.geom_rgba[gid, :3] = COLOURS[b.colour]
            q = 2 + 7 * i
            self._data.qpos[q:q + 7] = [b.x, b.y, self._model.body_pos[
                self._model.body(f'block{i}').id][2], np.cos(b.yaw / 2), 0, 0, np.sin(b.yaw / 2)]
        mujoco.mj_forward(self._model, self._data)
        self.scene = scene

    def _observe(self) -> dict:
        return {'image': self.render(), 'ee_xy': self.ee_xy()}

    def _info(self) -> dict:
        states = self.block_states()
        return {'instruction': self.task.instruction, 't': self.t, 'success': self.success(),
                'task': self.task.family, 'block_xy': states[:, :2]}
