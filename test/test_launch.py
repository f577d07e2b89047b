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

"""launch_pytest tests of every launch file (run where a ROS 2 install provides launch_pytest)."""

from pathlib import Path
import time

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


def _launch(graph: str, **arguments):
    return LaunchDescription([
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(str(LAUNCH.parent / f'{graph}.launch.py')),
            launch_arguments=arguments.items()),
        launch_pytest.actions.ReadyToTest(),
    ])


def _wait_for(msg_type, topic: str, qos, seconds: float = 40.0):
    rclpy.init()
    node = rclpy.create_node(f'launch_probe_{topic.replace("/", "_")}')
    got = []
    node.create_subscription(msg_type, topic, got.append, qos)
    try:
        end = time.monotonic() + seconds
        while not got and time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)
        return got
    finally:
        node.destroy_node()
        rclpy.shutdown()


@launch_pytest.fixture
def shadow_launch():
    return _launch('shadow', task='separate')


@pytest.mark.launch(fixture=shadow_launch)
def test_shadow_launch_publishes_comparison_metrics():
    from std_msgs.msg import String
    assert _wait_for(String, 'compare/metrics', STATE_QOS), 'no compare/metrics within 40 s'


@launch_pytest.fixture
def imagine_launch():
    return _launch('imagine')


@pytest.mark.launch(fixture=imagine_launch)
def test_imagine_launch_publishes_imagined_frames():
    from sensor_msgs.msg import Image
    from wm_ros.ros.common import SENSOR_QOS
    frames = _wait_for(Image, 'imagined/camera/image_raw', SENSOR_QOS)
    assert frames and frames[0].encoding == 'rgb8'


@launch_pytest.fixture
def sim_to_real_launch():
    return _launch('sim_to_real', source='real')


@pytest.mark.launch(fixture=sim_to_real_launch)
def test_sim_to_real_launch_policy_commands_the_robot():
    from geometry_msgs.msg import TwistStamped
    from wm_ros.ros.common import COMMAND_QOS
    assert _wait_for(TwistStamped, 'ee_twist_cmd', COMMAND_QOS), 'no policy command in 40 s'
