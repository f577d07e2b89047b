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

"""Helpers for multi-process ROS tests: a probe node in the test process, nodes under test."""

from pathlib import Path
import signal
import subprocess
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, TwistStamped
import numpy as np
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, String

from wm_ros.ros import image_codec
from wm_ros.ros.bringup import Bringup, local_ros_env, node_command
from wm_ros.ros.common import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS, STATE_QOS
from wm_ros.ros.probe import Probe

__all__ = ['CommanderUnderTest', 'driving_probe', 'drive', 'ee', 'fatal_exit', 'Probe',
           'ROBOT_TOPICS', 'start_robot', 'stop_cleanly', 'TWIST_QOS', 'wait_published']

TWIST_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


def driving_probe(name: str, topics: tuple) -> Probe:
    """
    Return a probe recording ``topics`` (``(type, topic, qos)`` each) that drives the robot.

    Its ``twist`` publishes on ``ee_twist_cmd`` as a controller does (see :func:`drive`).
    """
    probe = Probe(name)
    for kind, topic, qos in topics:
        probe.subscribe(kind, topic, qos)
    probe.twist = probe.node.create_publisher(TwistStamped, 'ee_twist_cmd', COMMAND_QOS)
    return probe


#: What every robot publishes (``sim_robot``, either robot): (type, topic, QoS).
ROBOT_TOPICS = ((PoseStamped, 'ee_pose', STATE_QOS), (Image, 'camera/image_raw', SENSOR_QOS),
                (CameraInfo, 'camera/camera_info', STATE_QOS),
                (JointState, 'joint_states', STATE_QOS),
                (String, 'task/instruction', LATCHED_QOS), (Bool, 'task/success', STATE_QOS))


def start_robot(log_dir: Path, params: dict, probe_name: str, extra: tuple, seconds: float,
                ready):
    """
    Start ``sim_robot`` with ``params`` and a driving probe on its topics plus ``extra``.

    Waits up to ``seconds`` for ``ready(probe)``; returns ``(probe, bringup)``.
    """
    bringup = Bringup('robot', {'sim_robot': params}, log_dir=log_dir).start()
    probe = driving_probe(probe_name, ROBOT_TOPICS + tuple(extra))
    wait_published(probe, bringup, 'sim_robot', seconds, lambda: ready(probe))
    return probe, bringup


def ee(probe: Probe) -> np.ndarray:
    """Return the last ``ee_pose``'s (x, y) in metres."""
    p = probe.last('ee_pose').pose.position
    return np.array([p.x, p.y])


