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
``wm-ros bench nodes``: what the ROS wrapping adds on top of the world model's own step.

Starts the ``world_model`` node in its own process (imagine mode, ``step_on_command``: it
steps and publishes as soon as a command arrives), and from this process, over DDS,
publishes a twist and waits for the imagined image it causes, ``n`` times. Prints, at
64x64 and 128x128 (when a 128x128 model is available):

* end-to-end latency twist -> imagined image (median, p95);
* the runtime's own step+decode time at batch 1, measured in this process with the same
  backend and model;
* node overhead = end-to-end - runtime (goal <= 2 ms at 64x64): message conversion, DDS
  transport both ways, executor wake-ups;
* the sustained closed-loop rate (next twist as soon as the image arrives).
"""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
import time

import numpy as np

from wm_ros import artefacts
from wm_ros.bench import stats
from wm_ros.ros.bringup import local_ros_env

MODELS = {64: artefacts.WORLD_MODEL, 128: artefacts.WORLD_MODEL_128}


def _runtime_ms(model: Path, backend: str, n: int) -> np.ndarray:
    from wm_ros.bench.world_model import _frames
    from wm_ros.runtime import load_runtime
    runtime = load_runtime(model, backend, threads=1)
    state = runtime.encode(*_frames(runtime.image_size, n=1))
    action = np.array([[0.1, 0.0]], np.float32)
    out = []
    for _ in range(n + 10):
        t = time.perf_counter()
        state = runtime.step(state, action)
        runtime.decode(state)
        out.append(time.perf_counter() - t)
    return np.array(out[10:]) * 1e3


def _start_node(model: Path, backend: str) -> subprocess.Popen:
    """Start the ``world_model`` node (imagine, step on command) on a local DDS domain."""
    env = local_ros_env()
    os.environ.update({k: env[k] for k in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE')})
    cmd = [sys.executable, '-m', 'wm_ros.ros.world_model_node', '--ros-args',
           '-p', 'mode:=imagine', '-p', 'step_on_command:=true', '-p', f'backend:={backend}',
           '-p', f'model_file_path:={model}', '-p', 'start_timeout:=0.1',
           '-p', 'command_timeout:=5.0']
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


class _Twister:
    """This process's end over DDS: publishes twists, notes when imagined images arrive."""

    def __init__(self):
        import rclpy
        from geometry_msgs.msg import TwistStamped
        from sensor_msgs.msg import Image

        from wm_ros.ros.common import COMMAND_QOS, SENSOR_QOS
        self.rclpy, self.twist = rclpy, TwistStamped
        rclpy.init()
        self.node = rclpy.create_node('wm_ros_bench_nodes')
        self.got: list[float] = []
        self.node.create_subscription(Image, 'imagined/camera/image_raw',
                                      lambda m: self.got.append(time.perf_counter()),
                                      SENSOR_QOS)
        self.pub = self.node.create_publisher(TwistStamped, 'ee_twist_cmd', COMMAND_QOS)

    def send(self, sign: float) -> float:
        """Publish a twist of 0.05 m/s in x times ``sign``; return when it was sent."""
        msg = self.twist()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.header.frame_id = 'board'
        msg.twist.linear.x = 0.05 * sign
        t = time.perf_counter()
        self.pub.publish(msg)
        return t

    def wait(self, count: int, timeout: float) -> bool:
        """Spin until ``count`` images have arrived or ``timeout`` s passed; return which."""
        end = time.perf_counter() + timeout
        while len(self.got) < count and time.perf_counter() < end:
            self.rclpy.spin_once(self.node, timeout_sec=0.0005)
        return len(self.got) >= count

    def close(self):
        """Destroy the node and shut rclpy down."""
        self.node.destroy_node()
        self.rclpy.try_shutdown()


def _time_twists(probe: _Twister, proc: subprocess.Popen, n: int) -> tuple[np.ndarray, float]:
    """Return ``n`` twist -> image latencies (ms) and the sustained closed-loop rate (Hz)."""
    got, start = probe.got, time.perf_counter()
    while not got:                              # node up and matched: first image
        if proc.poll() is not None or time.perf_counter() - start > 60:
            raise RuntimeError(f'world_model node did not come up (exit {proc.poll()})')
        probe.send(1.0)
        probe.wait(1, 0.5)
    latency = []
    for i in range(n + 10):
        before = len(got)
        sent = probe.send(1.0 if (i // 10) % 2 else -1.0)
        if not probe.wait(before + 1, 2.0):
            raise RuntimeError('an imagined image did not arrive within 2 s of a twist')
        latency.append(got[before] - sent)
        time.sleep(0.002)
    count, t0 = len(got), time.perf_counter()
    while time.perf_counter() - t0 < 3.0:
        before = len(got)
        probe.send(1.0)
        probe.wait(before + 1, 2.0)
    return np.array(latency[10:]) * 1e3, (len(got) - count) / (time.perf_counter() - t0)


def measure(model: Path, backend: str = 'onnxruntime', n: int = 200) -> dict:
    """Return end-to-end and runtime milliseconds and the closed-loop rate for ``model``."""
    proc = _start_node(model, backend)
    try:
        probe = _Twister()
        try:
            latency_ms, rate = _time_twists(probe, proc, n)
        finally:
            probe.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return {'e2e_ms': latency_ms, 'runtime_ms': _runtime_ms(model, backend, n),
            'rate_hz': rate}


def main(backend: str = 'onnxruntime', n: int = 200, baseline: str | Path | None = None
         ) -> dict:
    """
    Run the benchmark at every image size with a model; print and return the medians.

    With ``baseline`` (a model directory), the shipped 64x64 model and the baseline are
    measured in the same run and the overhead ratio is printed.
    """
    rows = {}
    print(f'node benchmark ({backend}), CPU cores: {os.cpu_count()}, {n} twists per size')
    models = {64: MODELS[64], 'baseline': Path(baseline)} if baseline else MODELS
    for size, model in models.items():
        label = f'{size}x{size}' if isinstance(size, int) else f'{size} 64x64'
        if not (model / 'model.json').is_file():
            print(f'{label}: no model at {model} (make model-128); skipped')
            continue
        res = measure(model, backend, n)
        e2e, rt = float(np.median(res['e2e_ms'])), float(np.median(res['runtime_ms']))
        print(f'{label} twist -> imagined image: {stats(res["e2e_ms"])}')
        print(f'{label} runtime step+decode b1:   {stats(res["runtime_ms"])}')
        print(f'{label} node overhead (median):   {e2e - rt:7.3f} ms (goal <= 2 ms at '
              f'64x64); sustained closed-loop rate {res["rate_hz"]:.0f} Hz')
        rows[size] = {'e2e_ms': e2e, 'runtime_ms': rt, 'overhead_ms': e2e - rt,
                      'e2e_p95_ms': float(np.percentile(res['e2e_ms'], 95)),
                      'rate_hz': res['rate_hz']}
    if baseline and 64 in rows and 'baseline' in rows:
        new, old = rows[64]['overhead_ms'], rows['baseline']['overhead_ms']
        print(f'node overhead model/baseline: {new:.3f} / {old:.3f} ms = {new / old:.2f}; '
              f'runtime step+decode {rows[64]["runtime_ms"]:.3f} / '
              f'{rows["baseline"]["runtime_ms"]:.3f} ms')
    return rows
