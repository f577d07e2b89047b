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
``wm-ros demo``: the reference robot driven by the expert, across processes over DDS.

Starts the ``sim`` graph (``sim_robot`` + ``expert_driver``, each its own process), watches
``camera/image_raw``, ``task/instruction`` and ``task/success`` from this process like any
ROS tool would, stops when the task is solved (plus a short settle) or on timeout, and
writes the camera stream to ``<out>/camera.mp4`` (and a GIF preview) and a ``summary.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import time

import imageio.v2 as imageio
import numpy as np

from wm_ros.ros.bringup import Bringup


def run_demo(out: str | Path = 'out/demo', task: str = 'block_to_region', seed: int = 0,
             timeout: float = 60.0, image_size: int = 128, settle: float = 1.0) -> dict:
    """Run the demo and return its summary (see the module docstring)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    overrides = {'sim_robot': {'task': task, 'seed': seed, 'image_size': image_size}}
    bringup = Bringup('sim', overrides, log_dir=out / 'logs')
    for key in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE'):
        os.environ[key] = bringup.env[key]
    import rclpy
    from sensor_msgs.msg import Image
    from std_msgs.msg import Bool, String

    from wm_ros.ros import image_codec
    from wm_ros.ros.common import LATCHED_QOS, SENSOR_QOS, STATE_QOS

    frames: list[np.ndarray] = []
    state = {'instruction': None, 'success': False, 'solved_at': None}
    rclpy.init()
    node = rclpy.create_node('wm_ros_demo')

    def on_success(msg):
        if msg.data and state['solved_at'] is None:
            state['solved_at'] = time.monotonic()
        state['success'] = state['success'] or msg.data

    node.create_subscription(Image, 'camera/image_raw',
                             lambda m: frames.append(image_codec.from_msg(m)), SENSOR_QOS)
    node.create_subscription(String, 'task/instruction',
                             lambda m: state.__setitem__('instruction', m.data), LATCHED_QOS)
    node.create_subscription(Bool, 'task/success', on_success, STATE_QOS)
    start = time.monotonic()
    bringup.start()
    try:
        while time.monotonic() - start < timeout:
            rclpy.spin_once(node, timeout_sec=0.05)
            if state['solved_at'] and time.monotonic() - state['solved_at'] > settle:
                break
            if not all(bringup.alive().values()):
                break
    finally:
        alive = bringup.alive()
        bringup.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    if not all(alive.values()):
        dead = [n for n, ok in alive.items() if not ok]
        raise RuntimeError(f'node(s) {dead} died; see {out / "logs"}')
    if not frames:
        raise RuntimeError(f'no camera frames arrived; see {out / "logs"}')
    video = out / 'camera.mp4'
    imageio.mimsave(video, frames, fps=10, macro_block_size=1)
    imageio.mimsave(out / 'camera.gif', frames[::2], duration=0.2, loop=0)
    summary = {'instruction': state['instruction'], 'success': state['success'],
               'frames': len(frames), 'seconds': round(time.monotonic() - start, 2),
               'time_to_success_s': (round(state['solved_at'] - start, 2)
                                     if state['solved_at'] else None),
               'video': str(video), 'ros_domain_id': bringup.env['ROS_DOMAIN_ID']}
    (out / 'summary.json').write_text(json.dumps(summary, indent=2))
    return summary
