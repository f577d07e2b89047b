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
``planner``: the hierarchical planner (:mod:`wm_ros.plan.planner`) driving the robot.

Inputs as the ``policy`` node: ``camera/image_raw`` + ``ee_pose`` (real) and
``imagined/camera/image_raw`` + ``imagined/ee_pose``; the ``source`` parameter picks one at
run time. The instruction comes from ``task/instruction`` (String, transient local) or,
when set, the ``instruction`` parameter (it wins; setting it at run time re-plans). A new
instruction is decomposed on the newest frame; a refused one (no such block, unknown skill)
is logged with the reason, published on ``plan/subgoals`` and the robot is stopped.

The planner runs on a worker thread (:class:`~wm_ros.ros.plan_runner.PlanRunner`): one
action per new frame, on ``ee_twist_cmd`` (TwistStamped, frame ``board``) like the policy.
Safety, as the policy: a 100 Hz watchdog on its own thread publishes zero velocity (repeated
at ``rate``) while the selected image is older than ``input_timeout`` and also while one
plan takes longer than ``input_timeout``; an action is dropped if its input went stale
meanwhile; bad images are ERRORs on ``/diagnostics`` and give no action; a zero twist ends
every run.

Outputs: ``plan/subgoals`` (String, transient local: JSON of the planner's ``status()``
plus ``refused``; after every start, refusal, plan and change), ``plan/video`` (rgb8: the
imagined rollout of the newest plan, one frame per tick at ``rate``; a rollout is played to
its end, then the newest plan's starts), ``plan/markers`` (MarkerArray, frame ``board``:
one LINE_STRIP per path of the newest plan, namespace ``plan/pusher`` and ``plan/<block>``),
``/diagnostics``. Service ``~/plan`` (std_srvs/Trigger): re-plan the current instruction
from the newest frame; ``success`` false with the reason when there is no instruction or
fresh frame, or the instruction is refused.
"""

from __future__ import annotations

import json
import threading
import time

from geometry_msgs.msg import Point
import numpy as np
from rclpy.node import Node
from rclpy.task import Future
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

from wm_ros.evaluate.planning import load_judge
from wm_ros.plan import detector as block_detector
from wm_ros.plan.planner import HierarchicalPlanner, load_config
from wm_ros.ros import image_codec
from wm_ros.ros.camera_input import CameraInput, INPUT_TOPICS, SOURCES, WATCHDOG_HZ
from wm_ros.ros.common import (Commander, Diagnostics, FaultLog, image_publisher,
                               LATCHED_QOS, OK, Param, run, STATE_QOS, Ticker, WARN)
from wm_ros.ros.messages import board_half_of, model_dir
from wm_ros.ros.plan_runner import PlanRunner, Result, ZERO
from wm_ros.runtime import load_runtime
from wm_ros.sim.scene import COLOURS

FRAME_ID = 'board'

PARAMS = {
    'source': Param('real', 'image stream the planner acts on (switchable at run time)',
                    choices=SOURCES),
    'instruction': Param('', "instruction to carry out ('' = follow task/instruction); "
                         'setting it re-plans'),
    'config': Param('default', 'planner settings: a section of config/plan.yaml (tiny: tests)',
                    read_only=True),
    'model_file_path': Param('', "world model directory ('' = shipped model)", read_only=True),
    'detector': Param('', 'read blocks with this: a world model with an object read-out or a '
                      'wm-ros train detector directory; needed for a model without one '
                      "('' = the model's own read-out)",
                      read_only=True),
    'judge': Param('', 'reward model directory that re-ranks the best plans by the success '
                   "it sees in their imagined last frames ('' = none)", read_only=True),
    'backend': Param('onnxruntime', 'world model runtime', choices=('onnxruntime', 'torch'),
                     read_only=True),
    'rate': Param(10.0, 'zero-twist repeat rate and plan/video frame rate, Hz', 1.0, 100.0,
                  read_only=True),
    'input_timeout': Param(0.15, 'command zero velocity when the image is older or a plan '
                           'takes longer, s', 0.01, 10.0),
    'max_speed': Param(0.2, 'per-axis speed limit, m/s', 0.01, 1.0),
}


def load_planner(model_file_path: str, backend: str, section: str, detector: str = '',
                 judge: str = '') -> HierarchicalPlanner:
    """Return the planner on the world model at ``model_file_path``, failing fast."""
    path = model_dir(model_file_path, 'planner')
    runtime = load_runtime(path, backend, threads=1)
    return HierarchicalPlanner(runtime, load_config(section, board_half=board_half_of(path)),
                               detector=block_detector.load(detector) if detector else None,
                               judge=load_judge(judge))


def plan_markers(paths: dict, stamp, frame_id: str = FRAME_ID) -> MarkerArray:
    """Return a LINE_STRIP per planned path (``name -> float[H,2]`` m), old ones deleted."""
    markers = [Marker(action=Marker.DELETEALL)]
    for name, xy in paths.items():
        m = Marker(ns=f'plan/{name}', id=0, type=Marker.LINE_STRIP, action=Marker.ADD)
        m.pose.orientation.w = 1.0
        m.scale.x = 0.006 if name == 'pusher' else 0.004
        rgb = COLOURS.get(name.split()[0], (0.9, 0.9, 0.9))
        m.color.r, m.color.g, m.color.b, m.color.a = (*map(float, rgb), 1.0)
        m.points = [Point(x=float(x), y=float(y), z=0.002) for x, y in np.asarray(xy)[:, :2]]
        markers.append(m)
    for m in markers:
        m.header.stamp, m.header.frame_id = stamp, frame_id
    return MarkerArray(markers=markers)


class PlannerNode(CameraInput, Node):
    """Thin ROS wrapper around :class:`PlanRunner` (see the module docstring)."""

    consumer = 'the planner'

    def __init__(self):
        super().__init__('planner', PARAMS)
        self.planner = load_planner(self.p['model_file_path'], self.p['backend'],
                                    self.p['config'], self.p['detector'], self.p['judge'])
        self.size = self.planner.runtime.image_size
        self.out = Commander(self, FRAME_ID)
        self.pub_status = self.create_publisher(String, 'plan/subgoals', LATCHED_QOS)
        self.pub_video = image_publisher(self, 'plan/video')
        self.pub_markers = self.create_publisher(MarkerArray, 'plan/markers', STATE_QOS)
        self.diag = Diagnostics(self)
        self.faults = FaultLog(self)
        self.topic_instruction = self.instruction = ''
        self.last_status = None
        self.video_lock = threading.Lock()
        self.latest_video = self.playing = None              # uint8[H,S,S,3]
        self.play_index = 0
        self.runner = PlanRunner(self.planner, self._on_result)
        self.create_subscription(String, 'task/instruction', self._on_instruction, LATCHED_QOS)
        self._camera_setup()
        self.create_service(Trigger, '~/plan', self._on_plan)
        self.create_timer(1.0 / self.p['rate'], self._play_video)
        self.watchdog = Ticker(1.0 / WATCHDOG_HZ, self._watchdog)
        self._publish_status(self.runner.status())
        self._follow()
        self.get_logger().info(
            f'planner up: config {self.p["config"]} ({self.planner.config.solver.method}, '
            f'horizon {self.planner.config.solver.horizon}, '
            f'{self.planner.config.solver.samples} samples) on {self.p["source"]} images, '
            f'world model {self.planner.runtime.backend} {self.size}x{self.size}, loaded in '
            f'{time.perf_counter() - self.setup_started:.2f} s')

    # ---------------------------------------------------------------- instruction
    def _on_params(self, changes: dict):
        if 'source' in changes:
            self.runner.clear_frames()          # re-start on the new stream's first frame
            if self.instruction:
                self.runner.instruct(self.instruction)
            self.get_logger().info(f'source switched to {changes["source"]}')
        if 'instruction' in changes:
            self._follow()

    def _on_instruction(self, msg: String):
        if msg.data != self.topic_instruction:
            self.topic_instruction = msg.data
            if self.p['instruction']:
                self.get_logger().info(f'task/instruction "{msg.data}" ignored: the '
                                       f'instruction parameter is "{self.p["instruction"]}"')
            self._follow()

    def _follow(self):
        """Plan the instruction parameter, else the latest task/instruction, if new."""
        instruction = self.p['instruction'] or self.topic_instruction
        if instruction and instruction != self.instruction:
            self.instruction = instruction
            self.get_logger().info(f'instruction: "{instruction}"')
            self.runner.instruct(instruction)

    async def _on_plan(self, request, response):
        """``~/plan``: re-plan the current instruction from the newest frame."""
        topic = INPUT_TOPICS[self.p['source']][0]
        age = self.runner.frame_age()
        response.success = False
        if not self.instruction:
            response.message = ('no instruction yet: publish task/instruction or set the '
                                'instruction parameter')
        elif age > self.p['input_timeout']:
            response.message = (f'no fresh frame on {topic} (newest: '
                                f'{"none" if np.isinf(age) else f"{age:.2f} s old"})')
        else:
            done = Future()
            self.runner.instruct(self.instruction).add_done_callback(
                lambda f: done.set_result(f.result()))
            response.success, response.message = await done
        return response

    # ---------------------------------------------------------------- camera
    def _frame(self, source: str, msg: Image):
        """Hand an image with the latest pose of ``source`` to the planner's worker."""
        try:
            rgb = image_codec.from_msg(msg, (self.size, self.size))
        except ValueError as exc:
            self._unreadable(source, exc)
            return
        self.runner.frame(rgb, self.sync.ee[source], self.image_time[source])

    # ---------------------------------------------------------------- planner results
    def _on_result(self, r: Result):
        """Publish what the worker did (called on the worker thread)."""
        if r.event == 'acted':
            if r.video is not None:
                with self.video_lock:
                    self.latest_video = r.video
                self.pub_markers.publish(plan_markers(r.paths or {}, self._now()))
            v = np.clip(r.action.astype(np.float64), -self.p['max_speed'], self.p['max_speed'])
            self.out.send(v, still_valid=lambda s=self.p['source']: self._fresh(s))
            if self._publish_status(r.status) and (r.status['done'] or r.status['failed']):
                self.get_logger().info(f'"{r.status["instruction"]}": {r.status["message"]}')
            self._report(OK, f'{r.status["subgoal"] or r.status["message"]}',
                         plan_s=f'{r.seconds:.3f}')
            return
        if r.event in ('started', 'refused'):
            with self.video_lock:
                self.latest_video = self.playing = None
            self._publish_status(r.status, force=True)
        if r.event == 'started':
            self.get_logger().info(f'sub-goals of "{r.status["instruction"]}": {r.message} '
                                   f'({r.seconds:.2f} s)')
            return
        self.out.send(ZERO)                     # refused, failed, or nothing to do: stop
        if r.event == 'refused':
            self.get_logger().warning(f'refused "{r.status["instruction"]}": {r.message}')
            self._report(WARN, f'refused: {r.message}')
        elif r.event == 'error':
            self._publish_status(r.status)
            self._fault('planner', r.message)
        elif r.status.get('refused'):
            self._report(WARN, f'refused: {r.status["message"]}: zero twist')
        else:
            self._report(WARN, 'waiting for an instruction on task/instruction: zero twist')

    def _publish_status(self, status: dict, force: bool = False) -> bool:
        if status == self.last_status and not force:
            return False
        self.last_status = status
        self.pub_status.publish(String(data=json.dumps(status)))
        return True

    def _play_video(self):
        """Publish the next frame of the plan video (each rollout to its end, then the newest)."""
        with self.video_lock:
            if self.playing is None or self.play_index >= len(self.playing):
                self.playing, self.play_index = self.latest_video, 0
            if self.playing is None or not len(self.playing):
                return
            frame = self.playing[self.play_index]
            self.play_index += 1
        self.pub_video.publish(image_codec.to_msg(frame, self._now(), 'camera'))

    # ---------------------------------------------------------------- safety
    def _watchdog(self):
        """Zero velocity while the input is stale or a plan is late (own thread)."""
        busy = self.runner.busy_for()
        stale = not self._fresh(self.p['source'])
        if stale or busy > self.p['input_timeout']:
            self._stale_zero('input stale: zero twist' if stale else
                             f'planning for {busy:.2f} s: zero twist')

    def destroy_node(self):
        """Stop the watchdog and the planner's worker with the node."""
        self.watchdog.stop()
        self.runner.stop()
        super().destroy_node()

    def _now(self):
        return self.get_clock().now().to_msg()

    def _status(self) -> dict:
        return {'instruction': self.instruction}


def main(args=None) -> int:
    """Entry point of the ``planner`` executable."""
    return run(PlannerNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
