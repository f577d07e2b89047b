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

"""The ``policy`` node running a learned zoo policy (``policy_path``) over DDS."""

import time

import numpy as np
import pytest
from std_msgs.msg import String

from wm_ros.interfaces import Observation
from wm_ros.policy.zoo import load_policy
from wm_ros.ros.common import LATCHED_QOS
from wm_ros.ros.graph import POLICY

from .test_policy_node import cos, PolicyUnderTest
from ..rosutil import fatal_exit

pytestmark = pytest.mark.ros

ZOO_POLICY = 'bc_full'
PUSHER = (0.2, 0.2)          # far from the named block: the way to go is clear


def test_learned_policy_drives_toward_the_task_from_camera_images(tmp_path):
    node = PolicyUnderTest(tmp_path, policy_path=ZOO_POLICY)
    try:
        instruction = node.task.instruction
        pub = node.probe.node.create_publisher(String, 'task/instruction', LATCHED_QOS)
        pub.publish(String(data=instruction))
        image, ee, expert = node.frame(PUSHER)
        offline = load_policy(ZOO_POLICY).act(Observation(image, ee, instruction, 0))
        assert np.linalg.norm(offline) > 0.05 and cos(offline, expert) > 0.5, (offline, expert)
        t0 = time.monotonic()
        moving = []
        while time.monotonic() - t0 < 45.0 and len(moving) < 10:    # 10 Hz camera; a loaded
            node.send('real', image, ee)                           # host loads slowly
            node.probe.spin(0.1)
            moving = [v for _, v, _ in node.twists(t0) if np.linalg.norm(v) > 0.01]
        assert len(moving) >= 5, node.twists(t0)
        mean = np.mean(moving, axis=0)
        print(f'"{instruction}": node twist {mean.round(3)}, offline policy '
              f'{offline.round(3)}, expert {expert.round(3)}')
        np.testing.assert_allclose(mean, offline, atol=1e-3)      # the same policy, over DDS
        assert cos(mean, expert) > 0.5                           # toward the task
        status = node.statuses(t0 + 0.5)[-1]
        assert status.message == 'acting on real images', status.message
    finally:
        code = node.close()
    assert code == 0, node.log()


def test_bad_policy_path_exits_1_listing_the_zoo(tmp_path):
    fatal = fatal_exit(tmp_path, POLICY, {'policy_path': 'bc_nonexistent'}, 120)
    assert 'bc_nonexistent' in fatal and 'bc_full' in fatal, fatal
