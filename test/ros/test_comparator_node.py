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

"""comparator in its own process: known real/imagined pairs in, known scores out."""

import json
import time

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Path
import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header, String
from visualization_msgs.msg import MarkerArray

from wm_ros.ros import image_codec
from wm_ros.ros.bringup import Bringup
from wm_ros.ros.common import LATCHED_QOS, SENSOR_QOS, STATE_QOS

from ..rosutil import Probe

pytestmark = pytest.mark.ros

OFFSET = 0.02                   # imagined pusher is this far (m) to +x of the real one
STEPS = 20                      # pairs published, 1..20 steps after the re-sync
PSNR_DB = 10 * np.log10(255.0 ** 2 / 10.0 ** 2)   # imagined pixels 10 levels brighter


@pytest.fixture(scope='module')
def comparator(tmp_path_factory):
    bringup = Bringup('shadow', {'comparator': {'rate': 10.0}},
                      log_dir=tmp_path_factory.mktemp('logs'))
    bringup.nodes = tuple(n for n in bringup.nodes if n.name == 'comparator')
    bringup.start()
    probe = Probe('test_comparator')
    for topic in ('compare/real_path', 'compare/predicted_path'):
        probe.subscribe(Path, topic, STATE_QOS)
    probe.subscribe(Image, 'compare/image', SENSOR_QOS)
    probe.subscribe(MarkerArray, 'compare/markers', STATE_QOS)
    probe.subscribe(String, 'compare/metrics', STATE_QOS)
    probe.subscribe(DiagnosticArray, '/diagnostics', STATE_QOS)
    pub = {}
    for topic in ('camera/image_raw', 'imagined/camera/image_raw'):
        pub[topic] = probe.node.create_publisher(Image, topic, STATE_QOS)
    for topic in ('ee_pose', 'imagined/ee_pose'):
        pub[topic] = probe.node.create_publisher(PoseStamped, topic, STATE_QOS)
    pub['resync'] = probe.node.create_publisher(Header, 'imagined/resync', LATCHED_QOS)
    probe.pub = pub
    ready = probe.spin(30, lambda: all(p.get_subscription_count() for p in pub.values())
                       and probe.msgs['compare/metrics'])
    assert ready, f'comparator did not come up; log:\n{bringup.log("comparator")}'
    yield probe, bringup
    probe.close()
    codes = bringup.stop()
    assert codes['comparator'] == 0, bringup.log('comparator')


