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
``wm-ros faults``: the faults a robot team worries about, run against the real graph.

Every case starts real nodes as separate processes (as ``wm-ros up`` does), injects one
fault and measures what a user would see on the topics, so a team can rerun the list on
its own host. Each case returns :class:`Outcome` rows: fault, expected, observed (with
numbers), pass/fail. ``FAST`` is the subset CI runs. ``stop_signals`` sends one SIGINT
and one SIGTERM per trial into every commanding node and into ``wm-ros up``
(:mod:`wm_ros.ros.stop_trials`; the issue's count: ``--case stop_signals --trials 30``).

Who guarantees what when the camera dies (docs/results/stopping-faults.md): the ``policy``
node's watchdog commands zero within ``input_timeout`` (0.15 s) of its last frame whether
or not anything supervises it; ``wm-ros up`` then stops the graph, commanding nodes first,
and each commanding node publishes a zero twist as it exits; the robot driver
(``sim_robot``) stops by itself when no fresh command arrives for ``command_timeout``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import json
import math
from pathlib import Path
import subprocess
import tempfile
import threading
import time

from geometry_msgs.msg import PoseStamped, TwistStamped
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger

from wm_ros.ros.bringup import Bringup, local_ros_env, node_command, supervise
from wm_ros.ros.common import SENSOR_QOS, STATE_QOS
from wm_ros.ros.graph import WORLD_MODEL
from wm_ros.ros.messages import stamp_ns
from wm_ros.ros.probe import Probe

ZERO_WITHIN_S = 0.2          # a dead camera must end in a zero twist this soon
READY_S = 120.0              # graph start-up on a loaded 2-core host (models load, DDS)
# depth 100: with 1000 the probe received zeroed twists here (Fast DDS)
TWIST_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


@dataclass
class Outcome:
    """One fault: what should happen, what did (``numbers`` for the JSON), passed."""

    fault: str
    expected: str
    observed: str
    passed: bool
    numbers: dict = field(default_factory=dict)


def _speed(msg: TwistStamped) -> float:
    return math.hypot(msg.twist.linear.x, msg.twist.linear.y)


def _stamp_s(msg) -> float:
    """Return a stamped message's header stamp in seconds."""
    return stamp_ns(msg.header.stamp) / 1e9


def _fresh_episode(probe: Probe, reset, until, seconds: float) -> bool:
    """Reset ``sim_robot``; spin until ``until(t0)`` (t0: when asked) or ``seconds`` pass."""
    asked = time.monotonic()
    probe.executor.spin_until_future_complete(reset.call_async(Trigger.Request()),
                                              timeout_sec=10.0)
    return probe.spin(seconds, lambda: until(asked))


def dead_camera(supervised: bool, log_dir: Path) -> Outcome:
    """Kill ``sim_robot`` while the policy drives it (graph ``sim_to_real``)."""
    name = 'dead camera, wm-ros up' if supervised else 'dead camera, nodes on their own'
    expected = f'zero twist <= {ZERO_WITHIN_S * 1000:.0f} ms after the last frame, last twist zero'
    probe = Probe('faults_probe')
    probe.subscribe(Image, 'camera/image_raw', SENSOR_QOS)
    probe.subscribe(TwistStamped, 'ee_twist_cmd', TWIST_QOS)
    reset = probe.node.create_client(Trigger, 'sim_robot/reset')
    graph = Bringup('sim_to_real', {'sim_robot': {'task': 'make_line', 'seed': 3}},  # long
                    log_dir=log_dir).start()

    def driving(t0: float = -math.inf) -> bool:            # frames reach the probe too
        return bool(probe.msgs['camera/image_raw']) and any(
            _speed(m) > 0.05 for t, m in probe.msgs['ee_twist_cmd'] if t > t0)
    try:
        probe.spin(READY_S, lambda: driving() or (
            bool(probe.msgs['camera/image_raw']) and reset.service_is_ready()))
        # the policy may have solved the episode before the probe discovered the graph:
        # start fresh episodes until the probe sees it drive
        for _ in range(0 if driving() else 3):
            if _fresh_episode(probe, reset, driving, 20.0):
                break
        moving = driving()
        if not moving:
            return Outcome(name, expected, f'the policy never commanded motion (logs in '
                           f'{log_dir})', False)
        graph.procs['sim_robot'].kill()
        if supervised:       # what `wm-ros up` does when a node dies, while the probe times
            stopping = threading.Thread(target=lambda: (supervise(graph), graph.stop()))
            stopping.start()
            probe.spin(READY_S, lambda: not stopping.is_alive())
            stopping.join()
        probe.spin(1.0)
        # times are header stamps (the camera's capture, the policy's publish), not when
        # the probe got round to them: a stall of the probe itself is not the robot's
        last_frame = max(_stamp_s(m) for _, m in probe.msgs['camera/image_raw'])
        after = sorted((_stamp_s(m), _speed(m)) for _, m in probe.msgs['ee_twist_cmd']
                       if _stamp_s(m) > last_frame)
        # the policy may itself command zero before acting on the last frame: time the
        # start of the final run of zeros (the robot stopped for good)
        moving = [t for t, v in after if v > 0]
        zeros = [t for t, v in after if v == 0.0 and (not moving or t > moving[-1])]
        latency = zeros[0] - last_frame if zeros else math.inf
        last = after[-1][1] if after else _speed(probe.msgs['ee_twist_cmd'][-1][1])
        passed = latency <= ZERO_WITHIN_S and last == 0.0
        observed = (f'stopped for good {latency * 1000:.0f} ms after the last frame, last '
                    f'twist {last:.3f} m/s, {len(moving)} non-zero after the last frame')
        return Outcome(name, expected, observed, passed,
                       {'zero_latency_s': latency, 'last_speed': last,
                        'nonzero_after_last_frame': len(moving)})
    finally:
        graph.stop()
        probe.close()


def graph_stop(log_dir: Path) -> Outcome:
    """
    Stop graph ``sim`` while the expert drives: the last command must be zero.

    The expert may finish an episode before the probe has discovered the graph, so once
    the probe hears the robot it starts fresh episodes (``sim_robot/reset``) until the
    expert commands motion, and stops the graph while it does.
    """
    name, expected = 'graph stopped while driving', 'last twist zero, commanding node exits 0'
    probe = Probe('faults_probe')
    probe.subscribe(TwistStamped, 'ee_twist_cmd', TWIST_QOS)
    probe.subscribe(PoseStamped, 'ee_pose', STATE_QOS)
    reset = probe.node.create_client(Trigger, 'sim_robot/reset')
    graph = Bringup('sim', {'sim_robot': {'task': 'make_line', 'seed': 3}},   # a long task
                    log_dir=log_dir).start()

    def driving_since(t0):
        return [m for t, m in probe.msgs['ee_twist_cmd'] if t > t0 and _speed(m) > 0.05]
    try:
        heard = probe.spin(READY_S, lambda: probe.msgs['ee_pose'] and reset.service_is_ready())
        moving = False
        for _ in range(5 if heard else 0):
            if _fresh_episode(probe, reset, lambda t0: len(driving_since(t0)) >= 3, 10.0):
                moving = _speed(probe.msgs['ee_twist_cmd'][-1][1]) > 0.05
                if moving:
                    break
        before = probe.msgs['ee_twist_cmd'][-1][1] if probe.msgs['ee_twist_cmd'] else None
        at_stop = _speed(before) if before else math.nan
        stopped_at = time.monotonic()
        codes = graph.stop(timeout=30)
        probe.spin(0.5)
        late = [m for t, m in probe.msgs['ee_twist_cmd'] if t >= stopped_at]
        last = _speed(late[-1]) if late else at_stop
        passed = moving and last == 0.0 and codes['expert_driver'] == 0
        observed = (f'stopped while commanding {at_stop:.3f} m/s; last twist {last:.3f} '
                    f'm/s, expert_driver exit {codes["expert_driver"]}' if heard else
                    f'the probe never heard ee_pose and sim_robot/reset (logs in {log_dir})')
        return Outcome(name, expected, observed, passed,
                       {'last_speed': last, 'speed_at_stop': at_stop})
    finally:
        graph.stop()
        probe.close()


def bad_commands(log_dir: Path) -> list[Outcome]:
    """Send NaN, inf, huge and subnormal twists to ``sim_robot``."""
    probe = Probe('faults_probe')
    probe.subscribe(PoseStamped, 'ee_pose', STATE_QOS)
    pub = probe.node.create_publisher(TwistStamped, 'ee_twist_cmd', TWIST_QOS)
    graph = Bringup('robot', {'sim_robot': {'task': 'separate', 'seed': 5}},
                    log_dir=log_dir).start()
    outcomes = []
    try:
        if not probe.spin(READY_S, lambda: probe.msgs['ee_pose']):
            return [Outcome('bad commands', 'sim_robot up', 'sim_robot published no pose',
                            False)]

        def ee():
            p = probe.last('ee_pose').pose.position
            return (p.x, p.y)
        for value in (math.nan, math.inf, 1e39, 1e308, -1e308, 5e-324):
            probe.spin(0.6)                         # any earlier motion ends (timeout)
            start = ee()
            towards = [-math.copysign(1.0, c) for c in start]     # the board's centre
            if value < 0:
                towards = [-c for c in towards]
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                msg = TwistStamped()
                msg.header.stamp = probe.node.get_clock().now().to_msg()
                msg.header.frame_id = 'board'
                msg.twist.linear.x = value * towards[0]
                msg.twist.linear.y = value * towards[1]
                pub.publish(msg)
                probe.spin(0.05)
            probe.spin(0.3)
            moved = math.dist(ee(), start)
            alive = graph.alive()['sim_robot']
            if math.isfinite(value) and abs(value) > 1:
                expected, passed = 'clipped to 0.2 m/s per axis: moves, node alive', \
                    moved > 0.05 and alive
            else:
                expected, passed = 'no motion, node alive', moved < 0.002 and alive
            outcomes.append(Outcome(f'twist {value:g} m/s to sim_robot', expected,
                                    f'moved {moved * 100:.1f} cm in 0.5 s, alive {alive}',
                                    passed, {'moved_m': moved}))
        return outcomes
    finally:
        graph.stop()
        probe.close()


def corrupt_model(log_dir: Path) -> Outcome:
    """Start ``world_model`` on a corrupt model file: exit 1, one FATAL line, no traceback."""
    name, expected = 'corrupt model file', 'exit 1, one [FATAL] line naming the file'
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / 'model.json').write_text('{"format": "wm_ros.object_slots", ')
        log = log_dir / 'world_model_corrupt.log'
        with log.open('w') as out:
            proc = subprocess.run(node_command(WORLD_MODEL, None, {'model_file_path': tmp}),
                                  env=local_ros_env(), stdout=out, stderr=subprocess.STDOUT,
                                  timeout=READY_S, check=False)
        text = log.read_text()
        fatal = [line for line in text.splitlines() if '[FATAL]' in line]
        passed = proc.returncode == 1 and len(fatal) == 1 and tmp in fatal[0] \
            and 'Traceback' not in text
        return Outcome(name, expected, f'exit {proc.returncode}, {len(fatal)} FATAL line(s)'
                       f'{", a traceback" if "Traceback" in text else ""}', passed)


