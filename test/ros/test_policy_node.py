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

"""The ``policy`` node in its own process: real/imagined switch, watchdog, bad input."""

import dataclasses
import json
from pathlib import Path
import time

from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseStamped
import numpy as np
import pytest
from rcl_interfaces.msg import ParameterType
from rclpy.parameter_client import AsyncParameterClient
from std_msgs.msg import String

from wm_ros.cli import DEFAULT_MODEL
from wm_ros.policy.expert import ExpertController
from wm_ros.ros import image_codec
from wm_ros.ros.common import LATCHED_QOS
from wm_ros.ros.graph import POLICY
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv

from ..rosutil import CommanderUnderTest, fatal_exit

pytestmark = pytest.mark.ros

TINY = Path(__file__).resolve().parents[1] / 'golden' / 'tiny_world_model'
SEED = 1                     # block_to_region: "put the purple cylinder in the top left corner"
PUSHER = ((-0.2, -0.2), (0.2, 0.2))      # real / imagined pusher: the expert goes opposite ways


def shipped_model_backend():
    """Return the backend that can run the trained shipped model, or skip."""
    root = Path(DEFAULT_MODEL)
    if (root / 'onnx' / 'step.onnx').is_file() and (root / 'onnx' / 'model.json').is_file():
        return 'onnxruntime'
    if (root / 'model.json').is_file():
        return 'torch'
    pytest.skip(f'the shipped world model is not trained yet ({root} has no model.json); '
                'the switch test needs its perception')


class PolicyUnderTest(CommanderUnderTest):
    """A ``policy`` process and a probe node feeding it frames."""

    def __init__(self, log_dir: Path, **params):
        super().__init__(log_dir, POLICY, 'policy',
                         {'policy/source': (String, LATCHED_QOS)}, **params)
        self.spec = self.probe.node.create_publisher(String, 'task/spec', LATCHED_QOS)
        self.env = TabletopEnv(TabletopConfig(task='block_to_region'))
        self.env.reset(seed=SEED)
        self.scene, self.task = self.env.scene, self.env.task
        self.spec.publish(String(data=json.dumps({
            'scene': self.scene.to_dict(), 'task': self.task.to_dict(), 'board_half': 0.25,
            'episode': 0})))
        self.wait_up(40, 'policy/source')

    def frame(self, pusher_xy):
        """Render the task scene with the pusher at ``pusher_xy``: (rgb, ee_xy)."""
        scene = dataclasses.replace(self.scene, pusher_xy=tuple(pusher_xy))
        obs, _ = self.env.reset(options={'scene': scene, 'task': self.task})
        xy = np.array([[b.x, b.y] for b in self.scene.blocks])
        expected = ExpertController(self.scene, self.task).act(obs['ee_xy'], xy)
        return obs['image'], obs['ee_xy'], expected

    def statuses(self, since=0.0):
        return [s for t, m in self.probe.msgs['/diagnostics'] if t >= since for s in m.status
                if s.name == 'policy']

    def close(self):
        self.env.close()
        return super().close()


def cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    policy = PolicyUnderTest(tmp_path_factory.mktemp('policy_tiny'),
                             model_file_path=str(TINY), backend='onnxruntime')
    yield policy
    assert policy.close() == 0, policy.log()


def test_switch_source_at_run_time(tmp_path):
    backend = shipped_model_backend()     # model_file_path '' is the shipped model
    policy = PolicyUnderTest(tmp_path, backend=backend, source='real')
    try:
        (real, real_ee, want_real), (imag, imag_ee, want_imag) = (
            policy.frame(p) for p in PUSHER)
        assert cos(want_real, want_imag) < -0.5, (want_real, want_imag)  # opposite moves

        def feed(seconds):
            t0 = time.monotonic()
            while time.monotonic() - t0 < seconds:
                policy.send('real', real, real_ee)
                policy.send('imagined', imag, imag_ee)
                policy.probe.spin(0.05)

        def direction(since):
            moving = [v for _, v, _ in policy.twists(since) if np.linalg.norm(v) > 1e-3]
            assert len(moving) >= 5, policy.twists(since)
            return np.mean(moving, axis=0), moving

        assert policy.probe.last('policy/source').data == 'real'
        t0 = time.monotonic()
        feed(2.0)
        mean, moving = direction(t0 + 0.5)
        assert cos(mean, want_real) > 0.8, (mean, want_real, want_imag)
        assert np.mean([cos(v, want_real) > 0.5 for v in moving]) > 0.8

        result = policy.set_param('source', 'imagined')
        assert result.successful, result.reason
        t_switch = time.monotonic()
        feed(0.2)
        assert policy.probe.spin(5, lambda: policy.probe.last('policy/source').data ==
                                 'imagined')
        feed(2.0)
        mean, moving = direction(t_switch + 0.5)
        assert cos(mean, want_imag) > 0.8, (mean, want_imag, want_real)
        assert np.mean([cos(v, want_imag) > 0.5 for v in moving]) > 0.8
        status = policy.statuses(t_switch + 0.5)[-1]
        assert {kv.key: kv.value for kv in status.values}['source'] == 'imagined'

        refused = policy.set_param('source', 'simulated')
        assert not refused.successful and 'source' in refused.reason, refused
        policy.probe.spin(0.5)
        assert policy.probe.last('policy/source').data == 'imagined'
        assert policy.proc.poll() is None
    finally:
        code = policy.close()
    assert code == 0, policy.log()


