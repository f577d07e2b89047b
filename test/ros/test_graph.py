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

"""The graph specs: one launch file and one parameter file per graph, consistent names."""

from pathlib import Path

import pytest

from wm_ros.ros.bringup import node_command
from wm_ros.ros.graph import get_graph, GRAPHS
from wm_ros.ros.launch_description import ARGUMENTS, overrides_for
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('graph', sorted(GRAPHS))
def test_every_graph_has_a_parameter_file_for_each_node(graph):
    params_name, nodes = get_graph(graph)
    params = yaml.safe_load((ROOT / 'config' / params_name).read_text())
    for spec in nodes:
        assert spec.name in params, f'{params_name} has no section for {spec.name}'
        assert 'ros__parameters' in params[spec.name]
        cmd = node_command(spec, ROOT / 'config' / params_name)
        assert cmd[cmd.index('-m') + 1] == spec.module


def test_string_parameters_reach_the_node_as_strings():
    spec = get_graph('sim')[1][0]
    cmd = node_command(spec, None, {'frame_id': '10', 'task': 'separate', 'flag': 'true',
                                    'odd': '[a', 'empty': ''})
    args = [cmd[i + 1] for i, a in enumerate(cmd) if a == '-p']
    for name, value in (('frame_id', '10'), ('flag', 'true'), ('odd', '[a'), ('empty', '')):
        text = next(a for a in args if a.startswith(f'{name}:=')).split(':=', 1)[1]
        assert yaml.safe_load(text) == value, text      # ROS reads -p values as YAML
    assert 'task:=separate' in args        # plain words stay readable


@pytest.mark.parametrize('graph', ['shadow', 'imagine', 'sim_to_real', 'plan', 'pusht'])
def test_every_bridge_graph_has_a_launch_file(graph):
    text = (ROOT / 'launch' / f'{graph}.launch.py').read_text()
    assert f"generate('{graph}')" in text


def test_launch_arguments_override_only_their_nodes_and_only_when_set():
    values = {'backend': 'torch', 'model_file_path': '', 'source': 'imagined', 'task': '',
              'instruction': 'push the red cube to the center'}
    assert overrides_for('world_model', values) == {'backend': 'torch'}
    assert overrides_for('policy', values) == {'backend': 'torch', 'source': 'imagined'}
    assert overrides_for('planner', values) == {
        'backend': 'torch', 'source': 'imagined', 'instruction': 'push the red cube to the center'}
    assert overrides_for('sim_robot', values) == {}
    assert set(ARGUMENTS) == set(values)


def test_unknown_graph_is_a_clear_error():
    with pytest.raises(ValueError, match='unknown graph'):
        get_graph('nope')
