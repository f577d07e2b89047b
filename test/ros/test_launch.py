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
launch_pytest tests of every launch file: sim, shadow, imagine, sim_to_real, plan and pusht.

They run wherever ``launch_pytest`` imports: on a ROS 2 host, or here with the launch
system of ``../shared/ros-launch-kit`` (``make venv`` installs it into ``.venv``).
``launch_ros`` finds the node executables through the ament index, so once per run
``colcon build --symlink-install`` installs this working tree into a temporary workspace
whose prefix goes on ``AMENT_PREFIX_PATH`` (for this module only); the nodes run the
working-tree code with the venv's Python. DDS stays on this host (conftest.py).
"""

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_KIT = ROOT.parent / 'shared' / 'ros-launch-kit'
WAIT_S = 120.0  # nodes import torch / onnxruntime / mujoco: 60 s seen on a loaded 2-core host

try:
    import launch_pytest
except ImportError:
    pytest.skip(
        'launch_pytest not importable: ' + (
            f'{LAUNCH_KIT} exists but is not installed in this environment '
            f'(make venv, or bash {LAUNCH_KIT}/install.sh {sys.executable})'
            if LAUNCH_KIT.is_dir() else
            f'{LAUNCH_KIT} not found and no ROS 2 install'),
        allow_module_level=True)

from launch import LaunchDescription  # noqa: E402, I100
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from std_msgs.msg import Bool  # noqa: E402

from wm_ros.ros.common import STATE_QOS  # noqa: E402

from ..rosutil import Probe  # noqa: E402

LAUNCH = ROOT / 'launch' / 'sim.launch.py'


def _prepend(name: str, *paths) -> None:
    old = [p for p in os.environ.get(name, '').split(os.pathsep) if p]
    os.environ[name] = os.pathsep.join([str(p) for p in paths] + old)


@pytest.fixture(scope='module', autouse=True)
def colcon_install(tmp_path_factory):
    """
    Install wm_ros with colcon once; put it on the environment of this module's tests.

    ``--symlink-install`` links the working tree (``--paths``, nothing copied and nothing
    written to it), so the nodes run the same code as the test process. The environment is
    what ``source install/setup.bash`` would set: ``AMENT_PREFIX_PATH`` (ament index,
    ``FindPackageShare``), ``PYTHONPATH`` (the develop build directory) and ``PATH``.
    """
    venv_bin = Path(sys.executable).parent
    colcon = shutil.which('colcon', path=str(venv_bin)) or shutil.which('colcon')
    if colcon is None:
        pytest.skip('colcon is not installed (pip install colcon-common-extensions)')
    ws = tmp_path_factory.mktemp('launch_ws')
    saved = {k: os.environ.get(k) for k in ('AMENT_PREFIX_PATH', 'PYTHONPATH', 'PATH')}
    env = dict(os.environ, PATH=f'{venv_bin}{os.pathsep}{os.environ["PATH"]}')
    result = subprocess.run(
        [colcon, '--log-base', str(ws / 'log'), 'build', '--symlink-install',
         '--paths', str(ROOT), '--build-base', str(ws / 'build'),
         '--install-base', str(ws / 'install'), '--event-handlers', 'console_direct-'],
        cwd=ws, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    prefix = ws / 'install' / 'wm_ros'
    assert (prefix / 'lib' / 'wm_ros' / 'sim_robot').is_file(), 'colcon installed no sim_robot'
    _prepend('AMENT_PREFIX_PATH', prefix)
    _prepend('PYTHONPATH', ws / 'build' / 'wm_ros')
    _prepend('PATH', venv_bin)
    yield prefix
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_nodes_run_the_working_tree_with_the_venv_python(colcon_install):
    for exe in ('sim_robot', 'expert_driver', 'world_model', 'policy', 'comparator', 'planner'):
        shebang = (colcon_install / 'lib' / 'wm_ros' / exe).read_text().splitlines()[0]
        assert Path(shebang[2:].split()[0]).parent == Path(sys.executable).parent, shebang
    out = subprocess.run([sys.executable, '-c', 'import wm_ros; print(wm_ros.__file__)'],
                         capture_output=True, text=True, env=os.environ, timeout=60)
    assert Path(out.stdout.strip()).resolve() == ROOT / 'wm_ros' / '__init__.py', out


@launch_pytest.fixture
def sim_launch():
    return LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(LAUNCH)),
                                 launch_arguments={'task': 'separate'}.items()),
        launch_pytest.actions.ReadyToTest(),
    ])


@pytest.mark.launch(fixture=sim_launch)
def test_sim_launch_solves_task():
    probe = Probe('launch_probe')
    probe.subscribe(Bool, 'task/success', STATE_QOS)
    try:
        solved = probe.spin(2 * WAIT_S, until=lambda: any(
            m.data for _, m in probe.msgs['task/success']))
        assert solved, f'the expert did not solve the task within {2 * WAIT_S:.0f} s'
    finally:
        probe.close()


def _launch(graph: str, **arguments):
    return LaunchDescription([
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(str(LAUNCH.parent / f'{graph}.launch.py')),
            launch_arguments=arguments.items()),
        launch_pytest.actions.ReadyToTest(),
    ])


def _wait_for(msg_type, topic: str, qos, seconds: float = WAIT_S):
    """Return the messages on ``topic`` once the first arrives (empty after ``seconds``)."""
    probe = Probe(f'launch_probe_{topic.replace("/", "_")}')
    probe.subscribe(msg_type, topic, qos)
    try:
        probe.spin(seconds, until=lambda: probe.msgs[topic])
        return [m for _, m in probe.msgs[topic]]
    finally:
        probe.close()


@launch_pytest.fixture
def shadow_launch():
    return _launch('shadow', task='separate')


@pytest.mark.launch(fixture=shadow_launch)
def test_shadow_launch_publishes_comparison_metrics():
    from std_msgs.msg import String
    assert _wait_for(String, 'compare/metrics', STATE_QOS), f'no compare/metrics in {WAIT_S} s'


@launch_pytest.fixture
def imagine_launch():
    return _launch('imagine')


@pytest.mark.launch(fixture=imagine_launch)
def test_imagine_launch_publishes_imagined_frames():
    from sensor_msgs.msg import Image
    from wm_ros.ros.common import SENSOR_QOS
    frames = _wait_for(Image, 'imagined/camera/image_raw', SENSOR_QOS)
    assert frames, f'no imagined/camera/image_raw in {WAIT_S} s'
    assert frames[0].encoding == 'rgb8'


@launch_pytest.fixture
def sim_to_real_launch():
    return _launch('sim_to_real', source='real')


@pytest.mark.launch(fixture=sim_to_real_launch)
def test_sim_to_real_launch_policy_commands_the_robot():
    from geometry_msgs.msg import TwistStamped
    from wm_ros.ros.common import COMMAND_QOS
    assert _wait_for(TwistStamped, 'ee_twist_cmd', COMMAND_QOS), f'no policy command in {WAIT_S} s'


PLAN_INSTRUCTION = 'push the blue star to the top left corner'   # a block sim_robot shows


@launch_pytest.fixture
def plan_launch():
    return _launch('plan', instruction=PLAN_INSTRUCTION)


@pytest.mark.launch(fixture=plan_launch)
def test_plan_launch_plans_the_instruction_argument():
    import json
    from std_msgs.msg import String
    from wm_ros.ros.common import LATCHED_QOS
    probe = Probe('launch_probe_plan')
    probe.subscribe(String, 'plan/subgoals', LATCHED_QOS)

    def planned():
        return [s for s in (json.loads(m.data) for _, m in probe.msgs['plan/subgoals'])
                if s['instruction'] == PLAN_INSTRUCTION and (s['plans'] or s['refused'])]
    try:
        assert probe.spin(WAIT_S, until=planned), f'no plan of "{PLAN_INSTRUCTION}" in {WAIT_S} s'
        status = planned()[-1]
        assert not status['refused'] and status['subgoals'] == [PLAN_INSTRUCTION], status
    finally:
        probe.close()


@launch_pytest.fixture
def pusht_launch():
    return _launch('pusht')


@pytest.mark.launch(fixture=pusht_launch)
def test_pusht_launch_pushes_the_t():
    from geometry_msgs.msg import PoseArray
    probe = Probe('launch_probe_pusht')
    probe.subscribe(PoseArray, 'sim/block_poses', STATE_QOS)

    def pushed():
        t = [m.poses[0].position for _, m in probe.msgs['sim/block_poses']]
        return len(t) > 1 and abs(t[-1].x - t[0].x) + abs(t[-1].y - t[0].y) > 0.01
    try:
        assert probe.spin(2 * WAIT_S, until=pushed), f'the T did not move in {2 * WAIT_S:.0f} s'
    finally:
        probe.close()
