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

"""sim_robot robot:=pusht over real DDS: the tabletop's topics, PushT's T, and a recorded bag."""

import subprocess
import sys

from geometry_msgs.msg import PoseArray
import numpy as np
import pytest
from std_msgs.msg import String
from std_srvs.srv import Trigger

from wm_ros.ros import image_codec
from wm_ros.ros.bringup import Bringup
from wm_ros.ros.common import LATCHED_QOS, STATE_QOS
from wm_ros.sim.bag import import_mcap
from wm_ros.sim.pusht import PushTEnv

from ..rosutil import drive, ee, Probe, start_robot, stop_cleanly, wait_published

pytestmark = pytest.mark.ros
SEED = 3


@pytest.fixture(scope='module')
def robot(tmp_path_factory):
    logs = tmp_path_factory.mktemp('logs')
    probe, bringup = start_robot(
        logs, {'robot': 'pusht', 'seed': SEED, 'command_timeout': 0.3}, 'test_probe_pusht',
        ((String, 'task/spec', LATCHED_QOS), (PoseArray, 'sim/block_poses', STATE_QOS)), 60,
        lambda probe: probe.msgs['ee_pose'] and probe.msgs['sim/block_poses'])
    yield probe, bringup
    stop_cleanly(probe, bringup, 'sim_robot')


def t_pose(probe):
    p = probe.last('sim/block_poses').poses[0]
    return np.array([p.position.x, p.position.y,
                     2 * np.arctan2(p.orientation.z, p.orientation.w)])


def pusht_start(seed: int) -> np.ndarray:
    """Return (ee x, y, T x, y, yaw) of PushT's start for ``seed``, from the Python API."""
    env = PushTEnv()
    env.reset(seed=seed)
    return env.state()


def test_publishes_the_tabletops_topics_with_the_t_as_one_pose(robot):
    probe, _ = robot
    probe.spin(1.5)
    img = probe.last('camera/image_raw')
    assert (img.height, img.width, img.encoding) == (64, 64, 'rgb8')
    assert probe.last('camera/camera_info').width == 64
    assert probe.last('ee_pose').header.frame_id == 'board'
    assert list(probe.last('joint_states').name) == ['pusher_x', 'pusher_y']
    assert probe.last('task/instruction').data == 'push the T onto the green T'
    assert '"family": "pusht"' in probe.last('task/spec').data
    assert len(probe.last('sim/block_poses').poses) == 1
    assert probe.last('task/success').data is False
    # the T where gym-pusht puts it for this seed, yaw included
    assert np.allclose(t_pose(probe), pusht_start(SEED)[2:], atol=1e-4), t_pose(probe)
    stamps = [t for t, _ in probe.msgs['ee_pose'][-10:]]
    assert 6 < (len(stamps) - 1) / (stamps[-1] - stamps[0]) < 14      # ~10 Hz


def test_twist_moves_the_pusher_in_metres_then_silence_stops_it(robot):
    probe, _ = robot
    probe.spin(0.5)
    start, frame0 = ee(probe), image_codec.from_msg(probe.last('camera/image_raw'))
    direction = -np.sign(start[0]) or 1.0                 # toward the middle
    drive(probe, 0.15 * direction, 0.0, 1.5)
    moved = ee(probe) - start
    assert moved[0] * direction > 0.03, moved             # PushT's PD lags: 41 % of v x dt
    frame1 = image_codec.from_msg(probe.last('camera/image_raw'))
    assert np.abs(frame1.astype(int) - frame0.astype(int)).sum(-1).astype(bool).sum() > 5
    probe.spin(1.0)                                       # > command_timeout of 0.3 s
    still = ee(probe)
    probe.spin(1.0)
    assert np.linalg.norm(ee(probe) - still) < 0.002      # stopped without being told


def test_reset_starts_gym_pushts_next_seed(robot):
    probe, _ = robot
    client = probe.node.create_client(Trigger, 'sim_robot/reset')
    assert client.wait_for_service(timeout_sec=10.0)
    future = client.call_async(Trigger.Request())
    assert probe.spin(20, future.done) and future.result().success
    nxt = pusht_start(SEED + 1)
    assert probe.spin(20, lambda: np.allclose(t_pose(probe), nxt[2:], atol=1e-4)), t_pose(probe)


def test_the_pusht_graph_drives_the_t_and_wm_ros_record_records_it(tmp_path):
    bringup = Bringup('pusht', {'sim_robot': {'seed': 0}}, log_dir=tmp_path).start()
    bag = tmp_path / 'bag'
    probe = Probe('test_probe_pusht_graph')
    probe.subscribe(PoseArray, 'sim/block_poses', STATE_QOS)
    try:
        wait_published(probe, bringup, 'sim_robot', 60, lambda: probe.msgs['sim/block_poses'])
        recorder = subprocess.run(
            [sys.executable, '-m', 'wm_ros.cli', 'record', '--out', str(bag), '--duration',
             '25', '--topics', 'camera/image_raw', 'ee_pose', 'ee_twist_cmd', 'task/success',
             'sim/block_poses', 'task/instruction'],
            capture_output=True, text=True, timeout=180)
        assert recorder.returncode == 0, recorder.stdout + recorder.stderr
        assert all(bringup.alive().values()), bringup.log('expert_driver')
    finally:
        probe.close()
        codes = bringup.stop()
    assert codes == {'sim_robot': 0, 'expert_driver': 0}, codes
    episode = import_mcap(bag)                            # the bag reads as an episode
    assert len(episode) > 100 and episode.instruction == 'push the T onto the green T'
    assert episode.images.shape[1:] == (64, 64, 3) and episode.block_states.shape[1:] == (1, 3)
    assert np.abs(episode.actions).max() > 0.05           # the expert commanded the pusher
    t = episode.block_states[:, 0]
    t = t[np.isfinite(t).all(1)]                          # frames before the first pose: NaN
    assert len(t) > 100
    moved = np.linalg.norm(t[-1, :2] - t[0, :2]) + abs(np.angle(np.exp(1j * (t[-1, 2] - t[0, 2]))))
    assert moved > 0.01, t[[0, -1]]                       # and it pushed the T
