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
``wm-ros demo``: the world model shadowing the reference robot, across processes over DDS.

Starts the ``shadow`` graph (``sim_robot`` + ``expert_driver`` + ``world_model`` in shadow
mode + ``comparator``, each its own process) and ``wm-ros record`` (a fifth process),
watches the comparison topics from this process like any ROS tool would, resets the robot
to the next episode whenever a task is solved, and after ``duration`` seconds writes to
``out``:

* ``compare.mp4`` (+ ``compare.gif``): real | imagined | difference, side by side;
* ``trajectories.png``: real vs predicted end-effector paths;
* ``horizon_errors.md`` / ``.json``: per-horizon prediction error from ``compare/metrics``;
* ``bag/``: the MCAP bag of real and imagined topics; ``summary.json``; node logs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import imageio.v2 as imageio
import numpy as np

from wm_ros.ros.bringup import Bringup

RECORD_TOPICS = ('camera/image_raw', 'ee_pose', 'ee_twist_cmd', 'imagined/camera/image_raw',
                 'imagined/ee_pose', 'imagined/uncertainty', 'imagined/resync',
                 'compare/metrics', 'task/instruction', 'task/success')


def _plot(real: list, predicted: list, resyncs: list, path: Path, board_half: float = 0.25):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 5))
    if real:
        r = np.array(real)
        ax.plot(r[:, 0], r[:, 1], '-', color='tab:green', lw=1.5, label='real (sim_robot)')
    if predicted:
        p = np.array(predicted)
        ax.plot(p[:, 0], p[:, 1], '--', color='tab:red', lw=1.2, label='predicted (world model)')
    if resyncs:
        s = np.array(resyncs)
        ax.plot(s[:, 0], s[:, 1], 'k.', ms=4, label='re-sync to the camera')
    ax.set_xlim(-board_half, board_half)
    ax.set_ylim(-board_half, board_half)
    ax.set_aspect('equal')
    ax.set_xlabel('x (m)')
    ax.set_ylabel('y (m)')
    ax.set_title('end-effector: real vs predicted')
    ax.legend(loc='lower left', fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def horizon_table(metrics: dict) -> str:
    """Return a Markdown table of the comparator's per-horizon metrics."""
    lines = ['| horizon (steps) | pairs | ee error (mm) | PSNR (dB) |', '|---|---|---|---|']
    for h, row in sorted(metrics.get('horizons', {}).items(), key=lambda kv: int(kv[0])):
        ee, psnr = row.get('ee_error_m'), row.get('psnr_db')
        ee_text = f'{1000 * ee:.1f}' if ee is not None else '-'
        psnr_text = f'{psnr:.1f}' if psnr is not None else '-'
        lines.append(f"| {h} | {row.get('n', 0)} | {ee_text} | {psnr_text} |")
    return '\n'.join(lines)


def run_demo(out: str | Path = 'out/demo', task: str = 'block_to_region', seed: int = 0,
             duration: float = 30.0, backend: str = 'onnxruntime', scale: int = 4) -> dict:
    """Run the demo for ``duration`` seconds and return its summary."""
    out = Path(out)
    (out / 'logs').mkdir(parents=True, exist_ok=True)
    overrides = {'sim_robot': {'task': task, 'seed': seed},
                 'world_model': {'backend': backend}}
    bringup = Bringup('shadow', overrides, log_dir=out / 'logs')
    for key in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE'):
        os.environ[key] = bringup.env[key]
    import rclpy
    frames: list[np.ndarray] = []
    state = {'instructions': [], 'solved': 0, 'metrics': {}, 'real': [], 'predicted': [],
             'resyncs': 0, 'armed': False}
    rclpy.init()
    node = rclpy.create_node('wm_ros_demo')
    _watch(node, frames, state)
    recorder = _start_recorder(out, bringup.env)
    start = time.monotonic()
    bringup.start()
    try:
        while time.monotonic() - start < duration:
            rclpy.spin_once(node, timeout_sec=0.05)
            if not all(bringup.alive().values()):
                break
    finally:
        alive = bringup.alive()
        recorder.send_signal(signal.SIGINT)
        bringup.stop()
        try:
            recorder.wait(15)
        except subprocess.TimeoutExpired:
            recorder.kill()
        node.destroy_node()
        rclpy.try_shutdown()
    if not all(alive.values()):
        dead = [n for n, ok in alive.items() if not ok]
        raise RuntimeError(f'node(s) {dead} died; see {out / "logs"}')
    if not frames:
        raise RuntimeError(f'no comparison frames arrived; see {out / "logs"}')
    summary = _write(out, frames, state, scale)
    summary.update({'seconds': round(time.monotonic() - start, 2),
                    'recorder_exit_code': recorder.returncode,
                    'ros_domain_id': bringup.env['ROS_DOMAIN_ID']})
    (out / 'summary.json').write_text(json.dumps(summary, indent=2))
    return summary


def _watch(node, frames: list, state: dict):
    """Subscribe ``node`` to the comparison topics; reset the robot once per solved task."""
    from nav_msgs.msg import Path as PathMsg
    from sensor_msgs.msg import Image
    from std_msgs.msg import Bool, Header, String
    from std_srvs.srv import Trigger

    from wm_ros.ros import image_codec
    from wm_ros.ros.common import LATCHED_QOS, SENSOR_QOS, STATE_QOS
    reset = node.create_client(Trigger, 'sim_robot/reset')

    def on_success(msg):
        # one reset per solved episode: the next instruction re-arms it
        if msg.data and state['armed'] and reset.service_is_ready():
            state['solved'] += 1
            state['armed'] = False
            reset.call_async(Trigger.Request())

    def on_instruction(msg):
        state['instructions'].append(msg.data)
        state['armed'] = True

    def path_xy(msg):
        return [(p.pose.position.x, p.pose.position.y) for p in msg.poses]

    node.create_subscription(Image, 'compare/image',
                             lambda m: frames.append(image_codec.from_msg(m)), SENSOR_QOS)
    node.create_subscription(String, 'task/instruction', on_instruction, LATCHED_QOS)
    node.create_subscription(Bool, 'task/success', on_success, STATE_QOS)
    node.create_subscription(String, 'compare/metrics',
                             lambda m: state.__setitem__('metrics', json.loads(m.data)),
                             STATE_QOS)
    node.create_subscription(PathMsg, 'compare/real_path',
                             lambda m: state.__setitem__('real', path_xy(m)), STATE_QOS)
    node.create_subscription(PathMsg, 'compare/predicted_path',
                             lambda m: state.__setitem__('predicted', path_xy(m)), STATE_QOS)
    node.create_subscription(Header, 'imagined/resync',
                             lambda m: state.__setitem__('resyncs', state['resyncs'] + 1),
                             STATE_QOS)


def _start_recorder(out: Path, env: dict) -> subprocess.Popen:
    """Start ``wm-ros record`` of :data:`RECORD_TOPICS` into ``out/bag`` (a fresh bag)."""
    bag = out / 'bag'
    if bag.exists():
        import shutil
        shutil.rmtree(bag)
    return subprocess.Popen(
        [sys.executable, '-m', 'wm_ros.cli', 'record', '--out', str(bag), '--topics',
         *RECORD_TOPICS], env=env, stdout=(out / 'logs' / 'record.log').open('w'),
        stderr=subprocess.STDOUT)


def _write(out: Path, frames: list, state: dict, scale: int) -> dict:
    """Write the video, the trajectory plot and the horizon table; return their summary."""
    big = [np.kron(f, np.ones((scale, scale, 1), np.uint8)) for f in frames]
    video = out / 'compare.mp4'
    imageio.mimsave(video, big, fps=10, macro_block_size=1)
    imageio.mimsave(out / 'compare.gif', big[::2], duration=0.2, loop=0)
    _plot(state['real'], state['predicted'], [], out / 'trajectories.png')
    table = horizon_table(state['metrics'])
    (out / 'horizon_errors.md').write_text(table + '\n')
    (out / 'horizon_errors.json').write_text(json.dumps(state['metrics'], indent=2))
    return {'instructions': state['instructions'], 'tasks_solved': state['solved'],
            'comparison_frames': len(frames), 'resyncs': state['resyncs'],
            'video': str(video), 'trajectories': str(out / 'trajectories.png'),
            'bag': str(out / 'bag'), 'horizon_table': table}
