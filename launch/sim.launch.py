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

"""Launch the reference tabletop robot and its scripted expert driver (graph ``sim``)."""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from wm_ros.ros.graph import get_graph


def generate_launch_description():
    """Start every node of the ``sim`` graph with the shared parameter file."""
    params_name, nodes = get_graph('sim')
    namespace = LaunchConfiguration('namespace')
    params_file = LaunchConfiguration('params_file')
    actions = [
        DeclareLaunchArgument('namespace', default_value='', description='namespace of all nodes'),
        DeclareLaunchArgument(
            'params_file',
            default_value=PathJoinSubstitution(
                [FindPackageShare('wm_ros'), 'config', params_name]),
            description='ROS parameter file for the nodes'),
        DeclareLaunchArgument('task', default_value='block_to_region',
                              description='task family of sim_robot'),
    ]
    for spec in nodes:
        overrides = {'task': LaunchConfiguration('task')} if spec.name == 'sim_robot' else {}
        actions.append(Node(package='wm_ros', executable=spec.executable, name=spec.name,
                            namespace=namespace, parameters=[params_file, overrides],
                            remappings=list(spec.remappings), output='screen'))
    return LaunchDescription(actions)
