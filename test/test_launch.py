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

"""launch_pytest test of launch/sim.launch.py (runs where a ROS 2 install provides it)."""

from pathlib import Path

import pytest

launch_pytest = pytest.importorskip(
    'launch_pytest', reason='launch_pytest is not on PyPI; this runs on hosts with a ROS 2 '
    'install (colcon test). The same graph is exercised here by test_demo.py via wm-ros up.')

from launch import LaunchDescription  # noqa: E402, I100
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
import rclpy  # noqa: E402
from std_msgs.msg import Bool  # noqa: E402

from wm_ros.ros.common import STATE_QOS  # noqa: E402

LAUNCH = Path(__file__).resolve().parents[1] / 'launch' / 'sim.launch.py'


@launch_pytest.fixture
def sim_launch():
    return LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(LAUNCH)),
                                 launch_arguments={'task': 'separate'}.items()),
        launch_pytest.actions.ReadyToTest(),
    ])


@pytest.mark.launch(fixture=sim_launch)
def test_sim_launch_solves_task():
    rclpy.init()
    node = rclpy.create_node('launch_probe')
    solved = []
    node.create_subscription(Bool, 'task/success', lambda m: solved.append(m.data), STATE_QOS)
    try:
        for _ in range(400):
            rclpy.spin_once(node, timeout_sec=0.1)
            if any(solved):
                break
        assert any(solved), 'the expert did not solve the task within 40 s'
    finally:
        node.destroy_node()
        rclpy.shutdown()
