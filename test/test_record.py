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

"""``wm-ros record`` in its own process: Ctrl-C leaves a readable MCAP bag of what arrived."""

import signal
import subprocess
import sys
import time

from geometry_msgs.msg import PoseStamped
import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from sensor_msgs.msg import Image
from std_msgs.msg import String

from wm_ros import image_encoding
from wm_ros.ros import image_codec
from wm_ros.ros.common import LATCHED_QOS, STATE_QOS

from .rosutil import Probe

pytestmark = pytest.mark.ros


def start_recorder(out, log, *args):
    cmd = [sys.executable, '-m', 'wm_ros.cli', 'record', '--out', str(out), *args]
    return subprocess.Popen(cmd, stdout=log.open('w'), stderr=subprocess.STDOUT)


def read_bag(path):
    with AnyReader([path]) as reader:
        counts = {c.topic: 0 for c in reader.connections}
        images = []
        for conn, _, raw in reader.messages():
            counts[conn.topic] += 1
            if conn.msgtype == 'sensor_msgs/msg/Image':
                images.append(reader.deserialize(raw, conn.msgtype))
        return counts, images


@pytest.fixture
def probe():
    probe = Probe('record_probe')
    yield probe
    probe.close()


def test_sigint_leaves_a_readable_bag_with_late_topics(probe, tmp_path):
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)      # H != W catches swaps
    pub_image = probe.node.create_publisher(Image, 'camera/image_raw', STATE_QOS)
    pub_pose = probe.node.create_publisher(PoseStamped, 'ee_pose', STATE_QOS)
    pub_text = probe.node.create_publisher(String, 'task/instruction', LATCHED_QOS)
    pub_text.publish(String(data='push the red cube to the left'))   # before the recorder
    bag, log = tmp_path / 'bag', tmp_path / 'record.log'
    proc = start_recorder(bag, log, '--topics', '/camera/image_raw', 'ee_pose',
                          'task/instruction', 'imagined/ee_pose', 'never/published')
    try:
        assert probe.spin(20, lambda: '/ee_pose [' in log.read_text() and
                          '/task/instruction [' in log.read_text()), log.read_text()
        assert 'transient local' in next(line for line in log.read_text().splitlines()
                                         if 'task/instruction' in line and '[' in line)
        sent = {'image': 0, 'pose': 0, 'late': 0}
        late = None
        start = time.monotonic()
        while time.monotonic() - start < 4.0:
            now = probe.node.get_clock().now().to_msg()
            pub_image.publish(image_codec.to_msg(frame, now, 'camera'))
            pose = PoseStamped()
            pose.header.stamp, pose.header.frame_id = now, 'board'
            pose.pose.position.x = 0.01 * sent['pose']
            pub_pose.publish(pose)
            sent['image'] += 1
            sent['pose'] += 1
            if late is None and time.monotonic() - start > 1.0:    # appears mid-recording
                late = probe.node.create_publisher(PoseStamped, 'imagined/ee_pose', STATE_QOS)
            if late is not None:
                late.publish(pose)
                sent['late'] += 1
            probe.spin(0.05)
        assert '/imagined/ee_pose [' in log.read_text(), log.read_text()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert code == 0, output
    assert 'never published' in output            # the per-topic summary names every topic
    counts, images = read_bag(bag)
    assert set(counts) == {'/camera/image_raw', '/ee_pose', '/task/instruction',
                           '/imagined/ee_pose'}
    assert counts['/task/instruction'] == 1      # latched: published before recording
    # subscribed within ~0.5 s of the recorder starting; a reliable local link loses nothing
    assert counts['/ee_pose'] >= 0.8 * sent['pose'], (counts, sent)
    assert counts['/camera/image_raw'] >= 0.8 * sent['image'], (counts, sent)
    # the late topic is found at the next 1 s re-check
    assert 0.3 * sent['late'] <= counts['/imagined/ee_pose'] <= sent['late'], (counts, sent)
    reported = {line.split()[0]: int(line.split()[1]) for line in output.splitlines()
                if line.startswith('  /')}
    assert reported == {**counts, '/never/published': 0}
    img = images[-1]
    assert (img.height, img.width, img.encoding) == (64, 48, 'rgb8')
    decoded = image_encoding.decode(img.data, img.height, img.width, img.encoding, img.step)
    np.testing.assert_array_equal(decoded, frame)


def test_duration_stops_by_itself_and_refuses_existing_dir(probe, tmp_path):
    pub_pose = probe.node.create_publisher(PoseStamped, 'ee_pose', STATE_QOS)
    bag, log = tmp_path / 'bag', tmp_path / 'record.log'
    proc = start_recorder(bag, log, '--topics', 'ee_pose', '--duration', '5')
    try:
        assert probe.spin(20, lambda: 'recording to' in log.read_text()), log.read_text()
        start = time.monotonic()
        while proc.poll() is None and time.monotonic() - start < 20:
            pub_pose.publish(PoseStamped())
            probe.spin(0.05)
        took = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.wait() == 0, log.read_text()
    assert 4.5 < took < 10, took
    counts, _ = read_bag(bag)
    assert counts['/ee_pose'] > 10, log.read_text()   # seconds at ~20 Hz after discovery
    again = subprocess.run([sys.executable, '-m', 'wm_ros.cli', 'record', '--out', str(bag),
                            '--duration', '1'], capture_output=True, text=True, timeout=60)
    assert again.returncode == 2
    assert 'exists' in again.stderr and str(bag) in again.stderr
