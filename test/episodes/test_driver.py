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

"""The episode driver on toy environments and policies: limits, per-row ends, judges, callbacks."""

import numpy as np
import pytest

from wm_ros.episodes.driver import Judging, PartClock, run_episodes
from wm_ros.episodes.env import Limits, running_subset, Start
from wm_ros.policy.base import Grouped, Observations
from wm_ros.sim.tasks import Task

SHORT = Task('block_to_region', 'push the red cube to the center')
LONG = Task('group_by_colour', 'group the blocks by colour')


def _starts(*tasks):
    return [Start(t.family, k, 100 + k, None, t) for k, t in enumerate(tasks)]


class ToyEnv:
    """Row r's own verdict turns true from step ``succeed_at[r]`` (0: never); it logs steps."""

    can_judge = True

    def __init__(self, succeed_at, done_at=None):
        self.succeed_at = np.asarray(succeed_at)
        self.done_at = np.zeros_like(self.succeed_at) if done_at is None else np.asarray(done_at)
        self.stepped: list[list[int]] = []

    def reset(self, starts):
        self.running, self.t = np.arange(len(starts)), 0
        self.instructions = [s.task.instruction for s in starts]
        return self._obs(), [{'row': r} for r in self.running]

    def step(self, actions, rows=None):
        rows = self.running if rows is None else np.asarray(rows)
        running_subset(self.running, rows)
        assert actions.shape == (len(rows), 2) and actions.dtype == np.float32
        self.running, self.t = rows, self.t + 1
        self.stepped.append(rows.tolist())
        s = self.succeed_at[rows]
        success = (s > 0) & (self.t >= s)
        done = self.done_at[rows] == self.t
        return self._obs(), done, success, [{'t': self.t, 'row': int(r)} for r in rows]

    def close(self):
        pass

    def _obs(self):
        image = np.zeros((len(self.running), 2, 2, 3), np.uint8) + (self.running[:, None, None,
                                                                                 None] + self.t)
        return Observations(image.astype(np.uint8), np.zeros((len(self.running), 2), np.float32),
                            tuple(self.instructions[r] for r in self.running), self.t,
                            self.running.copy())


class Recorder:
    """A batch policy that records which rows it was shown and answers their row numbers."""

    def __init__(self):
        self.shown, self.episodes = [], None

    def reset(self, episodes):
        self.episodes = list(episodes)

    def act(self, observations):
        self.shown.append(observations.rows.tolist())
        return np.repeat(observations.rows[:, None].astype(np.float32), 2, 1)


def test_each_row_ends_at_its_own_success_and_is_never_stepped_again():
    env, policy = ToyEnv([3, 0, 1, 5]), Recorder()
    out = run_episodes(env, policy, _starts(SHORT, SHORT, SHORT, SHORT), Limits(6, 6))
    assert [r.success for r in out] == [True, False, True, True]
    assert [r.steps for r in out] == [3, 6, 1, 5]
    assert env.stepped == [[0, 1, 2, 3], [0, 1, 3], [0, 1, 3], [1, 3], [1, 3], [1]]
    assert policy.shown == env.stepped            # the policy acts on the running rows only
    assert [r.env_success for r in out] == [True, False, True, True]
    assert all(r.judged is None and r.frames is None for r in out)


def test_limits_are_per_task_family_and_settle_goes_on_after_a_success():
    env = ToyEnv([0, 0, 2])
    out = run_episodes(env, Recorder(), _starts(SHORT, LONG, SHORT), Limits(4, 7, settle=3))
    assert [(r.steps, r.settle_steps) for r in out] == [(4, 0), (7, 0), (2, 3)]
    assert [r.success for r in out] == [False, False, True]
    assert out[2].final_success and not out[0].final_success
    assert sum(2 in rows for rows in env.stepped) == 5          # 2 decided + 3 settling
    with pytest.raises(ValueError, match='settle'):
        Limits(settle=-1)


def test_the_environment_can_end_a_row_and_results_keep_the_start_order():
    env = ToyEnv([0, 0, 0], done_at=[0, 2, 0])
    out = run_episodes(env, Recorder(), _starts(SHORT, SHORT, SHORT), Limits(5, 5))
    assert [r.steps for r in out] == [5, 2, 5] and not any(r.success for r in out)
    assert out[1].info == {'t': 2, 'row': 1} and out[1].start_info == {'row': 1}


