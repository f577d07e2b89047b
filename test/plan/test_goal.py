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
Goal-image costs and the goal planner on toy world models with a known optimum.

The toy runtime's state is the pusher position, stepped exactly by ``dt * action``; its
embedding is the position itself (x 10), or its object read-out is one object at the
pusher. The goal image shows the pusher somewhere else: the cost must fall toward it and
the planner must drive there.
"""

import numpy as np
import pytest

from wm_ros.plan.goal import Goal, GoalError, GoalImageCost, GoalWeights
from wm_ros.plan.goal_planner import GoalPlanner, GoalPlannerConfig, GoalPolicy, load_config
from wm_ros.plan.solver import SolverConfig
from wm_ros.policy.base import Observations
from wm_ros.runtime.base import (CheckedRuntime, Embedding, ObjectReadout, Objects, State,
                                 StateSpec)

GOAL = np.float32([0.12, -0.05])
S = 8


class Pusher(CheckedRuntime):
    """A world model whose state is the pusher position (exact dynamics); no capability."""

    image_size, control_hz, max_speed, backend = S, 10.0, 0.2, 'toy'
    state_spec = StateSpec({'ee': (2,)}, {'ee': 'float32'})

    def _encode(self, images, ee):
        return State({'ee': ee})

    def _step(self, state, action):
        return State({'ee': np.clip(state['ee'] + 0.1 * action, -0.25, 0.25)})

    def _decode(self, state):
        return np.zeros((state.batch, S, S, 3), np.uint8), state['ee']


class EmbeddedPusher(Pusher):
    """The toy with an embedding: the position, x 10."""

    embedding_dim = 2

    def embedding(self, state):
        return 10.0 * state['ee'].astype(np.float32)

    def embed(self, images, ee):
        return self.embedding(self.encode(images, ee))


class ObjectPusher(Pusher):
    """The toy with an object read-out: one 'dot' where the pusher is."""

    kinds = ('dot',)

    def objects(self, state):
        b = state.batch
        return Objects(self.kinds, np.zeros((b, 1), np.int64), np.ones((b, 1), bool),
                       state['ee'][:, None].astype(np.float32), np.zeros((b, 1), np.float32))


def image(n=1):
    return np.zeros((n, S, S, 3), np.uint8)


@pytest.mark.parametrize('runtime', [EmbeddedPusher(), ObjectPusher()],
                         ids=['embedding', 'objects'])
def test_the_cost_is_lower_toward_the_goal_image_than_away(runtime):
    assert isinstance(runtime, (Embedding, ObjectReadout))
    goal = Goal(runtime, image(), GOAL)
    state = runtime.encode(image(), np.zeros((1, 2), np.float32))
    cost = GoalImageCost(runtime, state, goal, repeat=2, weights=GoalWeights(path=0.5))
    toward = np.tile(0.2 * GOAL / np.abs(GOAL).max(), (1, 3, 1))            # reaches it
    away = -toward
    still = np.zeros_like(toward)
    c = cost.cost(np.concatenate([toward, still, away]).astype(np.float32))
    assert c[0] < c[1] < c[2]
    d = cost.distances(toward.astype(np.float32))[0]
    assert d[-1] < d[0] and d[-1] < 0.05 * c[1]                # at the goal after 6 steps


def test_the_nearest_of_several_goal_images_counts():
    runtime = EmbeddedPusher()
    goal = Goal(runtime, image(2), np.float32([[0.1, 0.0], [-0.1, 0.0]]))
    state = runtime.encode(image(2), np.float32([[0.1, 0.0], [-0.1, 0.0]]))
    np.testing.assert_allclose(goal.distance(state), 0.0, atol=1e-9)


@pytest.mark.parametrize('runtime', [EmbeddedPusher(), ObjectPusher()],
                         ids=['embedding', 'objects'])
def test_the_planner_drives_the_pusher_to_the_goal_image(runtime):
    config = GoalPlannerConfig(SolverConfig(horizon=4, samples=64, elites=8, iterations=3),
                               GoalWeights(path=0.3), repeat=2, execute=1)
    planner = GoalPlanner(runtime, config, seed=1)
    planner.start(image(), GOAL)
    ee = np.float32([-0.1, 0.1])
    for _ in range(30):
        ee = np.clip(ee + 0.1 * planner.act(image()[0], ee), -0.25, 0.25)
    assert np.linalg.norm(ee - GOAL) < 0.02, ee
    assert planner.actions == 30 and len(planner.plan_seconds) == 15     # one plan per 2


def test_the_goal_policy_plans_every_row_toward_its_goal():
    class Episode:

        def __init__(self, seed):
            self.policy_seed = seed
    runtime = EmbeddedPusher()
    policy = GoalPolicy(runtime, load_config('tiny'), lambda e: (image(), GOAL))
    policy.reset([Episode(1), Episode(2)])
    ee = np.float32([[0.0, 0.0], [0.2, 0.1]])
    for t in range(12):
        obs = Observations(image(2), ee, ('', ''), t, np.arange(2))
        ee = np.clip(ee + 0.1 * policy.act(obs), -0.25, 0.25)
    assert np.all(np.linalg.norm(ee - GOAL, axis=1) < 0.06), ee


def test_a_goal_image_of_the_wrong_size_is_refused_with_the_size_to_use():
    with pytest.raises(GoalError, match='8x8 rgb8'):
        Goal(EmbeddedPusher(), np.zeros((1, 16, 16, 3), np.uint8), GOAL)
    with pytest.raises(GoalError, match='8x8 rgb8'):
        Goal(EmbeddedPusher(), np.zeros((1, S, S, 3), np.float32), GOAL)
    with pytest.raises(GoalError, match='2 goal images but 1'):
        Goal(EmbeddedPusher(), image(2), GOAL)


def test_a_model_without_an_embedding_or_object_read_out_is_refused():
    for make in (lambda: Goal(Pusher(), image(), GOAL), lambda: GoalPlanner(Pusher()),
                 lambda: GoalPolicy(Pusher(), GoalPlannerConfig(), lambda e: None)):
        with pytest.raises(GoalError, match='Embedding, ObjectReadout.*jepa'):
            make()
    planner = GoalPlanner(EmbeddedPusher())
    with pytest.raises(RuntimeError, match='start'):
        planner.act(image()[0], GOAL)
