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
``sim_robot``: a reference robot published exactly as a real robot driver would be.

``robot`` (read-only) picks it: ``tabletop`` (the MuJoCo tabletop, default) or ``pusht``
(gym-pusht, :mod:`wm_ros.sim.pusht`: the T is the one pose of ``sim/block_poses``, with
its yaw; success is the T covering 95 % of its goal; ``task``, ``n_blocks`` and
``shadows`` do not apply; ``rate`` must divide its 100 Hz physics). Both publish the same
topics.

Publishes ``camera/image_raw`` (rgb8) and ``camera/camera_info``, ``ee_pose``
(PoseStamped, frame ``board``), ``joint_states`` (pusher_x, pusher_y), ``task/instruction``
(String, transient local), ``task/success`` (Bool), and the simulation-only ground truth
``sim/block_poses`` (PoseArray, scene order) and ``task/spec`` (JSON, transient local),
which the scripted expert uses. Subscribes to ``ee_twist_cmd`` (TwistStamped, m/s).
Service ``~/reset`` (std_srvs/Trigger) starts the next episode.

Safety: a command older than ``command_timeout`` (by receipt time or header stamp) is
dropped and the pusher is stopped; a command with NaN/inf is rejected, the pusher is
stopped and the error is reported on ``/diagnostics``; speeds beyond the limit are
clipped and reported as a warning.
"""

from __future__ import annotations

import time

from geometry_msgs.msg import PoseArray, TwistStamped
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from wm_ros.ros import image_codec
from wm_ros.ros.common import (COMMAND_QOS, declare, Diagnostics, ERROR, FaultLog, OK, Param,
                               RateMeter, run, STATE_QOS, WARN)
from wm_ros.ros.messages import pose_msg, stamp_age
from wm_ros.ros.robot_output import CameraOutput, TaskOutput
from wm_ros.sim.robots import make_env, ROBOTS
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
from wm_ros.sim.tasks import FAMILIES

PARAMS = {
    'robot': Param('tabletop', 'reference robot: tabletop (MuJoCo) or pusht (gym-pusht)',
                   choices=tuple(ROBOTS), read_only=True),
    'rate': Param(10.0, 'control and camera rate, Hz', 1.0, 100.0, read_only=True),
    'image_size': Param(64, 'square camera image size, pixels', 16, 512, read_only=True),
    'task': Param('block_to_region', 'task family, or random', choices=FAMILIES + ('random',)),
    'seed': Param(0, 'seed of the first episode (next resets use seed+1, ...)', 0, 2**31 - 1),
    'n_blocks': Param(4, 'blocks per scene', 4, 8),
    'max_speed': Param(0.2, 'per-axis end-effector speed limit, m/s', 0.01, 1.0,
                       read_only=True),
    'command_timeout': Param(0.5, 'stop the pusher when no fresh command for this long, s',
                             0.01, 10.0),
    'shadows': Param(False, 'render shadows (step+render about 4.8x slower)', read_only=True),
    'frame_id': Param('board', 'frame of ee_pose, block poses and commands', read_only=True),
    'camera_frame_id': Param('camera', 'frame of the camera images', read_only=True),
}


class SimRobotNode(Node):
    """Thin ROS wrapper around :class:`TabletopEnv` or :class:`~wm_ros.sim.pusht.PushTEnv`."""

    def __init__(self):
        super().__init__('sim_robot')
        self.p = declare(self, PARAMS)
        p = self.p
        if p['robot'] == 'tabletop':
            self.env = TabletopEnv(TabletopConfig(
                image_size=p['image_size'], control_hz=p['rate'], max_speed=p['max_speed'],
                n_blocks=p['n_blocks'], task=p['task'], shadows=p['shadows']))
        else:
            self.env = make_env(p['robot'], p['image_size'], p['rate'], p['max_speed'])
        self.camera = CameraOutput(self, '', self.env.config.image_size,
                                   self.env.config.board_half, p['frame_id'])
        self.pub_joints = self.create_publisher(JointState, 'joint_states', STATE_QOS)
        self.pub_blocks = self.create_publisher(PoseArray, 'sim/block_poses', STATE_QOS)
        self.pub_success = self.create_publisher(Bool, 'task/success', STATE_QOS)
        self.task_out = TaskOutput(self)
        self.create_subscription(TwistStamped, 'ee_twist_cmd', self._on_cmd, COMMAND_QOS)
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.diag = Diagnostics(self)
        self.rate = RateMeter()
        self.cmd = np.zeros(2)
        self.cmd_time = -np.inf
        self.faults = FaultLog(self)
        self.episode = 0
        self._reset_env()
        self.create_timer(1.0 / p['rate'], self._tick)
        self.get_logger().info(
            f'sim_robot up: {p["robot"]}, {p["image_size"]}x{p["image_size"]} camera at '
            f'{p["rate"]} Hz, '
            f'codec {image_codec.backend()}, task "{self.env.task.instruction}"')

    # ---------------------------------------------------------------- callbacks
    def _on_cmd(self, msg: TwistStamped):
        v = np.array([msg.twist.linear.x, msg.twist.linear.y], np.float64)
        shown = '[' + ', '.join(f'{x:.3g}' for x in v) + ']'
        if not np.all(np.isfinite(v)):
            self.cmd, self.cmd_time = np.zeros(2), -np.inf
            self._fault('non_finite', ERROR, f'rejected ee_twist_cmd with non-finite velocity '
                        f'{shown}: pusher stopped; send finite m/s')
            return
        age = stamp_age(self, msg.header.stamp)
        if age > self.p['command_timeout']:
            self._fault('stale', WARN, f'dropped ee_twist_cmd {age:.3f} s old '
                        f'(command_timeout {self.p["command_timeout"]} s)')
            return
        limit = self.p['max_speed']
        clipped = np.clip(v, -limit, limit)                  # in float64: 1e308 -> limit
        if np.any(clipped != v):
            self._fault('clipped', WARN, f'ee_twist_cmd {shown} m/s clipped to +-{limit}')
        self.cmd, self.cmd_time = clipped, time.monotonic()

    def _fault(self, kind: str, level: bytes, message: str):
        """Count and (throttled) log a command problem; /diagnostics shows it for a while."""
        self.faults.report(kind, level, message)
        self.diag.report(level, message, **self.faults.counts())

    def _on_reset(self, request, response):
        self.episode += 1
        self._reset_env()
        response.success, response.message = True, self.env.task.instruction
        return response

    # ---------------------------------------------------------------- loop
    def _reset_env(self):
        self.cmd, self.cmd_time = np.zeros(2), -np.inf
        self.obs, self.info = self.env.reset(seed=self.p['seed'] + self.episode)
        self.task_out.publish(self.env.scene, self.env.task, self.env.config.board_half,
                              self.episode)
        self._publish()

    def _tick(self):
        fresh = time.monotonic() - self.cmd_time <= self.p['command_timeout']
        action = self.cmd if fresh else np.zeros(2)
        self.obs, _, _, _, self.info = self.env.step(action)
        self._publish()
        rate = self.rate.tick()
        level, message = self.faults.held(
            OK, 'commanded' if fresh else 'no fresh command: pusher stopped')
        coverage = {'coverage': f'{self.info["coverage"]:.3f}'} if 'coverage' in self.info \
            else {}
        self.diag.report(level, message, rate_hz=f'{rate:.1f}', step=self.env.t,
                         success=self.info['success'], **coverage, **self.faults.counts())

    def _publish(self):
        stamp = self.get_clock().now().to_msg()
        frame = self.p['frame_id']
        ee = self.obs['ee_xy']
        self.camera.publish(self.obs['image'], ee, stamp, self.p['camera_frame_id'])
        joints = JointState(name=['pusher_x', 'pusher_y'], position=[float(ee[0]), float(ee[1])],
                            velocity=[float(v) for v in self.env.ee_velocity()])
        joints.header.stamp = stamp
        self.pub_joints.publish(joints)
        blocks = PoseArray(poses=[pose_msg(*s) for s in self.env.block_states()])
        blocks.header.stamp, blocks.header.frame_id = stamp, frame
        self.pub_blocks.publish(blocks)
        self.pub_success.publish(Bool(data=bool(self.info['success'])))


def main(args=None) -> int:
    """Entry point of the ``sim_robot`` executable."""
    return run(SimRobotNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
