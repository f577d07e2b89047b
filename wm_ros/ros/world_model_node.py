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
``world_model``: the learned world model beside the robot, as a thin ROS node.

Modes (parameter ``mode``, switchable at run time):

* ``shadow``: follows the robot. On every real ``camera/image_raw`` frame (with the
  ``ee_pose`` of the same stamp) the state is stepped with the command the robot had,
  decoded, and published on ``imagined/*`` with the *real frame's stamp*, so a comparator
  pairs them exactly. The state is re-encoded from the real frame (announced on
  ``imagined/resync``) every ``resync_every`` steps, when the predicted pusher is more than
  ``drift_threshold`` from the real one, or when the ensemble spread exceeds
  ``uncertainty_threshold`` (also a WARN on ``/diagnostics``: the model is guessing).
* ``imagine``: no robot needed. A timer at ``rate`` steps the imagination with the latest
  fresh ``ee_twist_cmd`` (zero when stale) and publishes it stamped now. It starts from the
  latest real frame or, after ``start_timeout``, from a sampled tabletop scene (then
  ``task/instruction`` and ``task/spec`` are published as ``sim_robot`` does).

Publishes ``imagined/camera/image_raw`` (rgb8) + ``imagined/camera/camera_info``,
``imagined/ee_pose`` (frame ``board``), ``imagined/uncertainty`` (Float32, m, ensemble
spread of the last step) and ``imagined/resync`` (Header: stamp of the real frame the state
was re-encoded from; frame_id the reason: start, every, drift, uncertainty, jump (the
robot moved further than its speed allows, e.g. an episode reset), service).
Service ``~/reset_from_real`` (std_srvs/Trigger). The scheduling (command lookup, re-sync
rules, stepping) is :class:`wm_ros.ros.shadow.Shadow`; this node only converts
messages, calls it and publishes.
"""

from __future__ import annotations

from pathlib import Path
import time

from geometry_msgs.msg import PoseStamped, TwistStamped
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Float32, Header
from std_srvs.srv import Trigger

from wm_ros.artefacts import WORLD_MODEL as DEFAULT_MODEL
from wm_ros.ros import image_codec
from wm_ros.ros.common import (COMMAND_QOS, declare, Diagnostics, ERROR, FAULT_HOLD_S,
                               LATCHED_QOS, OK, Param, RateMeter, run, SENSOR_QOS, STATE_QOS,
                               WARN)
from wm_ros.ros.messages import board_half_of, stamp_age, stamp_ns
from wm_ros.ros.robot_output import CameraOutput, TaskOutput
from wm_ros.ros.shadow import FramePairs, Prediction, Rules, Shadow
from wm_ros.runtime import load_runtime
from wm_ros.sim.tasks import FAMILIES

ENCODINGS = ('rgb8', 'bgr8')

PARAMS = {
    'mode': Param('imagine', 'imagine: run on commands alone; shadow: follow the robot',
                  choices=('imagine', 'shadow')),
    'backend': Param('onnxruntime', 'world-model runtime', choices=('onnxruntime', 'torch'),
                     read_only=True),
    'model_file_path': Param('', "model directory ('' = the shipped reference model)",
                             read_only=True),
    'engine_cache_dir': Param('', "TensorRT engine cache ('' = ~/.cache/wm_ros/trt)",
                              read_only=True),
    'force_engine_update': Param(False, 'rebuild cached TensorRT engines at start-up',
                                 read_only=True),
    'providers': Param('auto', 'onnxruntime providers (comma separated) or auto; for torch a '
                       'device such as cuda:0 (auto = cpu)', read_only=True),
    'rate': Param(10.0, 'imagine: steps per second (match the model control rate), Hz',
                  1.0, 100.0, read_only=True),
    'resync_every': Param(16, 'shadow: re-encode from the real frame every N steps (0: never)',
                          0, 1000000),
    'drift_threshold': Param(0.05, 'shadow: re-sync when predicted and real pusher differ '
                             'more than this, m', 0.0, 10.0),
    'uncertainty_threshold': Param(0.03, 'warn (and in shadow re-sync) when the ensemble '
                                   'spread exceeds this, m', 0.0, 10.0),
    'command_timeout': Param(0.5, 'older commands count as zero velocity, s', 0.01, 10.0),
    'task': Param('block_to_region', 'imagine: task family of the sampled start scene',
                  choices=FAMILIES + ('random',), read_only=True),
    'seed': Param(0, 'imagine: seed of the sampled start scene', 0, 2**31 - 1, read_only=True),
    'step_on_command': Param(False, 'imagine: step on every command, not on the timer '
                             '(latency benchmarks)'),
    'threads': Param(1, 'CPU threads of the runtime (1 is fastest for one robot at batch 1; '
                     '0 = library default)', 0, 256, read_only=True),
    'start_timeout': Param(1.0, 'imagine: wait this long for a real frame before sampling a '
                           'scene, s', 0.0, 60.0),
}


class WorldModelNode(Node):
    """Thin ROS wrapper around a :class:`WorldModelRuntime` (see the module docstring)."""

    def __init__(self):
        super().__init__('world_model')
        self.p = declare(self, PARAMS, self._on_params)
        p = self.p
        self.model_path = Path(p['model_file_path'] or DEFAULT_MODEL)
        start = time.perf_counter()
        self.runtime = load_runtime(self.model_path, p['backend'], **self._runtime_options())
        load_s = time.perf_counter() - start
        self.size, self.board_half = self.runtime.image_size, board_half_of(self.model_path)
        self.provider = (getattr(self.runtime, 'providers', None)
                         or [str(getattr(self.runtime, 'device', 'cpu'))])[0]
        self.camera = CameraOutput(self, 'imagined/', self.size, self.board_half)
        self.pub_uncertainty = self.create_publisher(Float32, 'imagined/uncertainty', STATE_QOS)
        self.pub_resync = self.create_publisher(Header, 'imagined/resync', LATCHED_QOS)
        self.task_out = TaskOutput(self)
        self.create_subscription(TwistStamped, 'ee_twist_cmd', self._on_cmd, COMMAND_QOS)
        self.create_subscription(Image, 'camera/image_raw', self._on_image, SENSOR_QOS)
        self.create_subscription(PoseStamped, 'ee_pose', self._on_pose, STATE_QOS)
        self.create_service(Trigger, '~/reset_from_real', self._on_reset_from_real)
        self.diag = Diagnostics(self)
        self.meter = RateMeter()
        self.shadow = Shadow(self.runtime, Rules.from_params(p))
        self.last_report = -np.inf
        self.frame = None                            # (rgb uint8[S,S,3], Header)
        self.pose = None                             # (float[2] m, stamp ns)
        self.pairs = FramePairs()                    # shadow: real frames with their poses
        self.fault = (OK, '', -np.inf)
        self.started = time.monotonic()
        self.create_timer(1.0 / p['rate'], self._tick)
        build = getattr(self.runtime, 'build_seconds', None) or {'load': load_s}
        self.get_logger().info(
            f'world model {self.model_path}: backend {self.runtime.backend}, providers '
            f'{getattr(self.runtime, "providers", [self.provider])}, build '
            f'{sum(build.values()):.2f} s {({k: round(v, 2) for k, v in build.items()})}, '
            f'loaded in {load_s:.2f} s; {self.size}x{self.size} images at '
            f'{self.runtime.control_hz} Hz; mode {p["mode"]}')
        if abs(p['rate'] - self.runtime.control_hz) > 1e-6:
            self.get_logger().warning(f'rate {p["rate"]} Hz differs from the model control rate '
                                      f'{self.runtime.control_hz} Hz: imagined time will drift')

    def _runtime_options(self) -> dict:
        p = self.p
        chosen = [s.strip() for s in p['providers'].split(',') if s.strip()]
        auto = chosen in ([], ['auto'])
        if p['backend'] == 'torch':
            return {'threads': p['threads'] or None, **({} if auto else {'device': chosen[0]})}
        return {'providers': 'auto' if auto else chosen, 'force_engine_update':
                p['force_engine_update'], 'engine_cache_dir': p['engine_cache_dir'] or None,
                'threads': p['threads']}

    # ---------------------------------------------------------------- inputs
    def _on_params(self, changes: dict):
        self.shadow.rules = Rules.from_params(self.p)
        if 'mode' in changes:
            self.pairs.clear()
            if changes['mode'] == 'shadow':
                self.shadow.clear()                  # re-encode from the next real frame
            self.get_logger().info(f'mode -> {changes["mode"]}')

    def _on_cmd(self, msg: TwistStamped):
        v = np.array([msg.twist.linear.x, msg.twist.linear.y])     # float64: 1e39 is finite
        # the stamp (when the driver sent it) says which frames it drove, however late this
        # process gets to run the callback; unstamped commands count from their receipt
        sent = stamp_ns(msg.header.stamp) or self.get_clock().now().nanoseconds
        if not np.all(np.isfinite(v)):
            self.shadow.commands.add(sent, v)        # logged as zero velocity
            self._fault(ERROR, f'rejected ee_twist_cmd with non-finite velocity {v.tolist()}; '
                        'imagining zero velocity')
            return
        age = stamp_age(self, msg.header.stamp)
        if age > self.p['command_timeout']:
            self._fault(WARN, f'ignored ee_twist_cmd {age:.3f} s old '
                        f'(command_timeout {self.p["command_timeout"]} s)')
            return
        v = self.shadow.commands.add(sent, v)        # clipped to the speed limit
        if (self.p['mode'] == 'imagine' and self.p['step_on_command']
                and self.shadow.state is not None):
            now = self.get_clock().now().to_msg()
            self._show(self.shadow.step(v), now)

    def _on_image(self, msg: Image):
        s, problem = self.size, 'frame ignored'
        rgb = None
        if msg.encoding in ENCODINGS and (msg.height, msg.width) == (s, s):
            try:
                rgb = image_codec.from_msg(msg, (s, s))
            except ValueError as exc:
                problem = f'frame ignored: {exc}'
        if rgb is None:
            self._fault(ERROR, f'camera/image_raw is {msg.width}x{msg.height} {msg.encoding}; '
                        f'the world model needs {s}x{s} rgb8/bgr8 images (resize/convert the '
                        f'camera output); {problem}')
            return
        self.frame = (rgb, msg.header)
        if self.p['mode'] == 'shadow':
            for frame, ee in self.pairs.frame(stamp_ns(msg.header.stamp), self.frame):
                self._shadow(frame, ee)

    def _on_pose(self, msg: PoseStamped):
        xy = np.array([msg.pose.position.x, msg.pose.position.y])
        if np.all(np.isfinite(xy)):
            self.pose = (xy, stamp_ns(msg.header.stamp))
            if self.p['mode'] == 'shadow':
                for frame, ee in self.pairs.pose(self.pose[1], xy):
                    self._shadow(frame, ee)

    def _on_reset_from_real(self, request, response):
        if self.frame is None or self.pose is None:
            response.success = False
            response.message = ('no real camera/image_raw and ee_pose received yet; nothing '
                                'to re-encode from')
            return response
        response.success = self._resync(self.frame, self.pose[0], 'service')
        stamp = self.frame[1].stamp
        response.message = (f're-encoded from the real frame stamped {stamp.sec}.'
                            f'{stamp.nanosec:09d}' if response.success else self.fault[1])
        return response

    # ---------------------------------------------------------------- modes
    def _shadow(self, frame, ee_real: np.ndarray):
        """Predict the real ``frame`` from the previous one, publish it, re-sync if needed."""
        rgb, header = frame
        out = self.shadow.on_frame(rgb, ee_real, stamp_ns(header.stamp))
        self._show(out, header.stamp, header.frame_id)

    def _tick(self):
        """Imagine mode: start the imagination when possible, then step it on the timer."""
        if time.monotonic() - self.last_report > 1.0:
            self._report()                           # at least 1 Hz on /diagnostics
        if self.p['mode'] != 'imagine':
            return
        now = self.get_clock().now().to_msg()
        if self.shadow.state is None:
            if self.frame is not None and self.pose is not None:
                started = self._resync(self.frame, self.pose[0], 'start')
            elif time.monotonic() - self.started >= self.p['start_timeout']:
                image, ee = self._sample_scene()
                started = self._resync((image, Header(stamp=now, frame_id='camera')), ee,
                                       'start')
            else:
                return
            if started:
                self._publish(*self.shadow.decode(), now, 'camera')
        elif not self.p['step_on_command']:
            self._show(self.shadow.imagine(stamp_ns(now)), now)

    def _sample_scene(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the first frame and pusher of a tabletop episode; publish its task."""
        from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
        env = TabletopEnv(TabletopConfig(image_size=self.size, task=self.p['task'],
                                         control_hz=self.runtime.control_hz))
        try:
            obs, _ = env.reset(seed=self.p['seed'])
            self.task_out.publish(env.scene, env.task, env.config.board_half, 0)
            self.get_logger().info(f'imagining from a sampled scene (seed {self.p["seed"]}): '
                                   f'"{env.task.instruction}"')
            return obs['image'], obs['ee_xy']
        finally:
            env.close()

    def _resync(self, frame, ee, reason: str) -> bool:
        """Encode the state from a real ``frame`` and pusher ``ee``; announce it."""
        rgb, header = frame
        try:
            self.shadow.resync(rgb, ee)
        except ValueError as exc:
            self._fault(ERROR, f'could not encode the real frame: {exc}')
            return False
        self.pub_resync.publish(Header(stamp=header.stamp, frame_id=reason))
        return True

    # ---------------------------------------------------------------- outputs
    def _show(self, out: Prediction, stamp, camera_frame: str = 'camera'):
        """Publish what a step produced at ``stamp``: prediction, re-sync, fault."""
        if out.image is not None:
            self._publish(out.image, out.ee, stamp, camera_frame)
            self.meter.tick()
            self._report()
        if out.resync:
            self.pub_resync.publish(Header(stamp=stamp, frame_id=out.resync))
        if out.error:
            self._fault(ERROR, out.error)

    def _publish(self, image: np.ndarray, ee: np.ndarray, stamp, camera_frame: str):
        self.camera.publish(image, ee, stamp, camera_frame or 'camera')
        self.pub_uncertainty.publish(Float32(data=self.shadow.uncertainty()))

    def _fault(self, level: bytes, message: str):
        """Report a problem on /diagnostics now and for the next FAULT_HOLD_S."""
        self.fault = (level, message, time.monotonic())
        self.get_logger().warning(message, throttle_duration_sec=2.0)
        self._report()

    def _report(self):
        p, mode = self.p, self.p['mode']
        u, horizon = self.shadow.uncertainty(), self.shadow.horizon
        level = OK
        if self.shadow.state is None:
            message = (f'{mode}: waiting for camera/image_raw and ee_pose' if mode == 'shadow'
                       else 'imagine: waiting for a start frame')
        else:
            message = f'{mode}: {horizon} steps since the last re-sync'
        if u > p['uncertainty_threshold']:
            level, message = WARN, (f'model uncertain: ensemble spread {1000 * u:.1f} mm > '
                                    f'{1000 * p["uncertainty_threshold"]:.1f} mm; its '
                                    'predictions here are guesses')
        if time.monotonic() - self.fault[2] < FAULT_HOLD_S and self.fault[0] >= level:
            level, message = self.fault[:2]
        self.last_report = time.monotonic()
        self.diag.report(level, message, mode=mode, backend=self.runtime.backend,
                         provider=self.provider, horizon=horizon,
                         uncertainty=f'{u:.4f}', step_ms=f'{self.shadow.step_ms:.2f}',
                         rate_hz=f'{self.meter.rate:.1f}')


def main(args=None) -> int:
    """Entry point of the ``world_model`` executable."""
    return run(WorldModelNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
