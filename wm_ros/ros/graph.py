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
The ROS graphs of wm_ros, defined once.

Both the ``launch/*.launch.py`` files (robot hosts with ``ros2 launch``) and the bring-up
runner :mod:`wm_ros.ros.bringup` (``wm-ros up``, the demo and the tests, on machines with
only the PyPI ROS wheels) read these specs, so they start the same processes with the same
names, parameter files and remappings. This module imports nothing from ROS.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NodeSpec:
    """
    One node: its name, console-script executable, Python module and remappings.

    ``commands``: it publishes robot commands, so a graph stops it first (its zero twist on
    shutdown then reaches the robot while the robot is still listening).
    """

    name: str
    executable: str
    module: str
    remappings: tuple[tuple[str, str], ...] = ()
    parameters: dict = field(default_factory=dict)
    commands: bool = False


SIM_ROBOT = NodeSpec('sim_robot', 'sim_robot', 'wm_ros.ros.sim_robot_node')
EXPERT_DRIVER = NodeSpec('expert_driver', 'expert_driver', 'wm_ros.ros.expert_driver_node',
                         commands=True)
WORLD_MODEL = NodeSpec('world_model', 'world_model', 'wm_ros.ros.world_model_node')
POLICY = NodeSpec('policy', 'policy', 'wm_ros.ros.policy_node', commands=True)
COMPARATOR = NodeSpec('comparator', 'comparator', 'wm_ros.ros.comparator_node')
PLANNER = NodeSpec('planner', 'planner', 'wm_ros.ros.planner_node', commands=True)

# graph name -> (parameter file in config/, nodes). The launch files of the same names
# start exactly these nodes with these parameter files.
GRAPHS: dict[str, tuple[str, tuple[NodeSpec, ...]]] = {
    # the reference robot driven by its scripted expert
    'sim': ('sim.yaml', (SIM_ROBOT, EXPERT_DRIVER)),
    'robot': ('sim.yaml', (SIM_ROBOT,)),
    # the world model follows the robot, predicting ahead from the same commands
    'shadow': ('shadow.yaml', (SIM_ROBOT, EXPERT_DRIVER, WORLD_MODEL, COMPARATOR)),
    # a policy driving the world model's imagination; no robot
    'imagine': ('imagine.yaml', (WORLD_MODEL, POLICY)),
    # a policy on the robot with the world model beside it; `source` flips real/imagined
    'sim_to_real': ('sim_to_real.yaml', (SIM_ROBOT, WORLD_MODEL, POLICY, COMPARATOR)),
    # the planner drives the robot toward an instruction, planning in the world model
    # (config/plan.yaml holds the planner's own settings, hence another file name)
    'plan': ('plan_graph.yaml', (SIM_ROBOT, WORLD_MODEL, PLANNER)),
    # the second reference robot, PushT (sim_robot robot:=pusht), driven by its scripted
    # expert: `wm-ros up pusht` beside `wm-ros record` records PushT bags
    'pusht': ('pusht_graph.yaml', (SIM_ROBOT, EXPERT_DRIVER)),
}


def get_graph(name: str) -> tuple[str, tuple[NodeSpec, ...]]:
    """Return ``(params file name, nodes)`` of graph ``name`` or raise a clear error."""
    if name not in GRAPHS:
        raise ValueError(f'unknown graph {name!r}; choose one of {sorted(GRAPHS)}')
    return GRAPHS[name]