def stop_signals(log_dir: Path) -> list[Outcome]:
    """SIGINT and SIGTERM at a random moment into each commanding node and ``wm-ros up``."""
    from wm_ros.ros import stop_trials
    expected = (f'zero twist <= {stop_trials.ZERO_WITHIN_S:g} s after the signal, every '
                f'process gone <= {stop_trials.EXIT_WITHIN_S:g} s, none left, last twist zero')
    rows = []
    for t in stop_trials.run(stop_trials.jobs(), log_dir):
        observed = (f'zero twist after {t.zero_s * 1000:.0f} ms, gone after {t.exit_s:.2f} s, '
                    f'{len(t.leftovers)} left behind, last twist {t.last_speed:.3f} m/s, '
                    f'exit {t.code}{";" + t.note if t.note else ""}')
        rows.append(Outcome(t.job.name, expected, observed, t.passed, t.numbers()))
    return rows


CASES = {
    'dead_camera_up': lambda d: [dead_camera(True, d)],
    'dead_camera_nodes': lambda d: [dead_camera(False, d)],
    'graph_stop': lambda d: [graph_stop(d)],
    'bad_commands': bad_commands,
    'corrupt_model': lambda d: [corrupt_model(d)],
    'stop_signals': stop_signals,
}
FAST = ('graph_stop', 'bad_commands', 'corrupt_model')


