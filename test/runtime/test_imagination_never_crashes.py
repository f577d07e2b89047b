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
Imagination never crashes on what the encoder reads (issue 8).

Random and adversarial first frames (noise, flat colours, many copies of one kind, no
blocks, painted-over and channel-swapped real frames) with tasks naming any block of the
vocabulary go through ``ImaginedEnv.reset`` and a few steps: nothing may raise, success
is always a bool, and a named block the model could not find is reported in ``info``.
"""

from pathlib import Path

import numpy as np
import pytest

from wm_ros.episodes.imagined_env import ImaginedEnv
from wm_ros.runtime import load_runtime
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
from wm_ros.sim.tasks import FAMILIES, REGIONS, Task

SHIPPED = Path(__file__).resolve().parents[2] / 'wm_ros' / 'models' / 'world_model'
FRAMES = 10_000


def _disc(image, rng, rgb, radius):
    s = image.shape[0]
    cy, cx = rng.uniform(0, s, 2)
    yy, xx = np.mgrid[:s, :s]
    image[(yy - cy) ** 2 + (xx - cx) ** 2 < radius ** 2] = rgb


def adversarial_frame(rng: np.random.Generator, real: np.ndarray, kinds_rgb: list) -> np.ndarray:
    """Return one hostile uint8[64, 64, 3] frame of a randomly chosen kind."""
    s = real.shape[1]
    kind = rng.integers(8)
    if kind == 0:
        return rng.integers(0, 256, (s, s, 3), dtype=np.uint8)           # noise
    if kind == 1:
        return np.full((s, s, 3), rng.integers(0, 256, 3), np.uint8)     # flat colour
    frame = real[rng.integers(len(real))].copy()
    if kind == 2:                                                       # one kind, many times
        rgb = kinds_rgb[rng.integers(len(kinds_rgb))]
        for _ in range(rng.integers(2, 12)):
            _disc(frame, rng, rgb, rng.uniform(2, 6))
    elif kind == 3:                                                     # blocks painted over
        frame[:] = frame[0, 0]
    elif kind == 4:
        frame = frame[..., rng.permutation(3)]                          # channels swapped
    elif kind == 5:
        frame = 255 - frame                                             # inverted
    elif kind == 6:                                                     # random colour blobs
        for _ in range(rng.integers(1, 20)):
            _disc(frame, rng, rng.integers(0, 256, 3), rng.uniform(1, 10))
    else:                                                               # stripes / tiles
        frame = np.roll(np.tile(frame[::4, ::4], (4, 4, 1)), rng.integers(s), axis=1)
    return np.ascontiguousarray(frame, np.uint8)


def random_task(rng: np.random.Generator, kinds: tuple[str, ...]) -> Task:
    family = FAMILIES[rng.integers(len(FAMILIES))]
    names = tuple(kinds[i] for i in rng.choice(len(kinds), 2, replace=False))
    if family == 'block_to_region':
        return Task(family, 'push it', names[:1], list(REGIONS)[rng.integers(len(REGIONS))])
    if family in ('block_to_block', 'separate'):
        return Task(family, 'do it', names)
    return Task(family, 'arrange them')


@pytest.fixture(scope='module')
def real_frames():
    env = TabletopEnv(TabletopConfig())
    try:
        return np.stack([env.reset(seed=s)[0]['image'] for s in range(8)])
    finally:
        env.close()


def test_ten_thousand_hostile_frames_never_crash_the_imagination(real_frames):
    runtime = load_runtime(SHIPPED, 'onnxruntime', threads=1)
    env = ImaginedEnv(runtime, max_steps=3)
    kinds_rgb = [np.uint8(np.round(np.array(rgb) * 255)) for rgb in
                 runtime.model_world_rgb()] if hasattr(runtime, 'model_world_rgb') else [
        np.uint8(c) for c in ((219, 31, 31), (26, 166, 51), (31, 77, 235), (242, 209, 13),
                              (148, 46, 199), (255, 128, 13))]
    rng = np.random.default_rng(0)
    reported, judged = 0, 0
    for k in range(FRAMES):
        frame = adversarial_frame(rng, real_frames, kinds_rgb)
        task = random_task(rng, runtime.kinds)
        ee = rng.uniform(-0.22, 0.22, 2).astype(np.float32)
        obs, info = env.reset(options={'image': frame, 'ee_xy': ee, 'task': task})
        assert isinstance(info['success'], bool), info
        reported += bool({'missing', 'misread', 'hallucination'} & set(info))
        if k % 10 == 0:                        # every tenth episode also steps
            for _ in range(3):
                obs, _, terminated, truncated, info = env.step(rng.uniform(-0.3, 0.3, 2))
                assert isinstance(info['success'], bool) and obs['image'].shape == (64, 64, 3)
        judged += 1
    assert judged == FRAMES
    assert reported > FRAMES // 2     # most hostile frames lack the named blocks: said so


def test_a_misread_block_is_found_by_best_match_and_reported():
    from wm_ros.reward.matching import match_names, unique_names
    kinds = ['red cylinder', 'red cylinder', 'blue star', 'green moon']
    present = np.array([True, True, True, False])
    match = match_names(['red cube', 'blue star', 'green moon'], kinds, present)
    assert match.slot['red cube'] in (0, 1) and match.slot['blue star'] == 2
    assert match.misread == {'red cube': 'red cylinder'}
    assert match.missing == ['green moon']                   # its slot is not present
    # with where it was last seen, identity follows position, not the (mis)read kind
    xy = np.array([[0.1, 0.1], [-0.1, -0.1], [0.0, 0.2], [0, 0]])
    match = match_names(['red cube'], kinds, present, xy, {'red cube': np.array([-0.1, -0.1])})
    assert match.slot == {'red cube': 1}
    names = unique_names(['red cylinder', 'red cylinder', 'blue star'], {0: 'red cube'},
                         ('red cube', 'red cylinder', 'red star', 'blue star'))
    assert names == ['red cube', 'red cylinder', 'blue star'] and len(set(names)) == 3
