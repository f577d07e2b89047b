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
Goal images for families that read object poses without names (``ObjectPoses``).

A toy pushing world: a pusher moved exactly by ``dt * action`` and two objects that are
pushed out of its way (kept ``R`` from it). Its frames carry the poses in their bytes;
its objects have no kinds, their yaw counts from how each looked when encoded, and
``turn`` relates two encodings, as the free-slot family's does. The goal objects must be
matched by pose, the pusher drawn to behind the object before any push changes the
goal distance, and the planner must push an object to its goal through sub-goals.
"""

import numpy as np
import pytest

from wm_ros.plan.goal import Goal, GoalImageCost, GoalWeights, mode_of
from wm_ros.plan.goal_planner import GoalPlanner, GoalPlannerConfig
from wm_ros.plan.solver import SolverConfig
from wm_ros.runtime.base import (CheckedRuntime, ObjectPoses, ObjectReadout, Objects, State,
                                 StateSpec)

S, R = 8, 0.03
PARKED = (0.2, 0.2, 0.0)            # an object kept out of the way
APPROACH = 0.3


def frame(objects):
    """Return uint8[S, S, 3] carrying two objects' x, y, yaw in its bytes."""
    img = np.zeros(S * S * 3, np.uint8)
    img[:24] = np.frombuffer(np.float32(objects).reshape(-1).tobytes(), np.uint8)
    return img.reshape(S, S, 3)


class PushWorld(CheckedRuntime):
    """Exact toy pushing dynamics; objects with poses but no kinds (ObjectPoses only)."""

    image_size, control_hz, max_speed, backend = S, 10.0, 0.2, 'toy'
    state_spec = StateSpec({'ee': (2,), 'pos': (2, 2), 'yaw': (2,), 'look': (2,)},
                           dict.fromkeys(('ee', 'pos', 'yaw', 'look'), 'float32'))

    def _encode(self, images, ee):
        poses = np.stack([np.frombuffer(i.reshape(-1)[:24].tobytes(), np.float32)
                          for i in images]).reshape(-1, 2, 3)
        return State({'ee': ee, 'pos': poses[..., :2].copy(), 'look': poses[..., 2].copy(),
                      'yaw': np.zeros((len(images), 2), np.float32)})

    def _step(self, state, action):
        ee = np.clip(state['ee'] + 0.1 * action, -0.25, 0.25)
        away = state['pos'] - ee[:, None]
        d = np.linalg.norm(away, axis=-1, keepdims=True)
        pos = np.where(d < R, ee[:, None] + R * away / np.maximum(d, 1e-9), state['pos'])
        return state.updated({'ee': ee, 'pos': pos.astype(np.float32)})

    def _decode(self, state):
        return np.zeros((state.batch, S, S, 3), np.uint8), state['ee']

    def objects(self, state):
        b = state.batch
        return Objects(('object',), np.zeros((b, 2), np.int64), np.ones((b, 2), bool),
                       state['pos'], state['yaw'])

    def turn(self, state, reference):
        mine = state['look'][0] + state['yaw'][0]
        theirs = reference['look'][0] + reference['yaw'][0]
        return ((theirs[None] - mine[:, None] + np.pi) % (2 * np.pi) - np.pi).astype(np.float32)

    def pusher(self, state):
        return state['ee']


def encode(world, objects, ee):
    return world.encode(frame(objects)[None], np.float32([ee]))


def test_goal_objects_are_matched_by_pose_and_their_turn_not_by_kind():
    world = PushWorld()
    assert isinstance(world, ObjectPoses) and not isinstance(world, ObjectReadout)
    assert mode_of(world) == 'poses'
    goal = Goal(world, frame([(0.1, 0.0, 1.0), (-0.1, 0.0, 0.0)])[None], np.float32([0, .2]))
    now = encode(world, [(-0.08, 0.01, 0.2), (0.09, 0.0, 0.5)], (0.0, -0.2))   # swapped
    bound = goal.bind(now)[0]
    np.testing.assert_array_equal(bound.slots, [1, 0])         # A is slot 1, B slot 0
    np.testing.assert_allclose(bound.yaw, [0.5, -0.2], atol=1e-6)   # in this encoding
    assert goal.distance(now)[0] > 0.02
    there = now.updated({'pos': np.float32([[[-0.1, 0.0], [0.1, 0.0]]]),
                         'yaw': np.float32([[-0.2, 0.5]])})
    assert goal.distance(there)[0] == pytest.approx(0.0, abs=1e-6)
    turned = there.updated({'yaw': np.float32([[-0.2, 0.5 + 1.0]])})   # 1 rad off
    assert goal.distance(turned)[0] == pytest.approx(goal.weights.yaw_radius, rel=1e-4)


def test_the_pusher_is_drawn_behind_the_object_while_the_goal_distance_is_flat():
    world = PushWorld()
    goal = Goal(world, frame([(0.1, 0.0, 0.0), PARKED])[None], np.float32([0.0, 0.2]))
    now = encode(world, [(0.0, 0.0, 0.0), PARKED], (-0.2, 0.0))
    toward, away = np.full((1, 2, 2), [0.2, 0.0]), np.full((1, 2, 2), [-0.2, 0.0])
    actions = np.concatenate([toward, np.zeros_like(toward), away]).astype(np.float32)
    flat = GoalImageCost(world, now, goal, repeat=2, weights=GoalWeights(approach=0.0))
    c = flat.cost(actions)
    assert c[0] == c[1] == c[2]                     # 4 steps cannot reach the object
    drawn = GoalImageCost(world, now, goal, repeat=2, weights=GoalWeights(approach=0.3))
    c = drawn.cost(actions)
    assert c[0] < c[1] < c[2]
    b = goal.bound[0]
    np.testing.assert_allclose(b.behind[0], [-1.0, 0.0])    # push it +x: come from -x
    assert b.needs.tolist() == [True, False]                # the parked one is at its goal