def drive(probe: Probe, vx: float, vy: float, seconds: float, stamp_offset: float = 0.0):
    """Publish the twist ``(vx, vy)`` at 20 Hz for ``seconds``, stamped ``stamp_offset`` s old."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        msg = TwistStamped()
        now = probe.node.get_clock().now().nanoseconds - int(stamp_offset * 1e9)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 10**9)
        msg.header.frame_id = 'board'
        msg.twist.linear.x, msg.twist.linear.y = float(vx), float(vy)
        probe.twist.publish(msg)
        probe.spin(0.05)


def wait_published(probe: Probe, bringup, node: str, seconds: float, published):
    """Spin until ``published()`` (or ``node`` of ``bringup`` dies); fail with its log if not."""
    probe.spin(seconds, lambda: published() or not bringup.alive()[node])   # fail fast on a crash
    assert published(), f'{node} published nothing; log:\n{bringup.log(node)}'


def stop_cleanly(probe: Probe, bringup, node: str):
    """Close ``probe``, stop ``bringup`` and check that ``node`` exited with 0 (else its log)."""
    probe.close()
    codes = bringup.stop()
    assert codes[node] == 0, bringup.log(node)


def fatal_exit(log_dir: Path, spec, params: dict, timeout: float) -> str:
    """Run the node ``spec`` with ``params`` it must refuse: it exits 1; its first FATAL line."""
    log = log_dir / f'{spec.name}.log'
    proc = subprocess.run(node_command(spec, None, params), env=local_ros_env(),
                          stdout=log.open('w'), stderr=subprocess.STDOUT, timeout=timeout)
    assert proc.returncode == 1, log.read_text()
    fatal = [line for line in log.read_text().splitlines() if '[FATAL]' in line]
    assert fatal, log.read_text()
    return fatal[0]


class CommanderUnderTest:
    """
    A commanding node's process (``policy``, ``planner``) and a probe node playing the robot.

    The probe records ``ee_twist_cmd``, ``/diagnostics`` and the node's own ``topics``
    (``name -> (type, qos)``) and publishes camera frames and poses on both sources.
    """

    def __init__(self, log_dir: Path, executable: str, name: str, topics: dict, **params):
        self.name = name
        self.log_path = log_dir / f'{name}.log'
        self.proc = subprocess.Popen(node_command(executable, None, params),
                                     env=local_ros_env(), stdout=self.log_path.open('w'),
                                     stderr=subprocess.STDOUT)
        self.probe = probe = Probe(f'{name}_probe')
        probe.subscribe(TwistStamped, 'ee_twist_cmd', TWIST_QOS)
        probe.subscribe(DiagnosticArray, '/diagnostics', STATE_QOS)
        for topic, (kind, qos) in topics.items():
            probe.subscribe(kind, topic, qos)
        node = probe.node
        self.pubs = {s: (node.create_publisher(Image, f'{p}camera/image_raw', STATE_QOS),
                         node.create_publisher(PoseStamped, f'{p}ee_pose', STATE_QOS))
                     for s, p in (('real', ''), ('imagined', 'imagined/'))}

    def wait_up(self, seconds: float, topic: str):
        """Wait for the node's first message on ``topic`` and its camera subscriptions."""
        probe = self.probe
        try:
            up = probe.spin(seconds, lambda: probe.msgs[topic] or self.proc.poll() is not None)
            assert up and self.proc.poll() is None, f'{self.name} did not come up:\n{self.log()}'
            assert probe.spin(10, lambda: all(p[0].get_subscription_count() for p in
                                              self.pubs.values())), f'{self.name} never subscribed'
        except AssertionError:
            self.close()
            raise

    def log(self) -> str:
        return self.log_path.read_text()

    def send(self, source, image, ee_xy, encoding='rgb8') -> float:
        """Publish the pusher pose and the frame of one stamp (as sim_robot does)."""
        stamp = self.probe.node.get_clock().now().to_msg()
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, 'board'
        pose.pose.position.x, pose.pose.position.y = float(ee_xy[0]), float(ee_xy[1])
        image_pub, pose_pub = self.pubs[source]
        pose_pub.publish(pose)
        if encoding == 'rgb8':
            image_pub.publish(image_codec.to_msg(image, stamp, 'camera'))
        else:
            image_pub.publish(image_codec.to_msg(image, stamp, 'camera', encoding=encoding,
                                                 use_bridge=False))
        return time.monotonic()

    def twists(self, since=0.0, stamped_after_ns=0):
        """Return ``(receipt time, velocity, msg)`` of twists received since ``since``."""
        return [(t, np.array([m.twist.linear.x, m.twist.linear.y]), m)
                for t, m in self.probe.msgs['ee_twist_cmd'] if t >= since and
                m.header.stamp.sec * 10**9 + m.header.stamp.nanosec > stamped_after_ns]

    def set_param(self, name, value):
        client = AsyncParameterClient(self.probe.node, self.name)
        assert client.wait_for_services(10.0)
        future = client.set_parameters([Parameter(name, value=value)])
        assert self.probe.spin(10, future.done)
        return future.result().results[0]

    def close(self):
        """Stop the node with SIGINT, recording what it sends as it stops; return its code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.probe.spin(30, lambda: self.proc.poll() is not None)  # a loaded host needs time
        self.probe.spin(0.2)
        self.probe.close()
        try:
            return self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
