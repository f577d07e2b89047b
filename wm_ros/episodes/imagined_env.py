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
``ImaginedEnv``: one imagined episode behind the same gymnasium API as the tabletop.

A thin adapter over :class:`~wm_ros.episodes.imagination.ImaginationEnv` with one row, so
an imagined episode is stepped and judged by the one imagination the episode driver uses.

``reset(options={'image': uint8[S,S,3], 'ee_xy': float[2], 'instruction' or 'task': ...})``
starts an imagined episode from a real camera frame (it is encoded into the model state).
Without an image, ``reset(seed=...)`` takes the first frame of a real tabletop episode
(``TabletopEnv``; ``options['task']`` may name its family) so a policy can be evaluated in
imagination from scratch.

Observations are ``{'image', 'ee_xy'}`` like the tabletop's; ``info`` carries
``instruction``, ``t``, ``uncertainty`` (metres, when the model has the
:class:`~wm_ros.runtime.base.Uncertainty` capability) and, when the task is a known family
and the model can read objects out (:class:`~wm_ros.runtime.base.ObjectReadout`),
``success`` judged on the *imagined* objects by
:class:`~wm_ros.reward.task_judge.TaskJudge` (the reset info judges the first frame).
Reward is 1 on success as on the tabletop. The episode is truncated after ``max_steps``.

It never raises on what the model read: a named block is the best-matching slot (kind
and, after the first frame, identity: slots keep their objects), and what the model could
not find or read as another kind is reported in ``info`` (``missing``, ``misread``,
``hallucination``) with ``success`` False.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from wm_ros.episodes.env import Start
from wm_ros.episodes.imagination import ImaginationEnv
from wm_ros.policy.base import Observations
from wm_ros.runtime.base import WorldModelRuntime
from wm_ros.sim.scene import Block, Scene
from wm_ros.sim.tasks import Task, UNKNOWN


class ImaginedEnv(gym.Env):
    """A world-model runtime as a gymnasium Env (see the module docstring)."""

    metadata = {'render_modes': ['rgb_array']}

    def __init__(self, runtime: WorldModelRuntime, max_steps: int = 120,
                 board_half: float = 0.25, render_mode: str = 'rgb_array'):
        self.runtime, self.max_steps, self.board_half = runtime, max_steps, board_half
        self.render_mode = render_mode
        self.imagination = ImaginationEnv(runtime, board_half)
        s, v = runtime.image_size, runtime.max_speed
        self.metadata = dict(self.metadata, render_fps=runtime.control_hz)
        self.action_space = gym.spaces.Box(-v, v, (2,), np.float32)
        self.observation_space = gym.spaces.Dict({
            'image': gym.spaces.Box(0, 255, (s, s, 3), np.uint8),
            'ee_xy': gym.spaces.Box(-board_half, board_half, (2,), np.float32),
        })
        self.task: Task | None = None
        self._last: Observations | None = None

    @property
    def t(self) -> int:
        """Return the control steps taken in this episode."""
        return self.imagination.t

    @property
    def state(self):
        """Return the imagined :class:`~wm_ros.runtime.base.State` (None before reset)."""
        return self.imagination.state

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start from ``options['image']`` + ``options['ee_xy']``, or a sampled real scene."""
        super().reset(seed=seed)
        start = self._start(seed, dict(options or {}))
        self.task = start.task
        observations, _ = self.imagination.reset([start])
        _, infos = self.imagination.verdicts()              # the first frame, judged
        return self._observe(observations), self._info(infos[0])

    def step(self, action):
        """Advance the imagination by one control period with ``action`` (m/s)."""
        if self.state is None:
            raise RuntimeError('call reset() before step()')
        a = np.asarray(action, np.float32)
        if a.shape != (2,):
            raise ValueError(f'action must be float[2] (vx, vy in m/s), got shape {a.shape}')
        observations, _, success, infos = self.imagination.step(a[None])
        success = bool(success[0])
        return (self._observe(observations), float(success), success,
                self.t >= self.max_steps, self._info(infos[0]))

    def render(self) -> np.ndarray:
        """Return the imagined camera frame ``uint8[S, S, 3]``."""
        return None if self._last is None else self._last.image[0]

    def close(self) -> None:
        """Drop the imagined state."""
        self.imagination.close()

    def imagined_scene(self) -> Scene:
        """Return the blocks the model holds now, as a typed :class:`Scene` (unique names)."""
        pusher = tuple(float(v) for v in self._last.ee_xy[0])
        judge = self.imagination.judges[0]
        if judge is None:
            return Scene((), pusher)
        objects = self.runtime.objects(self.state)
        return Scene(tuple(Block(*n.split(' '), float(objects.pos[0, j, 0]),
                                 float(objects.pos[0, j, 1]), float(objects.yaw[0, j]))
                           for n, j in zip(judge.names, judge.slots)), pusher)

    def _start(self, seed: int | None, options: dict) -> Start:
        """Return the episode's start from the reset ``options`` (see :meth:`reset`)."""
        image, ee = options.pop('image', None), options.pop('ee_xy', None)
        task, instruction = options.pop('task', None), options.pop('instruction', None)
        if options:
            raise ValueError(f'unknown reset option(s) {sorted(options)}; use image, ee_xy, '
                             'task, instruction')
        if image is None:
            return self._real_start(seed, task)
        if ee is None:
            raise ValueError('reset from a frame needs options["ee_xy"] too (the pusher '
                             'position in metres, from ee_pose)')
        if isinstance(task, dict):
            task = Task.from_dict(task)
        if task is not None and not isinstance(task, Task):
            raise ValueError(f'options["task"] with an image is a Task or its dict, got '
                             f'{task!r}; a family name alone samples a real scene (no image)')
        return Start.from_frame(image, ee, task or Task(UNKNOWN, instruction or ''))

    def _real_start(self, seed: int | None, task) -> Start:
        """Return the first frame of a real tabletop episode (family ``task`` if named)."""
        from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
        env = TabletopEnv(TabletopConfig(image_size=self.runtime.image_size,
                                         control_hz=self.runtime.control_hz))
        if seed is None:
            seed = int(self.np_random.integers(2 ** 31))
        try:
            obs, _ = env.reset(seed=seed, options={'task': task} if isinstance(task, str)
                               else None)
            return Start(env.task.family, 0, seed, env.scene, env.task, obs['image'],
                         obs['ee_xy'])
        finally:
            env.close()

    def _observe(self, observations: Observations) -> dict:
        self._last = observations
        return {'image': observations.image[0], 'ee_xy': observations.ee_xy[0]}

    def _info(self, judged: dict) -> dict:
        return {'instruction': self.task.instruction, 't': self.t, **judged}
