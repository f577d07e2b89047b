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
The camera input of a commanding node (``policy``, ``planner``): streams, checks, pairing.

Both nodes subscribe to the real stream (``camera/image_raw`` + ``ee_pose``) and the
imagined one (``imagined/...``, the world model) and act on the one their ``source``
parameter names. This module holds what they share: the topic names, the image check with
its message, :class:`PoseSync`, which pairs each image with the end-effector pose of its
stamp (plain Python), and :class:`CameraInput`, the subscriptions and callbacks both nodes
mix in, with their status on ``/diagnostics``, the watchdog's zero twist and the final one.
"""

from __future__ import annotations

import time

from geometry_msgs.msg import PoseStamped
import numpy as np
from sensor_msgs.msg import Image

from wm_ros.ros.common import declare, ERROR, SENSOR_QOS, STATE_QOS, WARN
from wm_ros.ros.messages import stamp_ns

SOURCES = ('real', 'imagined')
INPUT_TOPICS = {'real': ('camera/image_raw', 'ee_pose'),
                'imagined': ('imagined/camera/image_raw', 'imagined/ee_pose')}
COLOUR_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8')
WATCHDOG_HZ = 100.0          # how often a commanding node checks that its input is fresh
POSE_WAIT_S = 0.03           # an image waits this long for the ee pose with its stamp


def image_problem(msg, size: int, topic: str, who: str) -> str | None:
    """
    Return why image ``msg`` cannot feed a ``size`` x ``size`` colour model, or None.

    ``who`` names the consumer in the message ("the policy").
    """
    if msg.encoding in COLOUR_ENCODINGS and (msg.height, msg.width) == (size, size):
        return None
    return (f'{topic}: got a {msg.width}x{msg.height} {msg.encoding!r} image, {who} expects '
            f'{size}x{size} rgb8 (or bgr8/rgba8/bgra8); resize/convert the camera image. '
            'No action from this frame')


class PoseSync:
    """
    Pairs each camera image with the end-effector pose of its stamp, per source.

    ``sim_robot`` publishes an image just before the pose of the same stamp, so an image
    stamped after the latest pose is held (:meth:`image` returns False) until that pose
    comes (:meth:`pose` returns the image) or ``wait_s`` passes (:meth:`due`); then it goes
    with the latest pose, ``ee[source]``. An unstamped pose (0) never holds an image up.
    """

    def __init__(self, sources=SOURCES, wait_s: float = POSE_WAIT_S):
        self.wait_s = wait_s
        self.ee: dict = dict.fromkeys(sources)           # float32[2] m: latest pose
        self.stamp: dict = dict.fromkeys(sources, 0)     # ns
        self.pending: dict = dict.fromkeys(sources)      # (image, stamp ns, received s)

    def image(self, source: str, image, stamp: int, now: float) -> bool:
        """Return True when ``image`` (stamped ``stamp`` ns) can go now, else hold it."""
        if 0 < self.stamp[source] < stamp:
            self.pending[source] = (image, stamp, now)
            return False
        return True

    def pose(self, source: str, xy, stamp: int):
        """Record the latest pose of ``source``; return the held image it releases, or None."""
        self.ee[source], self.stamp[source] = xy, stamp
        pending = self.pending[source]
        if pending is not None and stamp >= pending[1]:
            self.pending[source] = None
            return pending[0]
        return None

    def due(self, now: float) -> list[tuple[str, object]]:
        """Return ``(source, image)`` of held images whose pose did not come in ``wait_s``."""
        out = []
        for source, pending in self.pending.items():
            if pending is not None and now - pending[2] > self.wait_s:
                self.pending[source] = None
                out.append((source, pending[0]))
        return out


class CameraInput:
    """
    The camera side of a commanding node (mixed into an ``rclpy`` ``Node``), its status and zeros.

    Its ``__init__`` creates the node, declares its parameters (``p``, with ``source``,
    ``input_timeout`` and ``rate``; changes go to the node's ``_on_params``) and starts the
    clock of its set-up (``setup_started``). :meth:`_camera_setup` subscribes to both
    streams; each checked image of the selected ``source`` goes with the pose of its stamp
    to the node's ``_frame(source, msg)``. The node provides ``size``, ``consumer`` ("the
    policy": used in messages), ``out`` (its :class:`~wm_ros.ros.common.Commander`),
    ``diag`` and ``faults``; it may add values to its status (:meth:`_status`).
    """

    consumer = 'the node'
    last_zero = -np.inf         # monotonic time of the watchdog's latest zero twist

    def __init__(self, name: str, params: dict):
        super().__init__(name)
        self.p = declare(self, params, self._on_params)
        self.setup_started = time.perf_counter()

    def _camera_setup(self):
        self.image_time = dict.fromkeys(SOURCES, -np.inf)    # monotonic receipt time
        self.sync = PoseSync(SOURCES, POSE_WAIT_S)           # image + the pose of its stamp
        for source, (image_topic, pose_topic) in INPUT_TOPICS.items():
            self.create_subscription(Image, image_topic,
                                     lambda m, s=source: self._on_image(s, m), SENSOR_QOS)
            self.create_subscription(PoseStamped, pose_topic,
                                     lambda m, s=source: self._on_pose(s, m), STATE_QOS)
        self.create_timer(1.0 / WATCHDOG_HZ, self._flush_pending)

    def _on_pose(self, source: str, msg):
        xy = np.array([msg.pose.position.x, msg.pose.position.y], np.float32)
        held = self.sync.pose(source, xy, stamp_ns(msg.header.stamp))
        if held is not None and source == self.p['source']:
            self._frame(source, held)

    def _on_image(self, source: str, msg):
        self.image_time[source] = time.monotonic()
        if source != self.p['source']:
            return
        problem = image_problem(msg, self.size, INPUT_TOPICS[source][0], self.consumer)
        if problem:
            self.image_time[source] = -np.inf       # a bad frame is no fresh input
            self._fault('bad_image', problem)
            return
        if self.sync.ee[source] is None:
            self._report(WARN, f'waiting for {INPUT_TOPICS[source][1]}: no action yet')
            return
        if self.sync.image(source, msg, stamp_ns(msg.header.stamp), time.monotonic()):
            self._frame(source, msg)                # else its pose is on the way

    def _flush_pending(self):
        """Pass on an image whose pose did not come within ``POSE_WAIT_S`` (latest pose)."""
        for source, msg in self.sync.due(time.monotonic()):
            if source == self.p['source']:
                self._frame(source, msg)

    def _unreadable(self, source: str, exc: Exception):
        """Report a frame the codec or the model could not read; it is no fresh input."""
        self.image_time[source] = -np.inf
        self._fault('unreadable_image', f'{INPUT_TOPICS[source][0]}: {exc}; no action from '
                    'this frame')

    def _fresh(self, source: str) -> bool:
        return time.monotonic() - self.image_time[source] <= self.p['input_timeout']

    def _stale_zero(self, message: str):
        """Watchdog: command zero velocity at most at ``rate`` while ``message`` holds."""
        now = time.monotonic()
        if now - self.last_zero >= 1.0 / self.p['rate']:
            self.last_zero = now
            self.out.send((0.0, 0.0))
            self._report(WARN, message)

    def on_shutdown(self):
        """Command zero velocity as the node stops (SIGINT, SIGTERM, an exception)."""
        acked = self.out.stop()             # nothing can be sent after this
        self.get_logger().info(f'stopping: zero twist sent{"" if acked else " (not acked)"}')

    def _fault(self, kind: str, message: str):
        """Count and (throttled) log an input problem; keep it on /diagnostics a while."""
        self.faults.report(kind, ERROR, message)
        self._report(ERROR, message)

    def _status(self) -> dict:
        """Return the values the node adds to its status after ``source`` (none here)."""
        return {}

    def _report(self, level: bytes, message: str, **values):
        """Publish the status: a recent fault wins over ``level`` and ``message``."""
        level, message = self.faults.held(level, message)
        age = time.monotonic() - self.image_time[self.p['source']]
        self.diag.report(level, message, source=self.p['source'], **self._status(),
                         last_action=np.round(self.out.last, 4).tolist(),
                         input_age_s=f'{age:.3f}' if np.isfinite(age) else 'never',
                         **self.faults.counts(), **values)
