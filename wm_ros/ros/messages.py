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
Messages and small helpers the wm_ros nodes share, so that no node imports another.

Stamps (``stamp_ns``, ``stamp_age``), the planar pose and the command twist
(``pose_msg``, ``twist_msg``), the top-down camera's ``CameraInfo``, the ``task/spec`` JSON,
a node's world model directory (``model_dir``) and the board size a world model was
trained on (``board_half_of``).
"""

from __future__ import annotations

import json
from pathlib import Path

from geometry_msgs.msg import Pose, TwistStamped
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo

from wm_ros.artefacts import WORLD_MODEL
from wm_ros.runtime.registry import model_metadata


def pose_msg(x: float, y: float, yaw: float = 0.0) -> Pose:
    """Return a planar ``Pose`` (z = 0) at ``x, y`` with heading ``yaw``."""
    pose = Pose()
    pose.position.x, pose.position.y = float(x), float(y)
    pose.orientation.z, pose.orientation.w = float(np.sin(yaw / 2)), float(np.cos(yaw / 2))
    return pose


def model_dir(model_file_path: str, node: str) -> Path:
    """
    Return the world model directory a ``model_file_path`` parameter names ('' = shipped).

    Raises ``FileNotFoundError`` naming ``node`` when there is no such directory, so the
    node stops at start-up with the reason.
    """
    path = Path(model_file_path or WORLD_MODEL)
    if not path.exists():
        raise FileNotFoundError(f'{node}: model_file_path {path} does not exist; pass a '
                                "trained world model directory or '' for the shipped model")
    return path


def board_half_of(model_path: Path) -> float:
    """Return the board half width (m) from any family's model.json (0.25 if it has none)."""
    return float(model_metadata(model_path).get('board_half', 0.25))


def task_spec(scene, task, board_half: float, episode: int) -> str:
    """Return the ``task/spec`` JSON (scene, task, board size, episode) that nodes share."""
    return json.dumps({'scene': scene.to_dict(), 'task': task.to_dict(),
                       'board_half': board_half, 'episode': episode})


def stamp_ns(stamp) -> int:
    """Return a ``builtin_interfaces/Time`` as integer nanoseconds."""
    return stamp.sec * 10**9 + stamp.nanosec


def stamp_age(node: Node, stamp) -> float:
    """Return how old a header ``stamp`` is, in seconds (0 for an unset stamp)."""
    if stamp.sec == 0 and stamp.nanosec == 0:
        return 0.0
    return (node.get_clock().now().nanoseconds - stamp_ns(stamp)) / 1e9


def camera_info(stamp, frame_id: str, size: int, board_half: float) -> CameraInfo:
    """Return the orthographic top-down camera: pixel = (x, y) / metres-per-pixel + centre."""
    info = CameraInfo(height=size, width=size, distortion_model='plumb_bob')
    info.header.stamp, info.header.frame_id = stamp, frame_id
    f = size / (2 * board_half)     # at unit depth an orthographic camera has this scale
    info.k = [f, 0.0, size / 2, 0.0, f, size / 2, 0.0, 0.0, 1.0]
    info.p = [f, 0.0, size / 2, 0.0, 0.0, f, size / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.d = [0.0] * 5
    return info


def twist_msg(node: Node, v, frame_id: str) -> TwistStamped:
    """Return a ``TwistStamped`` command ``v = (vx, vy)`` m/s, stamped now in ``frame_id``."""
    msg = TwistStamped()
    msg.header.stamp = node.get_clock().now().to_msg()
    msg.header.frame_id = frame_id
    msg.twist.linear.x, msg.twist.linear.y = float(v[0]), float(v[1])
    return msg
