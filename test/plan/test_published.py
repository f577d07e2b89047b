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
The published planners' PushT criterion (DINO-WM's ``eval_state``) on states.

Success: the 4-vector (pusher x, y, the T body's x, y) within 20 of gym-pusht's 512
workspace units (1.95 cm on the 0.5 m board) and the T's angle within 20 degrees.
"""

import numpy as np
import pytest

from wm_ros.evaluate.pusht_goals import END_ON, GoalTasks, published
from wm_ros.sim.pusht import goal_state, PushTConfig

CONFIG = PushTConfig()
UNIT = 0.5 / 512            # metres per workspace unit


def goal():
    return np.array([0.05, -0.02, *goal_state(CONFIG)])


def test_a_state_within_1_95_cm_and_20_degrees_succeeds():
    g = goal()
    assert published(g, g, CONFIG) == (True, 0.0, 0.0)
    near = g + [0.0, 0.0, 15 * UNIT, 0.0, np.radians(19)]      # T centroid moved, turned
    ok, units, turn = published(near, g, CONFIG)
    assert ok and turn == pytest.approx(19.0, abs=1e-3)
    pusher = g + [12 * UNIT, 12 * UNIT, 0.0, 0.0, 0.0]          # 17 units: the pusher counts
    assert published(pusher, g, CONFIG)[:2] == (True, pytest.approx(np.hypot(12, 12)))


def test_a_state_beyond_20_units_or_20_degrees_fails():
    g = goal()
    far = g + [0.0, 0.0, 0.0, 21 * UNIT, 0.0]
    assert published(far, g, CONFIG)[:2] == (False, pytest.approx(21.0))
    assert not published(g + [15 * UNIT, 15 * UNIT, 0.0, 0.0, 0.0], g, CONFIG)[0]   # 21.2
    assert not published(g + [0.0, 0.0, 0.0, 0.0, np.radians(21)], g, CONFIG)[0]
    wrapped = g.copy()
    wrapped[4] += 2 * np.pi - np.radians(5)             # 355 degrees is 5 degrees
    assert published(wrapped, g, CONFIG)[0]


def test_the_t_body_origin_not_its_centroid_is_compared_as_gym_pusht_holds_it():
    """Turning the T 15 degrees about its centroid moves gym-pusht's body origin ~10.6 units."""
    g = goal()
    turned = g + [0.0, 0.0, 0.0, 0.0, np.radians(15)]
    ok, units, _ = published(turned, g, CONFIG)
    assert ok and units == pytest.approx(2 * 40.71 * np.sin(np.radians(7.5)), abs=0.05)
    assert published(turned, g, CONFIG, pusher=False)[1] == pytest.approx(units)
    assert published(g + [0.3, 0.0, 0.0, 0.0, 0.0], g, CONFIG, pusher=False)[0]


def test_an_unknown_end_verdict_is_refused_with_the_choices():
    assert END_ON == ('coverage', 'published', 'either', 'none')
    with pytest.raises(ValueError, match='coverage, published, either, none'):
        GoalTasks(CONFIG, [], end_on='reward')