def test_invalid_and_read_only_parameters_are_refused(tiny):
    refused = tiny.set_param('source', 'simulated')
    assert not refused.successful and "['real', 'imagined']" in refused.reason, refused
    read_only = tiny.set_param('backend', 'torch')
    assert not read_only.successful and 'read-only' in read_only.reason.lower(), read_only
    assert tiny.probe.last('policy/source').data == 'real'
    client = AsyncParameterClient(tiny.probe.node, 'policy')
    future = client.get_parameters(['source', 'input_timeout', 'rate'])
    assert tiny.probe.spin(10, future.done)
    source, timeout, rate = future.result().values
    assert source.type == ParameterType.PARAMETER_STRING and source.string_value == 'real'
    assert (timeout.double_value, rate.double_value) == (0.15, 10.0)


def test_stale_camera_gives_zero_twist_within_200ms(tiny):
    image, ee, want = tiny.frame(PUSHER[0])
    assert np.linalg.norm(want) > 0.1
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.0:                  # 10 Hz camera
        t_last = tiny.send('real', image, ee)
        last_ns = tiny.probe.node.get_clock().now().nanoseconds
        tiny.probe.spin(0.1)
    tiny.probe.spin(1.0)
    before = [v for t, v, _ in tiny.twists(t0 + 0.5) if t < t_last]
    assert np.mean([np.linalg.norm(v) > 0.1 for v in before]) > 0.8, before
    # twists the node sent after it got the last frame (not ones still in flight)
    after = tiny.twists(t_last, stamped_after_ns=last_ns)
    zeros = [t for t, v, _ in after if not v.any()]
    assert zeros, after
    latency = zeros[0] - t_last
    print(f'watchdog: first zero twist {latency * 1000:.0f} ms after the last frame')
    assert latency < 0.2, latency
    assert all(not v.any() for t, v, _ in after if t > zeros[0])     # and only zeros after
    assert 7 <= len([t for t in zeros if t < zeros[0] + 1.0]) <= 13   # repeated at ~10 Hz
    stale = [s for s in tiny.statuses(t_last) if s.message == 'input stale: zero twist']
    assert stale and stale[0].level == DiagnosticStatus.WARN
    values = {kv.key: kv.value for kv in stale[-1].values}
    assert values['source'] == 'real' and float(values['input_age_s']) > 0.15
    assert values['last_action'] == '[0.0, 0.0]'


def test_image_waits_for_the_pose_with_its_stamp(tiny):
    (image_a, ee_a, want_a), (image_b, ee_b, want_b) = (tiny.frame(p) for p in PUSHER)
    # frame A until the node answers it, so no answer to A is in flight when B goes out
    t_a, end = time.monotonic(), time.monotonic() + 30
    while time.monotonic() < end and not [
            v for _, v, _ in tiny.twists(t_a) if cos(v, want_a) > 0.9]:
        tiny.send('real', image_a, ee_a)
        tiny.probe.spin(0.1)
    tiny.probe.spin(0.2)
    t0 = time.monotonic()
    stamp = tiny.probe.node.get_clock().now().to_msg()
    tiny.pubs['real'][0].publish(image_codec.to_msg(image_b, stamp, 'camera'))  # image first,
    tiny.probe.spin(0.01)
    pose = PoseStamped()                                     # its pose 10 ms later
    pose.header.stamp, pose.header.frame_id = stamp, 'board'
    pose.pose.position.x, pose.pose.position.y = float(ee_b[0]), float(ee_b[1])
    tiny.pubs['real'][1].publish(pose)
    assert tiny.probe.spin(10, lambda: tiny.twists(t0))
    v = tiny.twists(t0)[0][1]
    assert cos(v, want_b) > 0.9 and cos(v, want_a) < 0, (v, want_a, want_b)


def test_wrong_size_and_encoding_are_reported_and_survived(tiny):
    image, ee, _ = tiny.frame(PUSHER[0])
    for bad, encoding, words in ((image[:32, :32], 'rgb8', ('32x32', '64x64 rgb8')),
                                 (image, 'mono8', ("'mono8'", '64x64 rgb8'))):
        t0 = time.monotonic()
        tiny.send('real', bad, ee, encoding)

        def reported(t0=t0, words=words):
            return any(s.level == DiagnosticStatus.ERROR and all(w in s.message for w in words)
                       for s in tiny.statuses(t0))
        assert tiny.probe.spin(5, reported), [s.message for s in tiny.statuses(t0)]
        assert not [v for _, v, _ in tiny.twists(t0) if v.any()]   # no action from it
        assert tiny.proc.poll() is None
    t0 = time.monotonic()
    tiny.send('real', image, ee)
    assert tiny.probe.spin(5, lambda: any(v.any() for _, v, _ in tiny.twists(t0)))


def test_missing_model_exits_1_naming_the_path(tmp_path):
    fatal = fatal_exit(tmp_path, POLICY, {'model_file_path': '/nonexistent'}, 60)
    assert '/nonexistent' in fatal, fatal
