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

"""The planner node's scheduling without ROS: worker thread, newest frame, supersession."""

import threading
import time

import numpy as np
import pytest

from wm_ros.plan.decompose import PlanRefused, Step
from wm_ros.ros.camera_input import PoseSync
from wm_ros.ros.common import Ticker
from wm_ros.ros.plan_runner import PlanRunner


class FakePlanner:
    """Records calls; ``hold`` blocks ``act``; a frame of value 255 is unreadable."""

    def __init__(self):
        self.calls, self.plans, self.tasks, self.instruction = [], 0, [], ''
        self.video = np.zeros((0, 8, 8, 3), np.uint8)
        self.plan_paths = {}
        self.hold = None                     # threading.Event: act waits for it
        self.acting = threading.Event()

    def start(self, instruction, image, ee):
        self.calls.append(('start', instruction, int(image[0, 0, 0])))
        if 'purple star' in instruction:
            raise PlanRefused('there is no purple star on the table (I see: red cube)')
        self.tasks, self.instruction = [instruction], instruction
        return [Step(instruction, 'red cube')]

    def act(self, image, ee):
        self.calls.append(('act', int(image[0, 0, 0])))
        self.acting.set()
        if self.hold is not None:
            assert self.hold.wait(10)
        if image[0, 0, 0] == 255:
            raise ValueError('model expects 8x8 rgb8')
        self.plans += 1
        self.video = np.full((3, 8, 8, 3), self.plans, np.uint8)
        self.plan_paths = {'pusher': np.zeros((3, 2)), 'red cube': np.ones((3, 2))}
        return np.array([0.1, -0.05], np.float32)

    def status(self):
        return {'instruction': self.instruction, 'plans': self.plans, 'done': False,
                'failed': False, 'message': '', 'subgoal': self.instruction}


def image(value):
    return np.full((8, 8, 3), value, np.uint8)


def wait_until(condition, seconds=10.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.005)
    return False


@pytest.fixture
def runner():
    planner, results = FakePlanner(), []
    r = PlanRunner(planner, results.append)
    r.results = results
    yield r
    if planner.hold is not None:
        planner.hold.set()
    r.stop()
    assert not r._thread.is_alive()


def events(r):
    return [x.event for x in r.results]


def started(runner):
    """Instruct ``runner`` and wait until it acted on a first frame (value 1)."""
    runner.instruct('push the red cube to the center')
    runner.frame(image(1), (0.0, 0.0))
    assert wait_until(lambda: len(runner.results) == 2)


def holding(runner, value):
    """Send frame ``value`` with the planner told to wait in ``act``; return once it acts."""
    runner.planner.hold, runner.planner.acting = threading.Event(), threading.Event()
    runner.frame(image(value), (0.0, 0.0))
    assert runner.planner.acting.wait(5)


def test_instruction_starts_on_the_newest_frame_then_acts_once_per_frame(runner):
    future = runner.instruct('push the red cube to the center')
    time.sleep(0.2)
    assert runner.planner.calls == [] and not future.done()     # waits for a frame
    runner.frame(image(1), (0.0, 0.0))
    assert wait_until(lambda: len(runner.results) == 2)
    assert future.result(5)[0] and 'push the red cube to the center' in future.result()[1]
    assert runner.planner.calls == [('start', 'push the red cube to the center', 1), ('act', 1)]
    started, acted = runner.results
    assert started.event == 'started' and not started.status['refused']
    np.testing.assert_allclose(acted.action, [0.1, -0.05])
    assert acted.video.shape == (3, 8, 8, 3) and set(acted.paths) == {'pusher', 'red cube'}
    runner.frame(image(2), (0.0, 0.0))
    assert wait_until(lambda: len(runner.results) == 3)
    time.sleep(0.2)
    assert runner.planner.calls[2:] == [('act', 2)]              # each frame once
    assert events(runner) == ['started', 'acted', 'acted']


def test_frames_that_come_during_a_slow_plan_are_skipped_but_the_newest(runner):
    started(runner)
    holding(runner, 3)
    time.sleep(0.3)
    assert 0.25 < runner.busy_for() < 5.0            # what the watchdog reads
    runner.frame(image(4), (0.0, 0.0))
    runner.frame(image(5), (0.0, 0.0))
    runner.planner.hold.set()
    assert wait_until(lambda: len(runner.results) == 4)
    time.sleep(0.2)
    acts = [c for c in runner.planner.calls if c[0] == 'act']
    assert acts == [('act', 1), ('act', 3), ('act', 5)]
    assert runner.busy_for() == 0.0
    assert runner.results[2].seconds >= 0.25


