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
``expert_driver``: drives the tabletop with the scripted expert over ROS topics.

The expert needs the simulation's ground truth, which ``sim_robot`` publishes on
``task/spec`` (scene + task, transient local) and ``sim/block_poses``; it reads the pusher
on ``ee_pose`` and publishes ``ee_twist_cmd`` at ``rate`` with fresh stamps. When its
inputs are older than ``input_timeout`` it publishes zero velocity and says so on
``/diagnostics``. On PushT (task family ``pusht``) it runs the scripted PushT expert
(:mod:`wm_ros.policy.pusht_expert`) on the T's pose, the one pose of ``sim/block_poses``.
It is the stand-in driver of the reference robots; learned policies that see only the
camera run in the ``policy`` node.
"""

from __future__ import annotations

import json
import time

from geometry_msgs.msg import PoseArray, PoseStamped
import numpy as np
from rclpy.node import Node
from std_msgs.msg import String

from wm_ros.policy.expert import ExpertController
from wm_ros.ros.common import (Commander, declare, Diagnostics, LATCHED_QOS, OK, Param, run,
                               STATE_QOS, WARN)
from wm_ros.sim.scene import Scene
from wm_ros.sim.tasks import PUSHT, Task

PARAMS = {
    'rate': Param(10.0, 'command rate, Hz', 1.0, 100.0, read_only=True),
    'max_speed': Param(0.2, 'per-axis speed limit, m/s', 0.01, 1.0),
    'input_timeout': Param(0.5, 'command zero velocity when inputs are older, s', 0.01, 10.0),
    'frame_id': Param('board', 'frame of the published commands', read_only=True),
}


class ExpertDriverNode(Node):
    """Thin ROS wrapper around :class:`ExpertController`."""

    def __init__(self):
        super().__init__('expert_driver')
        self.p = declare(self, PARAMS)
        self.out = Commander(self, self.p['frame_id'])
        self.create_subscription(String, 'task/spec', self._on_spec, LATCHED_QOS)
        self.create_subscription(PoseStamped, 'ee_pose', self._on_pose, STATE_QOS)
        self.create_subscription(PoseArray, 'sim/block_poses', self._on_blocks, STATE_QOS)
        self.diag = Diagnostics(self)
        self.controller = None
        self.ee = self.blocks = None
        self.ee_time = self.blocks_time = -np.inf
        self.create_timer(1.0 / self.p['rate'], self._tick)

    def _on_spec(self, msg: String):
        spec = json.loads(msg.data)
        if spec['task']['family'] == PUSHT:
            from wm_ros.policy.pusht_expert import PushTController
            self.controller = PushTController.for_board(spec.get('board_half', 0.25),
                                                        self.p['max_speed'], self.p['rate'])
        else:
            self.controller = ExpertController(
                Scene.from_dict(spec['scene']), Task.from_dict(spec['task']),
                spec.get('board_half', 0.25), self.p['max_speed'], self.p['rate'])
        self.get_logger().info(f'new task: "{spec["task"]["instruction"]}"')

    def _on_pose(self, msg: PoseStamped):
        self.ee = np.array([msg.pose.position.x, msg.pose.position.y])
        self.ee_time = time.monotonic()

    def _on_blocks(self, msg: PoseArray):
        self.blocks = np.array([[p.position.x, p.position.y] for p in msg.poses])
        self.yaws = np.array([2 * np.arctan2(p.orientation.z, p.orientation.w)
                              for p in msg.poses])
        self.blocks_time = time.monotonic()

    def _tick(self):
        now = time.monotonic()
        stale = now - min(self.ee_time, self.blocks_time) > self.p['input_timeout']
        v = np.zeros(2)
        if self.controller is None or stale:
            self.diag.report(WARN, 'waiting for task/spec' if self.controller is None else
                             'inputs stale: commanding zero velocity')
        elif not isinstance(self.controller, ExpertController):      # PushT: the T's pose
            v = self.controller.act(self.ee, [*self.blocks[0], self.yaws[0]])
            self.diag.report(OK, 'driving')
        elif len(self.blocks) != len(self.controller.scene.blocks):
            self.diag.report(WARN, 'block poses do not match the task scene: zero velocity')
        else:
            v = self.controller.act(self.ee, self.blocks)
            self.diag.report(OK, 'driving', subgoals_left=len(self.controller.plan))
        self.out.send(v)

    def on_shutdown(self):
        """Command zero velocity as the node stops (SIGINT, SIGTERM, an exception)."""
        acked = self.out.stop()
        self.get_logger().info(f'stopping: zero twist sent{"" if acked else " (not acked)"}')


def main(args=None) -> int:
    """Entry point of the ``expert_driver`` executable."""
    return run(ExpertDriverNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