def stamp_at(t_ns: int) -> Time:
    return Time(sec=t_ns // 10**9, nanosec=t_ns % 10**9)


def pose(x: float, y: float, stamp) -> PoseStamped:
    msg = PoseStamped()
    msg.header.stamp, msg.header.frame_id = stamp, 'board'
    msg.pose.position.x, msg.pose.position.y = x, y
    msg.pose.orientation.w = 1.0
    return msg


def publish_pair(probe, stamp, real_xy, real_img, imagined_img, offset=OFFSET):
    probe.pub['camera/image_raw'].publish(image_codec.to_msg(real_img, stamp))
    probe.pub['imagined/camera/image_raw'].publish(image_codec.to_msg(imagined_img, stamp))
    probe.pub['ee_pose'].publish(pose(*real_xy, stamp))
    probe.pub['imagined/ee_pose'].publish(pose(real_xy[0] + offset, real_xy[1], stamp))


def test_pairs_are_scored_per_horizon(comparator):
    probe, _ = comparator
    t0 = probe.node.get_clock().now().nanoseconds
    probe.pub['resync'].publish(Header(stamp=stamp_at(t0), frame_id='start'))
    probe.spin(0.3)
    real = np.full((64, 64, 3), 100, np.uint8)
    real[20:30, 20:30] = (200, 30, 30)
    imagined = real + 10
    for k in range(1, STEPS + 1):
        publish_pair(probe, stamp_at(t0 + k * 10**8), (-0.1 + 0.01 * k, 0.05), real, imagined)
        probe.spin(0.05)

    def done():
        m = probe.last('compare/metrics')
        return m is not None and json.loads(m.data)['pairs'] >= STEPS
    assert probe.spin(15, done), probe.last('compare/metrics')
    probe.spin(0.3)
    metrics = json.loads(probe.last('compare/metrics').data)
    print('comparator metrics', metrics)
    assert set(metrics['horizons']) == {'1', '4', '8', '16'}
    for h in ('1', '4', '8', '16'):
        m = metrics['horizons'][h]
        assert m['n'] == 1 and m['n_images'] == 1
        assert m['ee_error_m'] == pytest.approx(OFFSET, abs=1e-6)
        assert m['psnr_db'] == pytest.approx(PSNR_DB, abs=0.01)
    image = image_codec.from_msg(probe.last('compare/image'))
    assert image.shape == (64, 3 * 64, 3)                 # real | imagined | difference
    assert (image[:, :64] == real).all() and (image[:, 64:128] == imagined).all()
    assert (image[:, 128:] == 40).all()                   # |10| amplified x4
    real_path, predicted = probe.last('compare/real_path'), probe.last('compare/predicted_path')
    assert len(real_path.poses) == len(predicted.poses) == STEPS
    assert real_path.header.frame_id == 'board'
    xs = np.array([[a.pose.position.x, b.pose.position.x]
                   for a, b in zip(real_path.poses, predicted.poses)])
    np.testing.assert_allclose(xs[:, 1] - xs[:, 0], OFFSET, atol=1e-9)
    np.testing.assert_allclose(xs[:, 0], -0.1 + 0.01 * np.arange(1, STEPS + 1), atol=1e-9)
    markers = probe.last('compare/markers').markers
    assert len(markers) == 3
    assert markers[1].pose.position.x - markers[0].pose.position.x == pytest.approx(OFFSET)
    ok = [s for _, m in probe.msgs['/diagnostics'][-3:] for s in m.status
          if s.name == 'comparator']
    assert ok and ok[-1].level == DiagnosticStatus.OK, ok    # 0.02 m < drift_threshold


def test_large_error_warns_and_bad_sizes_are_reported(comparator):
    probe, bringup = comparator
    t0 = probe.node.get_clock().now().nanoseconds
    probe.pub['resync'].publish(Header(stamp=stamp_at(t0), frame_id='drift'))
    probe.spin(0.3)
    real = np.full((64, 64, 3), 100, np.uint8)
    for k in range(1, STEPS + 1):             # horizon 16 now averages (0.02 + 0.5) / 2
        publish_pair(probe, stamp_at(t0 + k * 10**8), (0.0, 0.0), real, real, offset=0.5)
        probe.spin(0.05)

    def level(wanted, words=()):
        return any(s.name == 'comparator' and s.level == wanted and all(w in s.message
                                                                        for w in words)
                   for _, m in probe.msgs['/diagnostics'] for s in m.status)
    assert probe.spin(15, lambda: level(DiagnosticStatus.WARN, ('horizon 16',)))
    probe.msgs['/diagnostics'].clear()
    stamp = stamp_at(probe.node.get_clock().now().nanoseconds)
    end = time.monotonic() + 5
    while not level(DiagnosticStatus.ERROR, ('64x64', '32x32')) and time.monotonic() < end:
        probe.pub['camera/image_raw'].publish(image_codec.to_msg(real, stamp))
        probe.pub['imagined/camera/image_raw'].publish(
            image_codec.to_msg(np.zeros((32, 32, 3), np.uint8), stamp))
        probe.spin(0.2)
    assert level(DiagnosticStatus.ERROR, ('64x64', '32x32'))
    count = len(probe.msgs['compare/metrics'])
    assert probe.spin(10, lambda: len(probe.msgs['compare/metrics']) > count)
    assert bringup.alive()['comparator']
