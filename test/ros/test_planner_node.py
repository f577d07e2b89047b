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
The ``planner`` node in its own process over DDS, with the ``tiny`` planner config.

The test process plays the robot: it publishes a tabletop frame and its pusher pose at
10 Hz and an instruction, and records what the node publishes. A DDS domain of its own,
free on this host (wm_ros.ros.domains), keeps it apart from other tests and test runs.
"""

import json
from pathlib import Path
import time

from diagnostic_msgs.msg import DiagnosticStatus
import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from wm_ros.ros import image_codec
from wm_ros.ros.common import LATCHED_QOS, SENSOR_QOS, STATE_QOS
from wm_ros.ros.domains import hold_free_domain
from wm_ros.ros.graph import PLANNER
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv

from .test_policy_node import shipped_model_backend
from ..rosutil import CommanderUnderTest

pytestmark = pytest.mark.ros

DOMAIN_ID = hold_free_domain()      # no other test or run on this host shares it
SEED = 0                 # block_to_region: a green moon, blue star, purple and yellow triangle
GOOD = 'push the green moon to the center'
OTHER = 'push the blue star to the top left corner'
REFUSED = 'push the purple star to the center'      # there is no purple star
HORIZON = 8              # config/plan.yaml, tiny
INPUT_TIMEOUT = 0.15
WAIT_S = 60.0            # first plan on a loaded 2-core host (seconds when idle)


class PlannerUnderTest(CommanderUnderTest):
    """A ``planner`` process, and a probe node playing the robot around it."""

    def __init__(self, log_dir: Path, **params):
        super().__init__(log_dir, PLANNER, 'planner', {
            'plan/subgoals': (String, LATCHED_QOS), 'plan/video': (Image, SENSOR_QOS),
            'plan/markers': (MarkerArray, STATE_QOS)}, **params)
        node = self.probe.node
        self.instruction = node.create_publisher(String, 'task/instruction', LATCHED_QOS)
        self.client = node.create_client(Trigger, 'planner/plan')
        self.env = TabletopEnv(TabletopConfig(task='block_to_region'))
        obs, _ = self.env.reset(seed=SEED)
        self.image, self.ee = obs['image'], obs['ee_xy']
        self.wait_up(WAIT_S, 'plan/subgoals')
        if not self.client.wait_for_service(timeout_sec=10):
            self.close()
            raise AssertionError('no planner/plan service')

    def send(self, source='real'):
        """Publish the task's frame and pusher pose on ``source``."""
        return super().send(source, self.image, self.ee)

    def feed(self, seconds, until=None, source='real') -> bool:
        """Publish frames at 10 Hz for ``seconds`` or until ``until()``; say if it held."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.send(source)
            if self.probe.spin(0.1, until) and until is not None:
                return True
        return until is None

    def instruct(self, text):
        """Have the node start ``text`` now (re-plan it if it is the node's instruction)."""
        t0 = time.monotonic()
        if any(s['instruction'] == text for s in self.statuses()[-1:]):
            assert self.replan().success
        else:
            self.instruction.publish(String(data=text))
        return t0

    def statuses(self, since=0.0):
        return [json.loads(m.data) for t, m in self.probe.msgs['plan/subgoals'] if t >= since]

    def moving(self, since):
        return [v for _, v, _ in self.twists(since) if np.linalg.norm(v) > 1e-3]

    def replan(self):
        """Call ``planner/plan`` while frames keep coming; return the response."""
        end = time.monotonic() + WAIT_S
        while True:
            future = self.client.call_async(Trigger.Request())
            assert self.feed(WAIT_S, future.done), 'planner/plan did not answer'
            answer = future.result()
            if 'no fresh frame' not in answer.message or time.monotonic() > end:
                return answer
            self.feed(0.3)                  # the camera was off: frames are on their way

    def close(self):
        self.env.close()
        return super().close()


@pytest.fixture(scope='module')
def planner(tmp_path_factory):
    backend = shipped_model_backend()
    with pytest.MonkeyPatch.context() as env:
        env.setenv('ROS_DOMAIN_ID', str(DOMAIN_ID))
        env.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
        node = PlannerUnderTest(tmp_path_factory.mktemp('planner'), backend=backend,
                                config='tiny', input_timeout=INPUT_TIMEOUT)
        yield node
        code = node.close()
    assert code == 0, node.log()
    last = [v for _, v, _ in node.twists()][-1]
    assert not last.any(), f'the last command was {last}, not zero'


def test_plans_an_instruction_and_drives(planner):
    first = planner.statuses()[0]
    assert first['instruction'] == '' and not first['refused'], first
    answer = planner.replan()
    assert not answer.success and 'no instruction' in answer.message, answer

    t0 = planner.instruct(GOOD)

    def planned():
        return (planner.moving(t0) and planner.probe.msgs['plan/video'] and
                planner.probe.msgs['plan/markers'] and
                [s for s in planner.statuses(t0) if s['instruction'] == GOOD and s['plans']])
    assert planner.feed(WAIT_S, planned), (planner.statuses(t0), planner.log())

    moving = planner.moving(t0)
    assert all(np.abs(v).max() <= 0.2 + 1e-9 for v in moving), moving
    assert all(m.header.frame_id == 'board' for _, _, m in planner.twists(t0))
    status = [s for s in planner.statuses(t0) if s['plans']][-1]
    assert status['subgoals'] == [GOOD] and status['tasks'] == 1, status
    assert not (status['refused'] or status['failed'] or status['done']), status

    frame = planner.probe.last('plan/video')
    assert (frame.encoding, frame.height, frame.width) == ('rgb8', 64, 64)
    assert image_codec.from_msg(frame).std() > 5                 # a picture, not blank
    markers = planner.probe.last('plan/markers').markers
    assert markers[0].action == Marker.DELETEALL
    strips = {m.ns: m for m in markers[1:]}
    assert {'plan/pusher', 'plan/green moon', 'plan/blue star'} <= set(strips), set(strips)
    for m in strips.values():
        assert m.type == Marker.LINE_STRIP and m.header.frame_id == 'board'
        assert len(m.points) == HORIZON
        assert all(abs(p.x) <= 0.3 and abs(p.y) <= 0.3 for p in m.points)

    assert planner.feed(5, lambda: len(planner.probe.msgs['plan/video']) >= HORIZON)
    answer = planner.replan()
    assert answer.success and 'green moon' in answer.message, answer


def test_refused_instruction_publishes_the_reason_and_commands_zero(planner):
    t0 = planner.instruct(REFUSED)

    def refused():
        return [s for s in planner.statuses(t0) if s['refused']]
    assert planner.feed(WAIT_S, refused), planner.statuses(t0)
    status = refused()[-1]
    assert status['instruction'] == REFUSED and status['failed'], status
    assert 'no purple star' in status['message'], status
    t_refused = planner.probe.msgs['plan/subgoals'][-1][0]
    planner.feed(1.5)
    after = planner.twists(t_refused + 0.3)
    assert len(after) >= 5 and not any(v.any() for _, v, _ in after), after
    answer = planner.replan()
    assert not answer.success and 'no purple star' in answer.message, answer
    assert 'no purple star' in planner.log()


def test_dead_camera_commands_zero(planner):
    t0 = planner.instruct(OTHER)
    assert planner.feed(WAIT_S, lambda: planner.moving(t0)), planner.statuses(t0)
    planner.feed(1.0)
    assert len(planner.moving(t0)) >= 3
    t_last = planner.send()
    last_ns = planner.probe.node.get_clock().now().nanoseconds
    planner.probe.spin(2.0)                                     # the camera is dead
    zeros = [t for t, v, _ in planner.twists(t_last) if not v.any()]
    assert zeros and zeros[0] - t_last < 1.0, planner.twists(t_last)
    print(f'first zero twist {(zeros[0] - t_last) * 1000:.0f} ms after the last frame')
    # every command the node gave once the frame was older than input_timeout is zero
    late = planner.twists(t_last, stamped_after_ns=last_ns + int((INPUT_TIMEOUT + 0.3) * 1e9))
    assert len(late) >= 5 and not any(v.any() for _, v, _ in late), late
    stale = [s for t, m in planner.probe.msgs['/diagnostics'] if t > t_last
             for s in m.status if s.name == 'planner' and s.message == 'input stale: zero twist']
    assert stale and stale[-1].level == DiagnosticStatus.WARN


def test_source_switches_at_run_time(planner):
    planner.instruct(OTHER)
    result = planner.set_param('source', 'imagined')
    assert result.successful, result.reason
    t0 = time.monotonic()
    planner.feed(1.5)                               # real frames only: imagined input stale
    assert planner.twists(t0 + 0.5) and not planner.moving(t0 + 0.5)
    t1 = time.monotonic()
    assert planner.feed(WAIT_S, lambda: planner.moving(t1), source='imagined')
    refused = planner.set_param('source', 'simulated')
    assert not refused.successful and 'source' in refused.reason, refused
    assert planner.set_param('source', 'real').successful


def test_wrong_size_images_are_errors_and_give_only_zero(planner):
    t0 = planner.instruct(GOOD)
    assert planner.feed(WAIT_S, lambda: planner.moving(t0)), planner.statuses(t0)
    good, planner.image = planner.image, planner.image[:32, :32]
    try:
        t_bad = time.monotonic()
        bad_ns = planner.probe.node.get_clock().now().nanoseconds
        planner.feed(1.5)

        def reported():
            return [s for t, m in planner.probe.msgs['/diagnostics'] if t > t_bad
                    for s in m.status if s.name == 'planner' and
                    s.level == DiagnosticStatus.ERROR and '32x32' in s.message and
                    '64x64 rgb8' in s.message]
        assert planner.probe.spin(5, reported)
        late = planner.twists(t_bad, stamped_after_ns=bad_ns + int((INPUT_TIMEOUT + 0.3) * 1e9))
        assert len(late) >= 5 and not any(v.any() for _, v, _ in late), late
        assert planner.proc.poll() is None
    finally:
        planner.image = good
    t1 = time.monotonic()
    assert planner.feed(WAIT_S, lambda: planner.moving(t1))          # good frames: moves
