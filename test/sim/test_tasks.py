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

"""Success checks of every task family on hand-built states (true and false cases)."""

import numpy as np
import pytest

from wm_ros.sim.scene import Block, Scene
from wm_ros.sim.tasks import (FAMILIES, PHRASINGS, REGIONS, sample_episode, Task, TaskError,
                              UNKNOWN)

HALF = 0.25
SCENE = Scene((Block('red', 'cube', 0, 0), Block('blue', 'moon', 0, 0),
               Block('red', 'star', 0, 0), Block('blue', 'cylinder', 0, 0)))


def check(task, xy):
    return task.success(SCENE, np.array(xy, float), HALF)


def test_block_to_region():
    t = Task('block_to_region', 'push the red cube to the top left corner', ('red cube',),
             'top left corner')
    corner = np.array(REGIONS['top left corner']) * HALF       # (-0.17, +0.17): image top-left
    assert corner[0] < 0 < corner[1]
    assert check(t, [corner + 0.02, [0, 0], [0.1, 0.1], [-0.1, -0.1]])
    assert not check(t, [[0.17, 0.17], [0, 0], [0.1, 0.1], [-0.1, -0.1]])   # wrong corner
    assert not check(t, [corner + [0.08, -0.02], [0, 0], [0.1, 0.1], [-0.1, -0.1]])


def test_block_to_block():
    t = Task('block_to_block', 'put the red cube next to the blue moon', ('red cube', 'blue moon'))
    assert check(t, [[0, 0], [0.07, 0], [0.2, 0.2], [-0.2, -0.2]])
    assert not check(t, [[0, 0], [0.12, 0], [0.2, 0.2], [-0.2, -0.2]])


def test_separate():
    t = Task('separate', 'separate the red cube and the blue moon', ('red cube', 'blue moon'))
    assert check(t, [[-0.1, 0], [0.11, 0], [0.2, 0.2], [-0.2, -0.2]])
    assert not check(t, [[-0.05, 0], [0.05, 0], [0.2, 0.2], [-0.2, -0.2]])


def test_group_by_colour():
    t = Task('group_by_colour', 'group the blocks by colour')
    reds, blues = [[-0.15, 0], [-0.08, 0]], [[0.1, 0], [0.1, 0.07]]
    assert check(t, [reds[0], blues[0], reds[1], blues[1]])
    assert not check(t, [reds[0], reds[1], blues[0], blues[1]])          # mixed pairs
    assert not check(t, [[-0.15, 0], [0.0, 0.0], [-0.08, 0], [0.0, 0.07]])  # groups too close


def test_make_line():
    t = Task('make_line', 'arrange the blocks in a line')
    assert check(t, [[-0.15, 0.05], [-0.05, 0.06], [0.05, 0.04], [0.15, 0.05]])
    assert check(t, [[0.1, -0.15], [0.11, -0.05], [0.1, 0.05], [0.09, 0.15]])   # vertical line
    assert not check(t, [[-0.15, 0.05], [-0.05, 0.12], [0.05, 0.04], [0.15, 0.05]])


def test_unknown_family_and_region_and_unknown_success():
    with pytest.raises(TaskError, match='unknown task'):
        Task('juggle', 'juggle')
    with pytest.raises(TaskError, match='unknown region'):
        Task('block_to_region', 'x', ('red cube',), 'moon base')
    with pytest.raises(TaskError, match='unknown family'):
        Task(UNKNOWN, 'do it').success(SCENE, np.zeros((4, 2)), HALF)


@pytest.mark.parametrize('family', FAMILIES)
def test_sampled_episodes_are_unsolved_and_phrased(family):
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(20):
        scene, task = sample_episode(family, rng, HALF, 4)
        xy = np.array([[b.x, b.y] for b in scene.blocks])
        assert not task.success(scene, xy, HALF)
        assert np.all(np.abs(xy) < HALF)
        seen.add(task.instruction.split(' the ')[0])
        for name in task.blocks:
            assert name in task.instruction
    assert len(seen) >= 2 or len(PHRASINGS[family]) == 1     # several phrasings in use


def test_margin_is_how_far_inside_the_check_in_metres():
    names = SCENE.names
    far = [[0.2, 0.2], [-0.2, -0.2]]
    near = Task('block_to_block', 'put the red cube next to the blue moon',
                ('red cube', 'blue moon'))
    assert near.margin(names, [[0, 0], [0.07, 0]] + far, HALF) == pytest.approx(0.085 - 0.07)
    assert near.margin(names, [[0, 0], [0.10, 0]] + far, HALF) == pytest.approx(0.085 - 0.10)
    apart = Task('separate', 'separate the red cube and the blue moon', ('red cube', 'blue moon'))
    assert apart.margin(names, [[-0.1, 0], [0.11, 0]] + far, HALF) == pytest.approx(0.01)
    corner = Task('block_to_region', 'push the red cube to the top left corner', ('red cube',),
                  'top left corner')
    c = np.array(REGIONS['top left corner']) * HALF
    assert corner.margin(names, [c + [0.03, 0], [0, 0]] + far, HALF) == pytest.approx(
        0.3 * HALF - 0.03)
    rng = np.random.default_rng(3)
    for task in (near, apart, corner):                  # the sign is the success check
        for _ in range(200):
            xy = rng.uniform(-HALF, HALF, (4, 2))
            assert (task.margin(names, xy, HALF) >= 0) == check(task, xy)
    group = Task('group_by_colour', 'group the blocks by colour')
    assert np.isnan(group.margin(names, far + far, HALF))
    assert np.isnan(near.margin(['red cube', 'red star'], [[0, 0], [0.07, 0]], HALF))
