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

"""sim_robot in its own process over real DDS: twists move the pusher, silence stops it."""

import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
import numpy as np
import pytest
from std_srvs.srv import Trigger

from wm_ros.ros import image_codec
from wm_ros.ros.bringup import Bringup
from wm_ros.ros.common import STATE_QOS

from ..rosutil import drive, ee, start_robot, stop_cleanly

pytestmark = pytest.mark.ros


@pytest.fixture(scope='module')
def robot(tmp_path_factory):
    logs = tmp_path_factory.mktemp('logs')
    probe, bringup = start_robot(
        logs, {'task': 'separate', 'seed': 5, 'command_timeout': 0.3}, 'test_probe',
        ((DiagnosticArray, '/diagnostics', STATE_QOS),), 20,
        lambda probe: probe.msgs['ee_pose'] and probe.msgs['camera/image_raw'])
    yield probe, bringup
    stop_cleanly(probe, bringup, 'sim_robot')


def centre_direction(probe):
    return -np.sign(ee(probe)) * np.where(np.abs(ee(probe)) < 0.05, -1, 1)


def test_publishes_camera_state_and_task(robot):
    probe, _ = robot
    probe.spin(1.0)
    img = probe.last('camera/image_raw')
    assert (img.height, img.width, img.encoding) == (64, 64, 'rgb8')
    assert probe.last('camera/camera_info').width == 64
    assert probe.last('ee_pose').header.frame_id == 'board'
    assert list(probe.last('joint_states').name) == ['pusher_x', 'pusher_y']
    assert 'apart' in probe.last('task/instruction').data or \
        'separate' in probe.last('task/instruction').data or \
        'away' in probe.last('task/instruction').data
    stamps = [t for t, _ in probe.msgs['ee_pose'][-10:]]
    assert 6 < (len(stamps) - 1) / (stamps[-1] - stamps[0]) < 14      # ~10 Hz


def test_twist_moves_pusher_and_image_then_silence_stops_it(robot):
    probe, _ = robot
    probe.spin(0.5)
    start, frame0 = ee(probe), image_codec.from_msg(probe.last('camera/image_raw'))
    direction = centre_direction(probe)
    drive(probe, 0.1 * direction[0], 0.0, 1.0)
    moved = ee(probe) - start
    assert moved[0] * direction[0] > 0.05, moved          # ~0.1 m/s for ~1 s, the right way
    assert abs(moved[1]) < 0.03
    frame1 = image_codec.from_msg(probe.last('camera/image_raw'))
    assert np.abs(frame1.astype(int) - frame0.astype(int)).sum(-1).astype(bool).sum() > 10
    probe.spin(0.6)                                       # > command_timeout of 0.3 s
    still = ee(probe)
    probe.spin(1.0)
    assert np.linalg.norm(ee(probe) - still) < 0.002      # stopped without being told


def test_stale_and_nan_commands_are_rejected_and_reported(robot):
    probe, bringup = robot
    probe.spin(0.5)
    start = ee(probe)
    drive(probe, 0.1, 0.1, 0.6, stamp_offset=2.0)         # stamped 2 s in the past
    assert np.linalg.norm(ee(probe) - start) < 0.002
    probe.msgs['/diagnostics'].clear()
    drive(probe, float('nan'), 0.0, 0.3)
    probe.spin(0.3)
    errors = [s for _, m in probe.msgs['/diagnostics'] for s in m.status
              if s.name == 'sim_robot' and s.level == DiagnosticStatus.ERROR]
    assert errors and 'non-finite' in errors[0].message
    assert np.linalg.norm(ee(probe) - start) < 0.002
    assert bringup.alive()['sim_robot']
    # every bad command is counted on /diagnostics, but the log says it once per 2 s
    counts = [int(kv.value) for _, m in probe.msgs['/diagnostics'] for s in m.status
              if s.name == 'sim_robot' for kv in s.values if kv.key == 'faults_non_finite']
    assert counts and max(counts) >= 4, counts
    assert bringup.log('sim_robot').count('rejected ee_twist_cmd with non-finite') <= 2


@pytest.mark.parametrize('value', [1e39, 1e308, -1e308, 5e-324], ids=str)
def test_extreme_commands_are_clipped_in_float64_and_said_plainly(robot, value):
    probe, bringup = robot
    probe.spin(0.5)
    start = ee(probe)
    probe.msgs['/diagnostics'].clear()
    direction = centre_direction(probe)
    drive(probe, value * direction[0], value * direction[1], 0.6)
    moved = np.linalg.norm(ee(probe) - start)
    messages = [s.message for _, m in probe.msgs['/diagnostics'] for s in m.status
                if s.name == 'sim_robot']
    assert bringup.alive()['sim_robot']
    assert not any('inf' in m for m in messages if 'clipped' in m), messages
    if abs(value) > 1:                       # clipped to the speed limit: it moves
        assert moved > 0.03, moved
        assert any(f'{abs(value):.3g}' in m and 'clipped' in m for m in messages), messages
    else:                                    # a subnormal is a (tiny) valid speed
        assert moved < 0.002, moved


def test_reset_service_starts_next_episode(robot):
    probe, _ = robot
    client = probe.node.create_client(Trigger, 'sim_robot/reset')
    assert client.wait_for_service(timeout_sec=5.0)
    before = probe.last('task/instruction').data
    future = client.call_async(Trigger.Request())
    assert probe.spin(15, future.done)
    assert future.result().success
    assert probe.spin(10, lambda: probe.last('task/instruction').data != before)
    assert future.result().message == probe.last('task/instruction').data


def test_out_of_range_parameter_exits_with_message(tmp_path):
    bad = Bringup('robot', {'sim_robot': {'image_size': 5000}}, log_dir=tmp_path).start()
    try:
        deadline = time.monotonic() + 20
        while bad.alive()['sim_robot'] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not bad.alive()['sim_robot']
    finally:
        codes = bad.stop()
    assert codes['sim_robot'] != 0
    assert 'image_size' in bad.log('sim_robot')
