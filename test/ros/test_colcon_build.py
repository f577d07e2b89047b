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

"""colcon builds wm_ros as an ament_python package and installs its files and executables."""

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = {'.venv', 'build', 'install', 'log', 'out', 'data', '.git', '__pycache__',
        '.pytest_cache', '.ruff_cache'}


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    colcon = shutil.which('colcon', path=str(Path(sys.executable).parent)) or shutil.which(
        'colcon')
    if colcon is None:
        pytest.skip('colcon is not installed (pip install colcon-common-extensions)')
    ws = tmp_path_factory.mktemp('ws')
    shutil.copytree(ROOT, ws / 'src' / 'wm_ros',
                    ignore=lambda d, names: [n for n in names if n in SKIP
                                             or n.endswith('.egg-info')])
    env = dict(os.environ, PATH=f'{Path(sys.executable).parent}:{os.environ["PATH"]}')
    result = subprocess.run([colcon, 'build', '--event-handlers', 'console_direct-'], cwd=ws,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return ws / 'install' / 'wm_ros'


def test_colcon_installs_package_index_and_data_files(installed):
    share = installed / 'share'
    assert (share / 'ament_index' / 'resource_index' / 'packages' / 'wm_ros').is_file()
    assert (share / 'wm_ros' / 'package.xml').is_file()
    for sub in ('launch', 'config', 'rviz'):
        source = sorted(p.name for p in (ROOT / sub).iterdir() if p.is_file())
        assert sorted(p.name for p in (share / 'wm_ros' / sub).iterdir()) == source


def test_colcon_installs_node_executables(installed):
    for exe in ('sim_robot', 'expert_driver', 'world_model', 'policy', 'comparator', 'planner',
                'wm-ros'):
        path = installed / 'lib' / 'wm_ros' / exe
        assert path.is_file() and os.access(path, os.X_OK), f'{exe} not installed in lib/wm_ros'


def test_colcon_installs_the_shipped_world_model(installed):
    site = next(installed.glob('lib/python3*/site-packages'))
    model = site / 'wm_ros' / 'models' / 'world_model'
    shipped = ROOT / 'wm_ros' / 'models' / 'world_model'
    expected = sorted(str(p.relative_to(shipped)) for p in shipped.rglob('*') if p.is_file())
    assert expected, 'no shipped model in wm_ros/models/world_model: run make model'
    assert sorted(str(p.relative_to(model)) for p in model.rglob('*') if p.is_file()) == expected


def test_installed_cli_runs(installed):
    site = next(installed.glob('lib/python3*/site-packages'))
    env = dict(os.environ, PYTHONPATH=f'{site}:{os.environ.get("PYTHONPATH", "")}')
    out = subprocess.run([str(installed / 'lib' / 'wm_ros' / 'wm-ros'), '--help'],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0 and 'collect' in out.stdout


def test_launch_files_compile():
    for launch in (ROOT / 'launch').glob('*.launch.py'):
        compile(launch.read_text(), str(launch), 'exec')
