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
What a node that stands for the robot publishes (``sim_robot``, ``world_model``).

Both publish a camera (``<prefix>camera/image_raw`` with its ``camera_info``) and the
end-effector pose (``<prefix>ee_pose``) stamped alike, and the task (``task/instruction``
and the ``task/spec`` JSON, transient local); ``world_model`` with the prefix
``imagined/``. :class:`CameraOutput` and :class:`TaskOutput` hold those publishers.
"""

from __future__ import annotations

from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import String

from wm_ros.ros import image_codec
from wm_ros.ros.common import image_publisher, LATCHED_QOS, STATE_QOS
from wm_ros.ros.messages import camera_info, pose_msg, task_spec


class CameraOutput:
    """A top-down camera of ``size`` pixels over a board ``board_half`` m, and the pusher."""

    def __init__(self, node: Node, prefix: str, size: int, board_half: float,
                 frame_id: str = 'board'):
        self.size, self.board_half, self.frame_id = size, board_half, frame_id
        self.image = image_publisher(node, f'{prefix}camera/image_raw')
        self.info = node.create_publisher(CameraInfo, f'{prefix}camera/camera_info', STATE_QOS)
        self.pose = node.create_publisher(PoseStamped, f'{prefix}ee_pose', STATE_QOS)

    def publish(self, rgb, ee, stamp, camera_frame: str):
        """Publish image ``rgb`` and its camera info in ``camera_frame``, then pose ``ee``."""
        self.image.publish(image_codec.to_msg(rgb, stamp, camera_frame))
        self.info.publish(camera_info(stamp, camera_frame, self.size, self.board_half))
        pose = PoseStamped(pose=pose_msg(*ee))
        pose.header.stamp, pose.header.frame_id = stamp, self.frame_id
        self.pose.publish(pose)


class TaskOutput:
    """The task of an episode: its instruction and ``task/spec`` (both transient local)."""

    def __init__(self, node: Node):
        self.instruction = node.create_publisher(String, 'task/instruction', LATCHED_QOS)
        self.spec = node.create_publisher(String, 'task/spec', LATCHED_QOS)

    def publish(self, scene, task, board_half: float, episode: int):
        """Publish the instruction of ``task``, then the spec of ``scene`` and ``task``."""
        self.instruction.publish(String(data=task.instruction))
        self.spec.publish(String(data=task_spec(scene, task, board_half, episode)))
