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
``sensor_msgs/Image`` <-> numpy, through ``cv_bridge`` when it works, else pure numpy.

``cv_bridge`` is used only when it imports *and* round-trips a ROS 2 message (the PyPI
``cv-bridge`` is a ROS 1 build that fails on ROS 2 messages); otherwise the numpy codec
in :mod:`wm_ros.image_encoding` does the work. Both produce ``uint8[H, W, 3]`` RGB.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

from wm_ros import image_encoding
from wm_ros.image_encoding import ImageEncodingError

__all__ = ['ImageEncodingError', 'from_msg', 'to_msg', 'backend']


def _load_bridge():
    try:
        from cv_bridge import CvBridge
        bridge = CvBridge()
        probe = bridge.cv2_to_imgmsg(np.zeros((2, 2, 3), np.uint8), encoding='rgb8')
        if not isinstance(probe, Image):
            return None
        return bridge
    except Exception:  # noqa: BLE001 - any failure means: use the numpy codec
        return None


_BRIDGE = _load_bridge()


def backend() -> str:
    """Return ``'cv_bridge'`` or ``'numpy'``: the codec in use."""
    return 'cv_bridge' if _BRIDGE is not None else 'numpy'


def to_msg(rgb: np.ndarray, stamp=None, frame_id: str = 'camera', encoding: str = 'rgb8',
           use_bridge: bool = True) -> Image:
    """Return a ``sensor_msgs/Image`` of ``rgb: uint8[H, W, 3]`` in ``encoding``."""
    rgb = image_encoding.check_rgb(rgb)
    if use_bridge and _BRIDGE is not None and encoding in ('rgb8', 'bgr8'):
        arr = rgb if encoding == 'rgb8' else np.ascontiguousarray(rgb[:, :, ::-1])
        msg = _BRIDGE.cv2_to_imgmsg(arr, encoding=encoding)
    else:
        data, step = image_encoding.encode(rgb, encoding)
        msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding=encoding,
                    is_bigendian=0, step=step)
        msg.data = data
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def from_msg(msg: Image, size: tuple[int, int] | None = None, use_bridge: bool = True
             ) -> np.ndarray:
    """Return ``uint8[H, W, 3]`` RGB from ``msg``; ``size=(H, W)`` also checks the size."""
    if use_bridge and _BRIDGE is not None and msg.encoding in ('rgb8', 'bgr8', 'mono8'):
        rgb = np.asarray(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding='rgb8'))
    else:
        rgb = image_encoding.decode(msg.data, msg.height, msg.width, msg.encoding, msg.step)
    return image_encoding.check_rgb(rgb, size)
