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
A toy world whose optimum is known, for the RL tests: the state is the pusher position.

:class:`PusherWorld` is a world-model runtime (the contract of
:mod:`wm_ros.runtime.base`) whose state is the pusher alone: it moves by the clipped
command, and the frame is a black 16 x 16 image with the pusher as one white pixel.
:class:`RegionReward` is its judge: success when the pusher is at x >= 0.0625 m (image
column 10). The best policy pushes right at full speed; a random network mostly does not
get there.
"""

from __future__ import annotations

import numpy as np

from wm_ros.episodes.env import Start
from wm_ros.policy.learned import LearnedPolicy, PolicyConfig
from wm_ros.runtime.base import CheckedRuntime, State, StateSpec

SIZE, HALF, GOAL_COLUMN = 16, 0.25, 10      # column 10: x >= 0.0625 m
INSTRUCTION = 'push the pusher to the right'


def column(x: np.ndarray) -> np.ndarray:
    """Return the image column of board x (m)."""
    return np.clip(((x + HALF) / (2 * HALF) * SIZE).astype(int), 0, SIZE - 1)


def draw(ee: np.ndarray) -> np.ndarray:
    """Return uint8[B, 16, 16, 3]: black frames with each pusher as a white pixel."""
    images = np.zeros((len(ee), SIZE, SIZE, 3), np.uint8)
    rows = np.clip(((HALF - ee[:, 1]) / (2 * HALF) * SIZE).astype(int), 0, SIZE - 1)
    images[np.arange(len(ee)), rows, column(ee[:, 0])] = 255
    return images


class PusherWorld(CheckedRuntime):
    """The toy runtime (module docstring); ``spread``: what its Uncertainty reports."""

    image_size, control_hz, max_speed, backend = SIZE, 10.0, 0.2, 'numpy'
    state_spec = StateSpec({'ee': (2,)}, {'ee': 'float32'})

    def _encode(self, images, ee) -> State:
        return State({'ee': ee.copy()})

    def _step(self, state: State, action) -> State:
        ee = np.clip(state['ee'] + action / self.control_hz, -HALF, HALF)
        return State({'ee': ee.astype(np.float32)})

    def _decode(self, state: State):
        return draw(state['ee']), state['ee'].copy()


class UnsureWorld(PusherWorld):
    """The toy with the Uncertainty capability: unsure (1 m) left of x = 0."""

    def uncertainty(self, state: State) -> np.ndarray:
        """Return float32[B]: 1 where the pusher is left of the centre, else 0."""
        return np.where(state['ee'][:, 0] < 0, 1.0, 0.0).astype(np.float32)


class HallucinatingWorld(PusherWorld):
    """The toy drawing its pusher 0.12 m off, left or right by a sub-millimetre whim."""

    def _decode(self, state: State):
        ee = state['ee'].copy()
        ee[:, 0] += 0.12 * np.sign(np.sin(3e4 * ee[:, 0]))
        return draw(ee), ee


class RegionReward:
    """Judge of the toy: P(success) = 1 when the white pixel is in column 10 or right of it."""

    threshold = 0.5

    def score(self, images: np.ndarray, texts) -> np.ndarray:
        """Return float32[B]: 1.0 where the pusher's column is right of the goal's."""
        cols = np.argmax(images[..., 0].max(1), axis=1)
        return (cols >= GOAL_COLUMN).astype(np.float32)


def starts(n: int, seed: int = 0) -> list[Start]:
    """Return ``n`` starts: the pusher somewhere in the middle band, x in [-0.06, 0]."""
    rng = np.random.default_rng(seed)
    ee = np.stack([rng.uniform(-0.06, 0.0, n), rng.uniform(-0.1, 0.1, n)], 1)
    ee = ee.astype(np.float32)
    return [Start.from_frame(draw(e[None])[0], e, INSTRUCTION, k=k, seed=seed)
            for k, e in enumerate(ee)]


def policy_dir(out, seed: int = 0):
    """Write a random tiny policy for 16 x 16 frames into ``out``; return the path."""
    import torch
    torch.manual_seed(seed)
    cfg = PolicyConfig(image_size=SIZE, channels=(8, 8), keypoints=4, words=4, word_dim=8,
                       film_hidden=16, hidden=32, mirror=False)
    return LearnedPolicy(cfg).save(out, recipe={'name': 'toy'})
