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
The closed-loop check's imagined side: the policy in imagination, and open-loop replay.

Both start from the real episodes' first frames and are judged by each row's
:class:`~wm_ros.reward.task_judge.TaskJudge` on the imagined objects. :func:`imagine` runs
the policy through the episode driver on :class:`~wm_ros.episodes.imagination.
ImaginationEnv` (its own instance per row, with the true scene and task, as on the
robot) until the judge says success or the step limit; :func:`replay` predicts each
episode's recorded actions open loop with the runtime's ``rollout``.
"""

from __future__ import annotations

import numpy as np

from wm_ros.episodes.driver import run_episodes
from wm_ros.episodes.env import Limits
from wm_ros.episodes.imagination import ImaginationEnv
from wm_ros.evaluate.closed_loop.tabletop import BOARD_HALF, RealEpisode
from wm_ros.policy import registry
from wm_ros.reward.task_judge import TaskJudge
from wm_ros.runtime.base import WorldModelRuntime


def imagine(runtime: WorldModelRuntime, episodes: list[RealEpisode], policy: str,
            limits: Limits) -> list[dict]:
    """Roll ``policy`` in imagination from each episode's first frame, batched; see above."""
    results = run_episodes(ImaginationEnv(runtime, BOARD_HALF),
                           registry.make(policy, registry.PolicyContext.of(runtime, BOARD_HALF)),
                           [e.start for e in episodes], Limits(limits.max_steps,
                                                               limits.max_steps_long))
    return [{'success': r.success, 'steps': r.steps, 'first_frame': r.start_info}
            for r in results]


def replay(runtime: WorldModelRuntime, episodes: list[RealEpisode]) -> list[tuple]:
    """
    Replay each episode's real actions open loop, batched, in one ``runtime.rollout``.

    Return per episode: the judge's verdict at its last step, success at any step, the
    median distance (cm) of the task's blocks (all blocks for group/line) from where they
    really ended, at the last step, and the verdict at the real first-success step.

    Not a policy episode but the model's prediction of a fixed action sequence, as the
    planner's rollouts are: it uses the runtime's ``rollout`` verb (all steps in one
    call), which a step-at-a-time driver would change numerically (a few 1e-8 m after two
    steps, enough to move a contact-rich replay's verdict).
    """
    state = runtime.encode(np.stack([e.start.image for e in episodes]),
                           np.stack([e.start.ee for e in episodes]))
    judges = [TaskJudge(e.start.task, runtime.kinds, BOARD_HALF) for e in episodes]
    objects = runtime.objects(state)
    for row, judge in enumerate(judges):
        judge.start(objects, row)
    length = np.array([len(e.actions) for e in episodes])
    actions = np.zeros((len(episodes), length.max(), 2), np.float32)
    for row, e in enumerate(episodes):
        actions[row, :len(e.actions)] = e.actions
    decided = np.array([e.decided or len(e.actions) for e in episodes])
    last, ever = np.zeros(len(episodes), bool), np.zeros(len(episodes), bool)
    at_success = np.zeros(len(episodes), bool)
    error = np.full(len(episodes), np.nan)
    for t, s in enumerate(runtime.rollout(state, actions), 1):
        objects = runtime.objects(s)
        for row in np.flatnonzero(length >= t):
            verdict = judges[row].judge(objects, row)
            ever[row] |= verdict['success']
            if decided[row] == t:
                at_success[row] = verdict['success']
            if length[row] == t:
                last[row] = verdict['success']
                error[row] = _end_error(episodes[row], judges[row].names, verdict)
    return [(bool(a), bool(b), float(c), bool(d))
            for a, b, c, d in zip(last, ever, error, at_success)]


def _end_error(e: RealEpisode, names: list[str], verdict: dict) -> float:
    """Median distance (cm) of the imagined task blocks from their real final positions."""
    scene = e.start.scene
    wanted = e.start.task.blocks or tuple(scene.names)
    xy = verdict.get('block_xy', np.zeros((0, 2)))
    d = [np.linalg.norm(xy[i] - e.final_xy[scene.index(n)])
         for i, n in enumerate(names[:len(xy)]) if n in wanted]
    return 100 * float(np.median(d)) if d else float('nan')
