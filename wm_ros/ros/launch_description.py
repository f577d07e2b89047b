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
Build a ``LaunchDescription`` for a graph of :mod:`wm_ros.ros.graph` (robot hosts only).

Every ``launch/<graph>.launch.py`` is three lines calling :func:`generate`, so the launch
files and the bring-up runner (``wm-ros up <graph>``) start the same nodes with the same
parameter files. Launch arguments (ROS_CONVENTIONS.md): ``namespace``, ``params_file``
(default: the graph's file in ``config/`` of the installed package), ``use_rviz`` (rviz2
with the shipped ``rviz/wm_ros.rviz``), ``backend`` and ``model_file_path`` (world model,
policy, planner), ``source`` (policy, planner), ``task`` (sim_robot) and ``instruction``
(planner).
Imports ``launch`` lazily: this module is only used where a ROS 2 install provides it.
"""

from __future__ import annotations

from wm_ros.ros.graph import get_graph

# launch argument -> (default, description, nodes it is passed to as a parameter)
ARGUMENTS = {
    'backend': ('', "world-model runtime: onnxruntime or torch ('' = the parameter file's)",
                ('world_model', 'policy', 'planner')),
    'model_file_path': ('', "world-model directory ('' = the shipped model)",
                        ('world_model', 'policy', 'planner')),
    'source': ('', "policy / planner input: real or imagined ('' = the parameter file's)",
               ('policy', 'planner')),
    'task': ('', "sim_robot task family ('' = the parameter file's)", ('sim_robot',)),
    'instruction': ('', "planner instruction ('' = the robot's task/instruction)",
                    ('planner',)),
}


def overrides_for(node: str, values: dict[str, str]) -> dict[str, str]:
    """Return the parameter overrides of ``node`` from launch-argument ``values`` ('' = none)."""
    return {arg: value for arg, value in values.items()
            if value != '' and node in ARGUMENTS.get(arg, ('', '', ()))[2]}


def generate(graph: str):
    """Return the ``LaunchDescription`` that starts ``graph``."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.conditions import IfCondition
    from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
    from launch_ros.actions import Node
    from launch_ros.substitutions import FindPackageShare

    params_name, nodes = get_graph(graph)
    share = FindPackageShare('wm_ros')

    def node_actions(context):
        values = {a: context.perform_substitution(LaunchConfiguration(a)) for a in ARGUMENTS}
        params = LaunchConfiguration('params_file')
        return [Node(package='wm_ros', executable=spec.executable, name=spec.name,
                     namespace=LaunchConfiguration('namespace'),
                     parameters=[params, overrides_for(spec.name, values)],
                     remappings=list(spec.remappings), output='screen')
                for spec in nodes]

    return LaunchDescription([
        DeclareLaunchArgument('namespace', default_value='', description='namespace of all nodes'),
        DeclareLaunchArgument('params_file',
                              default_value=PathJoinSubstitution([share, 'config', params_name]),
                              description='ROS parameter file for the nodes'),
        DeclareLaunchArgument('use_rviz', default_value='false',
                              description='start rviz2 with rviz/wm_ros.rviz'),
        *[DeclareLaunchArgument(name, default_value=default, description=text)
          for name, (default, text, _) in ARGUMENTS.items()],
        OpaqueFunction(function=node_actions),
        Node(package='rviz2', executable='rviz2', name='rviz2', output='screen',
             arguments=['-d', PathJoinSubstitution([share, 'rviz', 'wm_ros.rviz'])],
             condition=IfCondition(LaunchConfiguration('use_rviz'))),
    ])
