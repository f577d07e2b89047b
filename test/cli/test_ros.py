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


"""``wm-ros up --param``: values reach the node typed as it declares them; faults' help."""

from wm_ros.cli.ros import overrides
from wm_ros.ros.bringup import node_command
from wm_ros.ros.graph import SIM_ROBOT


def test_param_values_take_the_type_the_node_declares():
    typed = overrides('sim', ['sim_robot.rate=20', 'sim_robot.seed=3', 'sim_robot.shadows=True',
                              'sim_robot.task=separate', 'expert_driver.max_speed=0.1'])
    assert typed == {'sim_robot': {'rate': 20.0, 'seed': 3, 'shadows': True,
                                   'task': 'separate'},
                     'expert_driver': {'max_speed': 0.1}}
    cmd = node_command(SIM_ROBOT, None, typed['sim_robot'])
    # `-p rate:=20` reached rclpy as an INTEGER and the node died on its DOUBLE parameter
    assert 'rate:=20.0' in cmd and 'seed:=3' in cmd and 'shadows:=true' in cmd


def test_faults_help_names_every_fault_case_and_the_fast_subset():
    from wm_ros.cli import parser
    from wm_ros.ros import faults
    sub = next(a for a in parser()._actions if a.dest == 'command').choices['faults']
    text = ' '.join(sub.format_help().partition('options:')[2].split())
    case_help = text[text.index('--case'):text.index('--fast')]
    assert [c for c in faults.CASES if c not in case_help] == []
    assert all(c in text[text.index('--fast'):] for c in faults.FAST)