def run(cases=None, trials: int = 1, out: str | Path = 'out/faults') -> list[Outcome]:
    """Run ``cases`` (default all) ``trials`` times; write ``faults.json``; return rows."""
    names = list(cases or CASES)
    unknown = sorted(set(names) - set(CASES))
    if unknown:
        raise ValueError(f'unknown fault case(s) {unknown}; choose from {sorted(CASES)}')
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        for trial in range(trials):
            log_dir = out / 'logs' / f'{name}-{trial}'
            log_dir.mkdir(parents=True, exist_ok=True)
            rows += CASES[name](log_dir)
    (out / 'faults.json').write_text(json.dumps([asdict(r) for r in rows], indent=2,
                                                default=str))
    return rows


def table(rows: list[Outcome]) -> str:
    """Return the outcomes as a Markdown table, with a pass count per fault."""
    lines = ['| fault | expected | observed | result |', '|---|---|---|---|']
    lines += [f'| {r.fault} | {r.expected} | {r.observed} | {"pass" if r.passed else "FAIL"} |'
              for r in rows]
    summary = {}
    for r in rows:
        ok, n = summary.get(r.fault, (0, 0))
        summary[r.fault] = (ok + r.passed, n + 1)
    lines.append('')
    lines += [f'{fault}: {ok}/{n} passed' for fault, (ok, n) in summary.items()]
    return '\n'.join(lines)