def test_the_planner_pushes_an_object_to_its_goal_through_sub_goals():
    world = PushWorld()
    weights = GoalWeights(path=0.3, approach=APPROACH, standoff=0.04, step_m=0.04)
    config = GoalPlannerConfig(SolverConfig(horizon=4, samples=64, elites=8, iterations=3),
                               weights, repeat=2, execute=1, fine_m=0.02, fine_repeat=1)
    planner = GoalPlanner(world, config, seed=3)
    target = (0.1, -0.05, 0.0)
    planner.start(frame([target, PARKED])[None], np.float32([[0.2, -0.2]]))
    objects, ee = [(0.0, 0.0, 0.0), PARKED], np.float32([-0.22, 0.16])   # 8 steps: 0.16 m
    first = None
    for _ in range(120):
        action = planner.act(frame(objects), ee)
        state = world.step(encode(world, objects, ee), action[None, None])
        ee = state['ee'][0]
        objects = [(*state['pos'][0, k], 0.0) for k in range(2)]
        first = first or planner.goal.bound[0]
    assert not first.at_goal and np.linalg.norm(first.pos[0]) == pytest.approx(0.04)
    assert np.linalg.norm(np.subtract(objects[0][:2], target[:2])) < 0.01, objects
    assert planner.fine_plans > 0               # the last centimetres: finer actions
    np.testing.assert_allclose(objects[1], PARKED, atol=1e-6)     # not pushed


def test_a_large_turn_is_made_first_in_place_and_a_small_one_with_the_move():
    world = PushWorld()
    weights = GoalWeights(yaw_radius=0.05, step_m=0.04, step_yaw=0.5, turn_first=0.7,
                          turn_yaw_radius=0.15)
    goal = Goal(world, frame([(0.1, 0.0, 2.0), PARKED])[None], np.float32([0, .2]), weights)
    b = goal.bind(encode(world, [(0.0, 0.0, 0.0), PARKED], (-0.2, 0.0)))[0]
    np.testing.assert_allclose(b.pos[0], [0.0, 0.0], atol=1e-9)    # stays where it is
    assert b.yaw[0] == pytest.approx(0.5) and b.turning[0] and not b.at_goal
    assert b.yaw_w[0] == pytest.approx(0.15)
    assert not b.behind[0].any()            # the pusher is drawn near it, not behind it
    together = Goal(world, frame([(0.1, 0.0, 2.0), PARKED])[None], np.float32([0, .2]),
                    GoalWeights(yaw_radius=0.05, step_m=0.04, step_yaw=0.5))
    b = together.bind(encode(world, [(0.0, 0.0, 0.0), PARKED], (-0.2, 0.0)))[0]
    assert b.pos[0][0] > 0.01 and not b.turning[0]              # moves while it turns
    b = goal.bind(encode(world, [(0.0, 0.0, 1.6), PARKED], (-0.2, 0.0)))[0]
    assert not b.turning[0] and b.pos[0][0] > 0.01              # 0.4 rad left: moves


def test_yaw_weighs_more_near_the_goal_position():
    world = PushWorld()
    weights = GoalWeights(yaw_radius=0.05, step_m=0.04, near_yaw_radius=0.2)
    goal = Goal(world, frame([(0.1, 0.0, 0.3), PARKED])[None], np.float32([0, .2]), weights)
    far = goal.bind(encode(world, [(0.0, 0.0, 0.0), PARKED], (-0.2, 0.0)))[0]
    near = goal.bind(encode(world, [(0.09, 0.0, 0.0), PARKED], (-0.2, 0.0)))[0]
    assert far.yaw_w[0] == pytest.approx(0.05) and near.yaw_w[0] == pytest.approx(0.2)


def test_the_turn_is_the_shorter_way_and_keeps_its_direction_past_pi():
    world = PushWorld()
    weights = GoalWeights(yaw_radius=0.1, step_yaw=0.5)
    goal = Goal(world, frame([(0.0, 0.0, 2.8), PARKED])[None], np.float32([0, .2]), weights)
    now = encode(world, [(0.0, 0.0, -0.2), PARKED], (-0.2, 0.0))   # 3.0 rad to go, +
    b = goal.bind(now)[0]
    assert b.yaw[0] == pytest.approx(0.5) and b.turn_sign[0] == 1
    plus = now.updated({'yaw': np.float32([[0.5, 0.0]])})
    minus = now.updated({'yaw': np.float32([[-0.5, 0.0]])})
    assert goal.distance(plus)[0] < goal.distance(now)[0] < goal.distance(minus)[0]
    # 3.3 rad + is 2.98 rad the other way: the shorter turn flips side, the plan does not
    past = encode(world, [(0.0, 0.0, -0.5), PARKED], (-0.2, 0.0))
    assert goal.bind(past)[0].yaw[0] == pytest.approx(0.5)       # still +
    fresh = Goal(world, frame([(0.0, 0.0, 2.8), PARKED])[None], np.float32([0, .2]), weights)
    assert fresh.bind(past)[0].yaw[0] == pytest.approx(-0.5)    # no history: the shorter