def test_a_new_instruction_drops_the_action_being_computed(runner):
    started(runner)
    holding(runner, 2)
    runner.instruct('push the red cube to the top left corner')
    runner.planner.hold.set()
    assert wait_until(lambda: len(runner.results) == 4)
    assert events(runner) == ['started', 'acted', 'started', 'acted']   # no action for 2
    assert runner.planner.calls[2:] == [
        ('act', 2), ('start', 'push the red cube to the top left corner', 2), ('act', 2)]


def test_refused_instruction_reports_why_and_gives_only_zero_actions(runner):
    runner.frame(image(1), (0.0, 0.0))
    assert wait_until(lambda: events(runner) == ['idle'])        # no instruction yet
    future = runner.instruct('push the purple star to the center')
    ok, message = future.result(5)
    assert not ok and 'no purple star' in message
    assert wait_until(lambda: len(runner.results) == 3)
    refused, idle = runner.results[1:]
    assert refused.event == 'refused' and 'no purple star' in refused.message
    status = refused.status
    assert status['refused'] and status['failed'] and 'no purple star' in status['message']
    assert status['instruction'] == 'push the purple star to the center'
    assert (status['plans'], status['subgoal']) == (0, ''), status    # nothing planned
    assert idle.event == 'idle' and not idle.action.any() and idle.status['refused']
    runner.frame(image(2), (0.0, 0.0))
    assert wait_until(lambda: len(runner.results) == 4)
    assert runner.results[3].event == 'idle' and not runner.results[3].action.any()
    assert not [c for c in runner.planner.calls if c[0] == 'act']


def test_unreadable_frame_gives_an_error_and_no_action_then_planning_goes_on(runner):
    started(runner)
    runner.frame(image(255), (0.0, 0.0))
    assert wait_until(lambda: len(runner.results) == 3)
    error = runner.results[2]
    assert error.event == 'error' and '8x8 rgb8' in error.message and not error.action.any()
    runner.frame(image(3), (0.0, 0.0))
    assert wait_until(lambda: len(runner.results) == 4)
    assert runner.results[3].event == 'acted' and runner.results[3].action.any()


def test_a_watchdog_thread_sees_a_late_plan_while_the_planner_holds_the_gil(runner):
    """The node's watchdog (a Ticker at 100 Hz) runs during a pure-Python 1 s plan."""
    def busy_python_act(image, ee):
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            sum(range(1000))                     # holds the GIL, like the solver's loops
        return np.array([0.1, 0.0], np.float32)

    started(runner)
    runner.planner.act = busy_python_act
    seen = []
    ticker = Ticker(0.01, lambda: seen.append(runner.busy_for()))
    try:
        runner.frame(image(2), (0.0, 0.0))
        assert wait_until(lambda: len(runner.results) == 3)
    finally:
        ticker.stop()
    late = [b for b in seen if b > 0.15]          # the node's input_timeout
    assert late and min(late) < 0.3, seen          # zero twist well before the plan ends
    assert len(late) >= 10, len(late)              # and again and again while it runs


def test_frame_age_and_clearing_frames(runner):
    assert runner.frame_age() == np.inf
    runner.frame(image(1), (0.0, 0.0), received=time.monotonic() - 2.0)
    assert 2.0 <= runner.frame_age() < 3.0
    runner.clear_frames()
    assert runner.frame_age() == np.inf


def test_pose_sync_pairs_each_image_with_the_pose_of_its_stamp():
    sync = PoseSync(('real',), wait_s=0.03)
    assert sync.image('real', 'a', 100, now=0.0)                  # no pose yet: go
    assert sync.pose('real', (0.1, 0.0), 100) is None
    assert sync.image('real', 'b', 100, now=0.0)                  # pose of its stamp
    assert not sync.image('real', 'c', 200, now=1.0)              # its pose is on the way
    assert sync.due(now=1.02) == []
    assert sync.pose('real', (0.2, 0.0), 200) == 'c'              # ... and releases it
    assert sync.ee['real'] == (0.2, 0.0)
    assert not sync.image('real', 'd', 300, now=2.0)
    assert sync.due(now=2.05) == [('real', 'd')]                  # waited long enough
    assert sync.pose('real', (0.3, 0.0), 300) is None             # nothing held any more
    unstamped = PoseSync(('real',))
    unstamped.pose('real', (0.0, 0.0), 0)
    assert unstamped.image('real', 'e', 500, now=0.0)             # 0 never holds one up
