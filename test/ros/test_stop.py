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
Every node that commands the robot ends stopped (issue 9): SIGINT, SIGTERM, a graph stop.

Its own module, so no other policy process shares the ROS domain while these run.
"""

import signal
import time

import numpy as np
import pytest

from .test_policy_node import PolicyUnderTest, PUSHER, TINY

pytestmark = pytest.mark.ros


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_a_stopped_policy_leaves_a_zero_twist_last(tmp_path, sig):
    """Told to stop while commanding (watchdog far away), it sends zero velocity last."""
    policy = PolicyUnderTest(tmp_path, model_file_path=str(TINY), backend='onnxruntime',
                             input_timeout=10.0)
    try:
        image, ee, want = policy.frame(PUSHER[0])
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0:
            policy.send('real', image, ee)
            policy.probe.spin(0.1)
        assert policy.probe.spin(10, lambda: policy.twists(t0))
        assert np.linalg.norm(policy.twists(t0)[-1][1]) > 0.1     # moving
        policy.proc.send_signal(sig)
        assert policy.probe.spin(30, lambda: policy.proc.poll() is not None), policy.log()
        policy.probe.spin(0.5)
        last = policy.twists(t0)[-1][1]
        assert not last.any(), (last, policy.log())
        assert policy.proc.returncode == 0, (policy.proc.returncode, policy.log())
        assert 'zero twist sent' in policy.log(), policy.log()
    finally:
        policy.close()


def test_nothing_is_commanded_after_the_final_zero_twist():
    """A policy step that finishes after the node stopped must not send its action."""
    import threading

    from geometry_msgs.msg import TwistStamped

    from wm_ros.ros.common import COMMAND_QOS, Commander
    from wm_ros.ros.probe import Probe

    commanding, listener = Probe('commanding_node'), Probe('robot_driver')
    try:
        listener.subscribe(TwistStamped, 'ee_twist_cmd', COMMAND_QOS)
        out = Commander(commanding.node, 'board')
        assert listener.spin(10, lambda: out.pub.get_subscription_count() > 0)
        assert out.send((0.2, -0.1))
        assert listener.spin(10, lambda: listener.msgs['ee_twist_cmd'])   # depth 1
        assert not out.send((0.2, 0.2), still_valid=lambda: False)    # input went stale
        stopping = threading.Thread(target=out.stop)
        stopping.start()
        listener.spin(1.0)
        stopping.join()
        assert not out.send((0.1, 0.1))                 # a late action after the stop
        listener.spin(1.0)
        got = [(m.twist.linear.x, m.twist.linear.y, m.header.frame_id)
               for _, m in listener.msgs['ee_twist_cmd']]
        assert got == [(0.2, -0.1, 'board'), (0.0, 0.0, 'board')]
        assert out.last == (0.0, 0.0)
    finally:
        commanding.close()
        listener.close()
