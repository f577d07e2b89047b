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
``policy``: a policy acting on camera images, fed by the real or the imagined stream.

Subscribes to both streams, ``camera/image_raw`` + ``ee_pose`` (real) and
``imagined/camera/image_raw`` + ``imagined/ee_pose`` (the world model), and to
``task/spec`` (JSON scene + task, transient local) and ``task/instruction``.

Two policies: by default the scripted expert on block positions the world model's encoder
perceives (needs ``task/spec``); with ``policy_path`` (a zoo name such as ``bc_full`` or a
policy directory) a :class:`~wm_ros.policy.learned.LearnedPolicy`, which needs only the
image, the pose and the instruction (no world model is loaded). A bad ``policy_path``
stops the node at start-up with the reason.

Each new image of the stream named by the ``source`` parameter, with that stream's latest
pose, gives one ``ee_twist_cmd`` (TwistStamped, fresh stamp, frame ``board``); an image
stamped after the latest pose waits up to ``POSE_WAIT_S`` for its pose (``sim_robot``
publishes the image first). ``source`` switches at run time (``ros2 param set /policy
source imagined``); the current one is latched on ``policy/source``.

Safety: a 100 Hz watchdog publishes zero velocity (and keeps doing so at ``rate``) while the
selected stream's latest image is older than ``input_timeout`` by receipt time. It runs in
its own thread, so a slow model step cannot hold it up, and an action whose image
went stale while it was computed is dropped rather than sent after the zero. Images of the
wrong size or encoding are reported as ERROR on ``/diagnostics`` (counted per kind, logged
at most every 2 s per kind) and produce no action.
"""

from __future__ import annotations

import json
import time

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import String

from wm_ros.interfaces import Observation
from wm_ros.policy.perception_expert import PerceptionExpert
from wm_ros.ros import image_codec
from wm_ros.ros.camera_input import CameraInput, SOURCES, WATCHDOG_HZ
from wm_ros.ros.common import (Commander, Diagnostics, FaultLog, LATCHED_QOS, OK,
                               Param, RateMeter, run, Ticker, WARN)
from wm_ros.ros.messages import model_dir
from wm_ros.runtime import load_runtime
from wm_ros.sim.scene import Scene
from wm_ros.sim.tasks import Task

FRAME_ID = 'board'

PARAMS = {
    'source': Param('real', 'image stream the policy acts on (switchable at run time)',
                    choices=SOURCES),
    'policy': Param('expert', 'the policy: the scripted expert on perceived block positions',
                    choices=('expert',)),
    'model_file_path': Param('', "world model directory used as perception ('' = shipped "
                             'model)', read_only=True),
    'policy_path': Param('', 'learned pixel policy: a zoo name (bc_full, bc_50, ...) or a '
                         "policy directory ('' = the expert on perceived block positions)",
                         read_only=True),
    'backend': Param('onnxruntime', 'world model runtime', choices=('onnxruntime', 'torch'),
                     read_only=True),
    'rate': Param(10.0, 'control rate (expert timing, zero-twist repeat rate), Hz', 1.0, 100.0,
                  read_only=True),
    'input_timeout': Param(0.15, 'command zero velocity when the image is older, s', 0.01, 10.0),
    'max_speed': Param(0.2, 'per-axis speed limit, m/s', 0.01, 1.0),
}


def load_perception(model_file_path: str, backend: str):
    """Return the world model runtime used as perception, failing fast with a clear message."""
    return load_runtime(model_dir(model_file_path, 'policy'), backend)


def load_learned(policy_path: str):
    """Return the learned policy named by ``policy_path`` ('' = none), failing fast."""
    if not policy_path:
        return None
    from wm_ros.policy.zoo import load_policy
    policy = load_policy(policy_path)
    policy.warm_up()            # loads the instruction embedder now, not at the first frame
    return policy


class PolicyNode(CameraInput, Node):
    """Thin ROS wrapper around a policy (perception expert or learned) with a source switch."""

    consumer = 'the policy'

    def __init__(self):
        super().__init__('policy', PARAMS)
        self.learned = load_learned(self.p['policy_path'])
        if self.learned is None:
            self.runtime = load_perception(self.p['model_file_path'], self.p['backend'])
            self.size = self.runtime.image_size
            self.policy = PerceptionExpert(self.runtime, max_speed=self.p['max_speed'],
                                           control_hz=self.p['rate'])
            perception = f'perception {self.runtime.backend}'
        else:
            self.policy, self.size = self.learned, self.learned.config.image_size
            perception = f'learned policy {self.learned.path}'
        self.out = Commander(self, FRAME_ID)
        self.pub_source = self.create_publisher(String, 'policy/source', LATCHED_QOS)
        self.diag = Diagnostics(self)
        self.rate = RateMeter()
        self.instruction, self.step = '', 0
        self.faults = FaultLog(self)
        self.create_subscription(String, 'task/spec', self._on_spec, LATCHED_QOS)
        self.create_subscription(String, 'task/instruction', self._on_instruction, LATCHED_QOS)
        self._camera_setup()
        self.watchdog = Ticker(1.0 / WATCHDOG_HZ, self._watchdog)
        self._publish_source()
        self.get_logger().info(
            f'policy up: {self.p["policy_path"] or self.p["policy"]} on {self.p["source"]} '
            f'images, {perception} {self.size}x{self.size} loaded in '
            f'{time.perf_counter() - self.setup_started:.2f} s')

    # ---------------------------------------------------------------- parameters
    def _on_params(self, changes: dict):
        if 'max_speed' in changes and self.learned is None:
            self.policy.vmax = changes['max_speed']
            if self.policy.controller is not None:
                self.policy.controller.vmax = changes['max_speed']
        if 'source' in changes:
            self.policy.reset()
            self._publish_source()
            self.get_logger().info(f'source switched to {changes["source"]}')

    def _publish_source(self):
        self.pub_source.publish(String(data=self.p['source']))
        self._report(OK, f'source {self.p["source"]}')

    # ---------------------------------------------------------------- inputs
    def _on_spec(self, msg: String):
        try:
            spec = json.loads(msg.data)
            scene, task = Scene.from_dict(spec['scene']), Task.from_dict(spec['task'])
            if self.learned is None:
                self.policy.half = float(spec.get('board_half', self.policy.half))
            self.policy.set_task(scene, task)
        except (ValueError, KeyError, TypeError) as exc:
            self._fault('bad_spec', f'bad task/spec ({type(exc).__name__}: {exc}); keeping the '
                        'previous task')
            return
        self.instruction, self.step = task.instruction, 0
        self.get_logger().info(f'new task: "{task.instruction}"')

    def _on_instruction(self, msg: String):
        if msg.data != self.instruction:
            self.instruction, self.step = msg.data, 0
            if self.learned is not None:
                self.learned.embed([msg.data])     # cached: the next frame acts at once
            self.get_logger().info(f'instruction: "{msg.data}"')

    def _frame(self, source: str, msg: Image):
        """Compute and publish the action for ``msg`` with the latest pose of ``source``."""
        try:
            rgb = image_codec.from_msg(msg, (self.size, self.size))
            obs = Observation(rgb, self.sync.ee[source], self.instruction, self.step)
            action = np.zeros(2)
            if self._ready():
                action = np.clip(self.policy.act(obs), -self.p['max_speed'],
                                 self.p['max_speed']).astype(np.float64)
        except ValueError as exc:       # ImageEncodingError, RuntimeInputError, SceneError
            self._unreadable(source, exc)
            return
        self.step += 1
        if not self.out.send(action, still_valid=lambda: self._fresh(source)):
            return                  # its image went stale meanwhile: the watchdog has it
        rate = self.rate.tick()
        if not self._ready():
            wanted = 'task/spec' if self.learned is None else 'task/instruction'
            self._report(WARN, f'waiting for {wanted}: zero twist', rate_hz=f'{rate:.1f}')
        else:
            self._report(OK, f'acting on {source} images', rate_hz=f'{rate:.1f}')

    def _ready(self) -> bool:
        """Return whether the policy has its task (expert: the spec; learned: an instruction)."""
        return self.policy.controller is not None if self.learned is None else \
            bool(self.instruction)

    # ---------------------------------------------------------------- outputs
    def destroy_node(self):
        """Stop the watchdog thread with the node, however the node ends."""
        self.watchdog.stop()
        super().destroy_node()

    def _watchdog(self):
        """Zero velocity while the input is stale (own thread: never held up)."""
        if not self._fresh(self.p['source']):
            self._stale_zero('input stale: zero twist')


def main(args=None) -> int:
    """Entry point of the ``policy`` executable."""
    return run(PolicyNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
