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
``ImaginedEnv``: the world model behind the same gymnasium API as the tabletop.

``reset(options={'image': uint8[S,S,3], 'ee_xy': float[2], 'instruction' or 'task': ...})``
starts an imagined episode from a real camera frame (it is encoded into the model state).
Without an image, ``reset(seed=...)`` takes the first frame of a real tabletop episode
(``TabletopEnv``) so a policy can be evaluated in imagination from scratch.

Observations are ``{'image', 'ee_xy'}`` like the tabletop's; ``info`` carries
``instruction``, ``t``, ``uncertainty`` (the model's ensemble spread this step, metres)
and, when the task is a known family, ``success`` judged on the *imagined* block positions
(``block_xy`` in ``info``). Reward is 1 on success as on the tabletop. The episode is
truncated after ``max_steps``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from wm_ros.model.config import KINDS
from wm_ros.runtime.base import State, WorldModelRuntime
from wm_ros.sim.scene import Block, Scene
from wm_ros.sim.tasks import Task, UNKNOWN


class ImaginedEnv(gym.Env):
    """A world-model runtime as a gymnasium Env (see the module docstring)."""

    metadata = {'render_modes': ['rgb_array']}

    def __init__(self, runtime: WorldModelRuntime, max_steps: int = 120,
                 board_half: float = 0.25, render_mode: str = 'rgb_array'):
        self.runtime, self.max_steps, self.board_half = runtime, max_steps, board_half
        self.render_mode = render_mode
        s, v = runtime.image_size, runtime.max_speed
        self.metadata = dict(self.metadata, render_fps=runtime.control_hz)
        self.action_space = gym.spaces.Box(-v, v, (2,), np.float32)
        self.observation_space = gym.spaces.Dict({
            'image': gym.spaces.Box(0, 255, (s, s, 3), np.uint8),
            'ee_xy': gym.spaces.Box(-board_half, board_half, (2,), np.float32),
        })
        self.state: State | None = None
        self.task: Task | None = None
        self.t = 0
        self._image: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start from ``options['image']`` + ``options['ee_xy']``, or a sampled real scene."""
        super().reset(seed=seed)
        options = dict(options or {})
        image, ee = options.pop('image', None), options.pop('ee_xy', None)
        task, instruction = options.pop('task', None), options.pop('instruction', None)
        if options:
            raise ValueError(f'unknown reset option(s) {sorted(options)}; use image, ee_xy, '
                             'task, instruction')
        if image is None:
            image, ee, task = self._real_start(seed, task)
        elif ee is None:
            raise ValueError('reset from a frame needs options["ee_xy"] too (the pusher '
                             'position in metres, from ee_pose)')
        if isinstance(task, dict):
            task = Task.from_dict(task)
        self.task = task or Task(UNKNOWN, instruction or '')
        self.state = self.runtime.encode(np.asarray(image), np.asarray(ee, np.float32))
        self.t = 0
        return self._observe(), self._info()

    def step(self, action):
        """Advance the imagination by one control period with ``action`` (m/s)."""
        if self.state is None:
            raise RuntimeError('call reset() before step()')
        a = np.asarray(action, np.float32)
        if a.shape != (2,):
            raise ValueError(f'action must be float[2] (vx, vy in m/s), got shape {a.shape}')
        self.state = self.runtime.step(self.state, a[None])
        self.t += 1
        info = self._info()
        success = bool(info.get('success', False))
        return self._observe(), float(success), success, self.t >= self.max_steps, info

    def render(self) -> np.ndarray:
        """Return the imagined camera frame ``uint8[S, S, 3]``."""
        return self._image

    def imagined_scene(self) -> Scene:
        """Return the blocks the model holds now, as a typed :class:`Scene`."""
        s = self.state
        blocks = []
        for k, p, xy, yaw in zip(s.kind[0], s.present[0], s.pos[0], s.yaw[0]):
            if p > 0.5:
                colour, shape = KINDS[int(k)].split(' ')
                blocks.append(Block(colour, shape, float(xy[0]), float(xy[1]), float(yaw)))
        return Scene(tuple(blocks), tuple(float(v) for v in s.ee[0]))

    def _real_start(self, seed, task):
        from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
        env = TabletopEnv(TabletopConfig(image_size=self.runtime.image_size,
                                         control_hz=self.runtime.control_hz))
        try:
            obs, _ = env.reset(seed=int(self.np_random.integers(2 ** 31)) if seed is None
                               else seed, options={'task': task} if isinstance(task, str)
                               else None)
            return obs['image'], obs['ee_xy'], env.task
        finally:
            env.close()

    def _observe(self) -> dict:
        images, ee = self.runtime.decode(self.state)
        self._image = images[0]
        return {'image': images[0], 'ee_xy': ee[0].astype(np.float32)}

    def _info(self) -> dict:
        info = {'instruction': self.task.instruction, 't': self.t,
                'uncertainty': float(self.state.uncertainty[0])}
        if self.task.family != UNKNOWN:
            scene = self.imagined_scene()
            if not scene.blocks:
                info.update(success=False, hallucination='the model sees no blocks')
                return info
            try:
                xy = np.array([[b.x, b.y] for b in scene.blocks]).reshape(-1, 2)
                info['success'] = self.task.success(scene, xy, self.board_half)
                info['block_xy'] = xy
            except ValueError as exc:             # a named block is not in the imagination
                info['success'] = False
                info['hallucination'] = str(exc)
        return info
