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
The planner drives the robot toward an instruction, planning in the world model.

Graph ``plan`` of wm_ros.ros.graph: the same processes as ``wm-ros up plan``.
Arguments: namespace, params_file, use_rviz, backend, model_file_path, source, task,
instruction ('' = the robot's task/instruction).
"""

from wm_ros.ros.launch_description import generate


def generate_launch_description():
    """Start every node of the ``plan`` graph."""
    return generate('plan')
