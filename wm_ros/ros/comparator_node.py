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
``comparator``: scores the world model's imagination against the real robot, live.

Pairs ``camera/image_raw`` with ``imagined/camera/image_raw`` and ``ee_pose`` with
``imagined/ee_pose`` by header stamp (within ``pair_tolerance``). A pair's horizon is the
number of control steps (``rate``) since the last ``imagined/resync`` before it.
Publishes ``compare/image`` (rgb8: real | imagined | |difference| x4), the paired poses as
``compare/real_path`` and ``compare/predicted_path`` (last ``path_length``),
``compare/markers`` (real and predicted pusher spheres and the line between them), and at
1 Hz ``compare/metrics`` (JSON ``{"horizons": {"1": {"n", "ee_error_m", "psnr_db"}, ...},
"pairs": N}``, means since start) and ``/diagnostics`` (WARN when the mean pusher error at
the longest horizon with data exceeds ``drift_threshold``).
"""

from __future__ import annotations

from collections import deque
import json
import time

from geometry_msgs.msg import Point, PoseStamped
from nav_msgs.msg import Path
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header, String
from visualization_msgs.msg import Marker, MarkerArray

from wm_ros.image_metrics import psnr
from wm_ros.ros import image_codec
from wm_ros.ros.common import (declare, Diagnostics, ERROR, FAULT_HOLD_S, image_publisher,
                               LATCHED_QOS, OK, Param, run, SENSOR_QOS, STATE_QOS, WARN)

BUFFER = 32              # unpaired messages kept per stream
DIFF_GAIN = 4            # amplification of the difference image
MAX_PSNR_DB = 100.0      # identical frames (JSON has no infinity)

PARAMS = {
    'rate': Param(10.0, 'control rate of the world model, Hz (turns time into steps)',
                  1.0, 100.0),
    'horizons': Param([1, 4, 8, 16], 'horizons (steps since re-sync) to score'),
    'drift_threshold': Param(0.05, 'warn when the mean pusher error at the longest horizon '
                             'exceeds this, m', 0.0, 10.0),
    'path_length': Param(200, 'poses kept in the real and predicted paths', 1, 100000,
                         read_only=True),
    'frame_id': Param('board', 'frame of ee_pose (paths and markers)', read_only=True),
    'pair_tolerance': Param(0.02, 'largest stamp difference of a real/imagined pair, s',
                            0.0, 1.0),
}


def stamp_s(stamp) -> float:
    """Return a ``builtin_interfaces/Time`` in seconds."""
    return stamp.sec + 1e-9 * stamp.nanosec


class Pairer:
    """Matches real and imagined messages by stamp; keeps a few unmatched of each."""

    def __init__(self):
        self.waiting = {'real': deque(maxlen=BUFFER), 'imagined': deque(maxlen=BUFFER)}

    def add(self, side: str, t: float, value, tolerance: float):
        """Return ``(t_real, real, imagined)`` once ``value`` has a partner, else None."""
        other = self.waiting['imagined' if side == 'real' else 'real']
        best = min(other, key=lambda item: abs(item[0] - t), default=None)
        if best is None or abs(best[0] - t) > tolerance + 1e-9:
            self.waiting[side].append((t, value))
            return None
        other.remove(best)
        real, imagined = ((t, value), best) if side == 'real' else (best, (t, value))
        return real[0], real[1], imagined[1]


class ComparatorNode(Node):
    """Real vs imagined: pairing and metrics only; see the module docstring."""

    def __init__(self):
        super().__init__('comparator')
        self.p = declare(self, PARAMS)
        p = self.p
        self.pub_image = image_publisher(self, 'compare/image')
        self.pub_real_path = self.create_publisher(Path, 'compare/real_path', STATE_QOS)
        self.pub_pred_path = self.create_publisher(Path, 'compare/predicted_path', STATE_QOS)
        self.pub_markers = self.create_publisher(MarkerArray, 'compare/markers', STATE_QOS)
        self.pub_metrics = self.create_publisher(String, 'compare/metrics', STATE_QOS)
        for side, prefix in (('real', ''), ('imagined', 'imagined/')):
            self.create_subscription(Image, prefix + 'camera/image_raw',
                                     lambda m, s=side: self._on_image(s, m), SENSOR_QOS)
            self.create_subscription(PoseStamped, prefix + 'ee_pose',
                                     lambda m, s=side: self._on_pose(s, m), STATE_QOS)
        self.create_subscription(Header, 'imagined/resync', self._on_resync, LATCHED_QOS)
        self.diag = Diagnostics(self)
        self.images, self.poses = Pairer(), Pairer()
        self.resyncs: deque = deque(maxlen=64)       # stamps (s) the model re-synced at
        self.paths = {'real': deque(maxlen=p['path_length']),
                      'imagined': deque(maxlen=p['path_length'])}
        self.ee_err: dict[int, list] = {}            # horizon -> [sum, n]
        self.psnr: dict[int, list] = {}
        self.pairs = 0
        self.fault = (OK, '', -np.inf)
        self.create_timer(1.0, self._publish_metrics)
        self.get_logger().info(f'comparator up: horizons {list(p["horizons"])} at '
                               f'{p["rate"]} Hz, pair tolerance {p["pair_tolerance"]} s')

    # ---------------------------------------------------------------- pairing
    def _horizon(self, t: float) -> int | None:
        """Return the steps from the last re-sync strictly before ``t`` to ``t`` (or None)."""
        half_step = 0.5 / self.p['rate']
        before = [r for r in self.resyncs if r <= t - half_step]
        return round((t - max(before)) * self.p['rate']) if before else None

    def _on_resync(self, msg: Header):
        self.resyncs.append(stamp_s(msg.stamp))

    def _on_pose(self, side: str, msg: PoseStamped):
        xy = np.array([msg.pose.position.x, msg.pose.position.y])
        pair = self.poses.add(side, stamp_s(msg.header.stamp), (xy, msg),
                              self.p['pair_tolerance'])
        if pair is None:
            return
        t, (real, real_msg), (imagined, imagined_msg) = pair
        self.pairs += 1
        self.paths['real'].append(real_msg)
        self.paths['imagined'].append(imagined_msg)
        self._accumulate(self.ee_err, t, float(np.linalg.norm(imagined - real)))
        stamp = real_msg.header.stamp
        self.pub_real_path.publish(self._path(self.paths['real'], stamp))
        self.pub_pred_path.publish(self._path(self.paths['imagined'], stamp))
        self.pub_markers.publish(self._markers(real, imagined, stamp))

    def _on_image(self, side: str, msg: Image):
        try:
            rgb = image_codec.from_msg(msg)
        except ValueError as exc:
            self._fault(f'{side} camera image not usable: {exc}')
            return
        pair = self.images.add(side, stamp_s(msg.header.stamp), (rgb, msg.header),
                               self.p['pair_tolerance'])
        if pair is None:
            return
        t, (real, header), (imagined, _) = pair
        if real.shape != imagined.shape:
            self._fault(f'real frame is {real.shape[1]}x{real.shape[0]} but the imagined one '
                        f'is {imagined.shape[1]}x{imagined.shape[0]}; cannot compare them '
                        '(run the camera at the world model image size)')
            return
        self._accumulate(self.psnr, t, float(psnr(real[None], imagined[None], MAX_PSNR_DB)[0]))
        diff = np.abs(real.astype(np.int16) - imagined.astype(np.int16)) * DIFF_GAIN
        side_by_side = np.concatenate([real, imagined, np.clip(diff, 0, 255).astype(np.uint8)],
                                      axis=1)
        self.pub_image.publish(image_codec.to_msg(side_by_side, header.stamp,
                                                  header.frame_id or 'camera'))

    def _accumulate(self, table: dict, t: float, value: float):
        h = self._horizon(t)
        if h is not None and h in self.p['horizons']:
            total = table.setdefault(h, [0.0, 0])
            total[0] += value
            total[1] += 1

    # ---------------------------------------------------------------- outputs
    def _path(self, poses, stamp) -> Path:
        path = Path(poses=list(poses))
        path.header.stamp, path.header.frame_id = stamp, self.p['frame_id']
        return path

    def _markers(self, real: np.ndarray, imagined: np.ndarray, stamp) -> MarkerArray:
        markers = []
        for i, (xy, rgb) in enumerate(((real, (0.1, 0.8, 0.1)), (imagined, (0.9, 0.3, 0.1)))):
            m = Marker(ns='comparator', id=i, type=Marker.SPHERE, action=Marker.ADD)
            m.pose.position.x, m.pose.position.y = float(xy[0]), float(xy[1])
            m.pose.orientation.w = 1.0
            m.scale.x = m.scale.y = m.scale.z = 0.02
            m.color.r, m.color.g, m.color.b, m.color.a = (*rgb, 0.9)
            markers.append(m)
        line = Marker(ns='comparator', id=2, type=Marker.LINE_STRIP, action=Marker.ADD)
        line.points = [Point(x=float(xy[0]), y=float(xy[1])) for xy in (real, imagined)]
        line.pose.orientation.w = 1.0
        line.scale.x = 0.004
        line.color.r = line.color.g = line.color.b = line.color.a = 1.0
        markers.append(line)
        for m in markers:
            m.header.stamp, m.header.frame_id = stamp, self.p['frame_id']
        return MarkerArray(markers=markers)

    def metrics(self) -> dict:
        """Return the per-horizon means (see the module docstring)."""
        out = {}
        for h in self.p['horizons']:
            ee, ps = self.ee_err.get(h, [0.0, 0]), self.psnr.get(h, [0.0, 0])
            out[str(h)] = {'n': ee[1], 'ee_error_m': ee[0] / ee[1] if ee[1] else None,
                           'psnr_db': ps[0] / ps[1] if ps[1] else None, 'n_images': ps[1]}
        return {'horizons': out, 'pairs': self.pairs}

    def _publish_metrics(self):
        metrics = self.metrics()
        self.pub_metrics.publish(String(data=json.dumps(metrics)))
        scored = [h for h in self.p['horizons'] if metrics['horizons'][str(h)]['n']]
        values = {}
        for h in scored:
            m = metrics['horizons'][str(h)]
            values[f'h{h}_ee_error_m'] = f'{m["ee_error_m"]:.4f}'
            values[f'h{h}_psnr_db'] = 'n/a' if m['psnr_db'] is None else f'{m["psnr_db"]:.1f}'
            values[f'h{h}_n'] = m['n']
        level, message = OK, f'{self.pairs} pairs compared'
        if scored:
            h = max(scored)
            error = metrics['horizons'][str(h)]['ee_error_m']
            if error > self.p['drift_threshold']:
                level, message = WARN, (f'mean pusher error at horizon {h} is {error:.3f} m > '
                                        f'drift_threshold {self.p["drift_threshold"]} m')
        elif not self.pairs:
            message = 'waiting for real and imagined frames with matching stamps'
        if time.monotonic() - self.fault[2] < FAULT_HOLD_S:
            level, message = self.fault[:2]
        self.diag.report(level, message, pairs=self.pairs, **values)

    def _fault(self, message: str):
        self.fault = (ERROR, message, time.monotonic())
        self.get_logger().error(message, throttle_duration_sec=2.0)
        self.diag.report(ERROR, message)


def main(args=None) -> int:
    """Entry point of the ``comparator`` executable."""
    return run(ComparatorNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
