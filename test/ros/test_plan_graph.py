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
``wm-ros eval plan-graph``: the whole ROS ``plan`` graph (sim_robot, world_model, planner).

Every node is its own process over DDS (conftest.py gives this run its own domain), the
planner with its default config, so frames lag commands as on a robot. Seed 1's scene
stalled the graph before the belief was added: its block is pushed against another one
and the encoder loses it.
"""

import json

from wm_ros.cli import main as cli


def test_the_plan_graph_solves_a_scene_on_the_tabletop(tmp_path):
    code = cli(['eval', 'plan-graph', '--seeds', '1', '--limit', '150', '--out',
                str(tmp_path)])
    report = json.loads((tmp_path / 'plan_graph.json').read_text())
    run = report['runs'][0]
    assert code == 0 and report['success'] == 1, run
    assert run['planner'] == 'done' and run['retries'] == 0, run
    assert (tmp_path / 'logs' / '0_seed1' / 'planner.log').is_file()