def test_callbacks_see_every_step_and_every_episode_once():
    steps, ended = [], {}
    out = run_episodes(ToyEnv([2, 0]), Recorder(), _starts(SHORT, SHORT), Limits(3, 3),
                       on_step=lambda t, obs, act, ok, infos: steps.append(
                           (t, obs.rows.tolist(), act[:, 0].tolist(), ok.tolist())),
                       on_episode=lambda row, result: ended.setdefault(row, result))
    assert steps == [(1, [0, 1], [0, 1], [False, False]), (2, [0, 1], [0, 1], [True, False]),
                     (3, [1], [1], [False])]
    assert ended == {0: out[0], 1: out[1]}


class Score:
    """A reward model that passes row r's frame when ``passes(r, t)``; counts its calls."""

    threshold = 0.5

    def __init__(self, passes):
        self.passes, self.calls = passes, []

    def score(self, images, texts):
        self.calls.append(len(images))
        return np.array([1.0 if self.passes(int(v)) else 0.0 for v in images[:, 0, 0, 0]])


def test_a_judge_ends_rows_on_hold_frames_in_a_row_and_its_verdict_is_recorded():
    # the toy's pixel is row + t; pass every even pixel: row 0 passes at t 2, 4...; row 1 at 1, 3
    judge = Score(lambda v: v % 2 == 0)
    out = run_episodes(ToyEnv([0, 0]), Recorder(), _starts(SHORT, SHORT), Limits(6, 6),
                       Judging(judge, hold=1), stop_on_success=False)
    assert [(r.success, r.steps, r.judged, r.passed_run) for r in out] == \
        [(True, 2, True, 1), (True, 1, True, 1)]
    held = run_episodes(ToyEnv([0, 0]), Recorder(), _starts(SHORT, SHORT), Limits(6, 6),
                        Judging(Score(lambda v: v % 2 == 0), hold=2), stop_on_success=False)
    assert [(r.success, r.steps, r.passed_run) for r in held] == [(False, 6, 1), (False, 6, 1)]
    watched = run_episodes(ToyEnv([4, 0]), Recorder(), _starts(SHORT, SHORT), Limits(6, 6),
                           Judging(Score(lambda v: True), ends=False))
    assert [(r.success, r.steps, r.judged) for r in watched] == [(True, 4, True),
                                                                 (False, 6, True)]
    with pytest.raises(ValueError, match='hold'):
        Judging(judge, hold=0)


def test_a_judge_at_the_end_scores_each_episode_once_and_frames_come_back_when_asked():
    judge = Score(lambda v: v == 1)                 # row 0's pixel at t 1 (not the first)
    out = run_episodes(ToyEnv([0, 0, 1]), Recorder(), _starts(SHORT, SHORT, SHORT),
                       Limits(2, 2), Judging(judge, ends=False, at_end=True), keep_frames={1})
    assert [r.judged for r in out] == [True, False, False]    # row 1 showed 1 first only
    assert sorted(judge.calls) == [1, 2, 2]               # frames after the first, per episode
    assert out[0].frames is None and out[1].frames.shape == (3, 2, 2, 3)
    assert out[1].frames[:, 0, 0, 0].tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match='at_end'):
        Judging(judge, at_end=True)


def test_grouped_policies_each_act_on_their_own_running_rows():
    a, b = Recorder(), Recorder()
    env = ToyEnv([1, 0, 0, 2])
    clock = PartClock()
    run_episodes(env, Grouped([(a, 2), (b, 2)]), _starts(SHORT, SHORT, SHORT, SHORT),
                 Limits(3, 3), clock=clock)
    assert a.shown == [[0, 1], [1], [1]] and b.shown == [[0, 1], [0, 1], [0]]
    assert len(a.episodes) == len(b.episodes) == 2 and clock.seconds['policy'] > 0


def test_a_finished_row_cannot_be_stepped_again():
    env = ToyEnv([0, 0, 0])
    env.reset(_starts(SHORT, SHORT, SHORT))
    env.step(np.zeros((2, 2), np.float32), [0, 2])
    with pytest.raises(ValueError, match='finished row'):
        env.step(np.zeros((2, 2), np.float32), [0, 1])
