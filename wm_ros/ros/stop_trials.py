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
Signals at random moments into every node that commands motion, and into ``wm-ros up``.

One trial is one fresh process in a DDS domain of its own (:mod:`wm_ros.ros.domains`): a
commanding node (``policy``, ``planner``, ``expert_driver``) fed by a probe that plays the
robot (frames and poses at 10 Hz, the task), or ``wm-ros up sim`` with its expert driving
the simulated robot. Once it commands motion the probe waits a random moment, sends the
signal(s) and keeps feeding, and measures what the robot would see: how long after the
signal the final zero twist was published (its header stamp), how long until the process
and every process it started were gone (the process table), which were left behind, the
last twist on ``ee_twist_cmd`` and the exit code. ``wm-ros faults --case stop_signals``
and ``test/ros/test_stop_signals.py`` run it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
import json
import math
import os
from pathlib import Path
import random
import signal
import subprocess
import sys
import time

from geometry_msgs.msg import Pose, PoseArray, PoseStamped, TwistStamped
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import String

from wm_ros.ros import image_codec
from wm_ros.ros.bringup import local_ros_env, node_command
from wm_ros.ros.common import LATCHED_QOS, STATE_QOS
from wm_ros.ros.domains import hold_free_domain, release
from wm_ros.ros.graph import EXPERT_DRIVER, GRAPHS, PLANNER, POLICY
from wm_ros.ros.probe import Probe

# every node that commands motion (graph.py's ``commands``), then ``wm-ros up sim``
COMMANDING = tuple(dict.fromkeys(n.name for _, nodes in GRAPHS.values() for n in nodes
                                 if n.commands))
TARGETS = COMMANDING + ('up',)
ZERO_WITHIN_S = 1.0          # the final zero twist is published this soon after the signal
EXIT_WITHIN_S = 5.0          # every process is gone this soon after the signal
WATCH_S = 20.0               # how long a trial watches for stragglers before killing them
READY_S = 180.0              # start-up to first motion, several trials at once on 2 cores
MOVING = 0.01                # m/s: the node is commanding motion
PLAN_INSTRUCTION = 'push the green moon to the center'    # tabletop seed 0 (planner tests)
TWIST_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
UP_PARAMS = ('sim_robot.task=make_line', 'sim_robot.seed=3')     # a long task to drive


@dataclass(frozen=True)
class Job:
    """One trial: a target (node name or ``up``) and the signals sent to it, in order."""

    target: str
    signals: tuple[str, ...]

    @property
    def name(self) -> str:
        """Return e.g. ``SIGTERM into planner`` or ``SIGINT+SIGINT into up``."""
        return f'{"+".join(self.signals)} into {self.target}'


@dataclass
class StopTrial:
    """What one trial measured; ``passed`` holds the issue's bounds."""

    job: Job
    moving: float = math.nan            # speed commanded just before the signal, m/s
    zero_s: float = math.inf            # signal -> final zero twist published
    exit_s: float = math.inf            # signal -> every process gone
    leftovers: list = field(default_factory=list)    # processes still alive after WATCH_S
    last_speed: float = math.nan        # the last twist on the robot's topic
    code: int | None = None
    note: str = ''
    log: str = ''

    @property
    def passed(self) -> bool:
        """Zero twist soon, every process gone soon, none left, last twist zero, exit 0."""
        code = -signal.SIGKILL if 'SIGKILL' in self.job.signals else 0    # SIGKILL: as asked
        return (self.zero_s <= ZERO_WITHIN_S and self.exit_s <= EXIT_WITHIN_S and
                not self.leftovers and self.last_speed == 0.0 and self.code == code)

    def numbers(self) -> dict:
        """Return the figures as plain JSON values."""
        return {'moving': self.moving, 'zero_s': self.zero_s, 'exit_s': self.exit_s,
                'leftovers': self.leftovers, 'last_speed': self.last_speed,
                'code': self.code, 'log': self.log}


def jobs(targets=TARGETS, signals=('SIGINT', 'SIGTERM'), trials: int = 1) -> list[Job]:
    """Return ``trials`` jobs per target and signal, interleaved so each batch mixes them."""
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        raise ValueError(f'unknown stop target(s) {unknown}; choose from {list(TARGETS)}')
    return [Job(t, (s,)) for _ in range(trials) for s in signals for t in targets]


# ---------------------------------------------------------------------------- processes
def _stat(pid: int) -> tuple[int, str, int] | None:
    """Return ``(ppid, state, start time)`` of ``pid`` from ``/proc``, or None if gone."""
    try:
        text = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return None
    fields = text[text.rindex(')') + 2:].split()
    return int(fields[1]), fields[0], int(fields[19])


def _name(pid: int) -> str:
    try:
        argv = Path(f'/proc/{pid}/cmdline').read_bytes().split(b'\0')
    except OSError:
        return '?'
    words = [a.decode(errors='replace') for a in argv if a]
    module = next((w for i, w in enumerate(words) if i and words[i - 1] == '-m'), '')
    return module.rsplit('.', 1)[-1] or ' '.join(words[:3])


def descendants(pid: int) -> dict[int, tuple[str, int]]:
    """Return ``{pid: (name, start time)}`` of every process below ``pid`` (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                children.setdefault(stat[0], []).append(int(entry))
    out, todo = {}, list(children.get(pid, []))
    while todo:
        child = todo.pop()
        stat = _stat(child)
        if stat is not None:
            out[child] = (_name(child), stat[2])
            todo += children.get(child, [])
    return out


def alive(pid: int, start: int) -> bool:
    """Return whether process ``pid`` (started at ``start``) still runs (zombies do not)."""
    stat = _stat(pid)
    return stat is not None and stat[2] == start and stat[1] not in 'ZX'


# ---------------------------------------------------------------------------- inputs
def inputs() -> dict:
    """Render what the probe plays: the policy's and the planner's frames, the expert's task."""
    import dataclasses

    from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
    env = TabletopEnv(TabletopConfig(task='block_to_region'))
    try:
        env.reset(seed=1)                   # the policy tests' scene, pusher far from its goal
        scene, task = env.scene, env.task
        obs, _ = env.reset(options={'scene': dataclasses.replace(scene, pusher_xy=(-0.2, -0.2)),
                                    'task': task})
        spec = json.dumps({'scene': scene.to_dict(), 'task': task.to_dict(),
                           'board_half': 0.25, 'episode': 0})
        blocks = [(b.x, b.y) for b in scene.blocks]
        plan_obs, _ = env.reset(seed=0)
        return {'spec': spec, 'image': obs['image'], 'ee': obs['ee_xy'], 'blocks': blocks,
                'plan_image': plan_obs['image'], 'plan_ee': plan_obs['ee_xy']}
    finally:
        env.close()


def _pose(xy) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y = float(xy[0]), float(xy[1])
    pose.orientation.w = 1.0
    return pose


def _feeder(target: str, probe: Probe, given: dict):
    """Return ``feed()``: publish one round of the target's inputs (None for ``up``)."""
    node = probe.node
    if target == 'up':
        return None
    latched = node.create_publisher(String, 'task/instruction' if target == 'planner'
                                    else 'task/spec', LATCHED_QOS)
    latched.publish(String(data=PLAN_INSTRUCTION if target == 'planner' else given['spec']))
    pose_pub = node.create_publisher(PoseStamped, 'ee_pose', STATE_QOS)
    if target == 'expert_driver':
        blocks_pub = node.create_publisher(PoseArray, 'sim/block_poses', STATE_QOS)
    else:
        image_pub = node.create_publisher(Image, 'camera/image_raw', STATE_QOS)
    prefix = 'plan_' if target == 'planner' else ''
    image, ee = given[f'{prefix}image'], given[f'{prefix}ee']

    def feed():
        stamp = node.get_clock().now().to_msg()
        pose = PoseStamped(pose=_pose(ee))
        pose.header.stamp, pose.header.frame_id = stamp, 'board'
        pose_pub.publish(pose)
        if target == 'expert_driver':
            msg = PoseArray(poses=[_pose(b) for b in given['blocks']])
            msg.header.stamp, msg.header.frame_id = stamp, 'board'
            blocks_pub.publish(msg)
        else:
            image_pub.publish(image_codec.to_msg(image, stamp, 'camera'))
    return feed


def _command(target: str) -> list[str]:
    if target == 'up':
        params = [w for p in UP_PARAMS for w in ('--param', p)]
        return [sys.executable, '-m', 'wm_ros.cli', 'up', 'sim', *params]
    spec = {'policy': POLICY, 'planner': PLANNER, 'expert_driver': EXPERT_DRIVER}[target]
    params = {'input_timeout': 2.0}                 # a slow host still commands motion
    if target == 'planner':
        params['config'] = 'tiny'
    return node_command(spec, None, params)


# ---------------------------------------------------------------------------- one trial
def _speed(msg: TwistStamped) -> float:
    return math.hypot(msg.twist.linear.x, msg.twist.linear.y)


def _run_for(probe: Probe, feed, seconds: float, until=None) -> bool:
    """Feed at 10 Hz and spin for ``seconds`` or until ``until()``; say if it held."""
    end, next_feed = time.monotonic() + seconds, 0.0
    while time.monotonic() < end:
        if feed is not None and time.monotonic() >= next_feed:
            feed()
            next_feed = time.monotonic() + 0.1
        if probe.spin(0.02, until) and until is not None:
            return True
    return until is None


def _watch(result: StopTrial, probe: Probe, feed, proc, job: Job, rng: random.Random):
    """Send the job's signals now, then time the final zero and every process's end."""
    twists = probe.msgs['ee_twist_cmd']
    result.moving = _speed(twists[-1][1]) if twists else math.nan
    stat = _stat(proc.pid)
    if stat is None:
        return
    family = {proc.pid: ('wm-ros up' if job.target == 'up' else job.target, stat[2]),
              **descendants(proc.pid)}
    sent_wall, sent = time.time(), time.monotonic()
    for i, name in enumerate(job.signals):
        if i:
            _run_for(probe, feed, rng.uniform(0.05, 0.3))
        proc.send_signal(getattr(signal, name))
    gone: dict[int, float] = {}

    def all_gone():
        proc.poll()                                 # reap our own child
        for pid, (_, start) in family.items():
            if pid not in gone and not alive(pid, start):
                gone[pid] = time.monotonic() - sent
        return len(gone) == len(family)
    _run_for(probe, feed, WATCH_S, all_gone)
    result.exit_s = max(gone.values()) if len(gone) == len(family) else math.inf
    result.leftovers = [f'{name} ({pid})' for pid, (name, start) in family.items()
                        if pid not in gone]
    for pid, (_, start) in family.items():
        if pid not in gone and alive(pid, start):
            os.kill(pid, signal.SIGKILL)
    probe.spin(0.5)                                 # the last twists in flight
    _judge_twists(result, twists, sent_wall)
    try:
        result.code = proc.wait(5)
    except subprocess.TimeoutExpired:
        result.note += ' process did not exit even after SIGKILL;'


def _judge_twists(result: StopTrial, twists: list, sent_wall: float):
    """Set the last speed and when the final run of zeros began after the signal."""
    if not twists:
        result.note += ' no twist ever arrived;'
        return
    result.last_speed = _speed(twists[-1][1])
    stamped = [(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9, _speed(m))
               for _, m in twists]
    moving = [t for t, v in stamped if v > 0.0]
    zeros = [t for t, v in stamped if v == 0.0 and t >= sent_wall and
             (not moving or t >= moving[-1])]
    result.zero_s = zeros[0] - sent_wall if zeros and result.last_speed == 0.0 else math.inf


def trial(job: Job, given: dict, log_dir: Path, rng: random.Random) -> StopTrial:
    """Start ``job.target``, signal it at a random moment while it drives, measure it."""
    result = StopTrial(job)
    domain = hold_free_domain()
    probe = Probe('stop_probe', domain_id=domain)
    log = log_dir / f'{job.target}-{"+".join(job.signals)}-{rng.randrange(10**6):06d}.log'
    result.log = str(log)
    proc = None
    try:
        probe.subscribe(TwistStamped, 'ee_twist_cmd', TWIST_QOS)
        feed = _feeder(job.target, probe, given)
        with log.open('w') as out:
            proc = subprocess.Popen(_command(job.target), env=local_ros_env(domain),
                                    stdout=out, stderr=subprocess.STDOUT)

        def driving():
            msgs = probe.msgs['ee_twist_cmd']
            return proc.poll() is not None or bool(msgs) and _speed(msgs[-1][1]) > MOVING
        if not _run_for(probe, feed, READY_S, driving) or proc.poll() is not None:
            result.note += f' it never commanded motion (exit {proc.poll()});'
        _run_for(probe, feed, rng.uniform(0.0, 2.0))        # a random moment
        if proc.poll() is None:
            _watch(result, probe, feed, proc, job, rng)
        else:
            result.code = proc.returncode
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        probe.close()
        release(domain)
    return result


def run(todo: list[Job], out: str | Path = 'out/stop', parallel: int = 4,
        seed: int | None = None) -> list[StopTrial]:
    """Run the jobs, ``parallel`` at a time; return the trials in job order."""
    log_dir = Path(out) / 'logs'
    log_dir.mkdir(parents=True, exist_ok=True)
    given = inputs()
    root = random.Random(seed)
    rngs = [random.Random(root.randrange(2**32)) for _ in todo]
    with ThreadPoolExecutor(max(1, parallel)) as pool:
        return list(pool.map(lambda a: trial(a[0], given, log_dir, a[1]), zip(todo, rngs)))


def summary(trials: list[StopTrial]) -> str:
    """Return a Markdown table per job kind: passed, max zero-twist latency and exit time."""
    lines = ['| trial | passed | max zero twist (s) | max exit (s) | leftovers | last twist '
             'non-zero |', '|---|---|---|---|---|---|']
    for name in dict.fromkeys(t.job.name for t in trials):
        rows = [t for t in trials if t.job.name == name]
        lines.append(f'| {name} | {sum(t.passed for t in rows)}/{len(rows)} | '
                     f'{max(t.zero_s for t in rows):.3f} | {max(t.exit_s for t in rows):.3f} '
                     f'| {sum(len(t.leftovers) for t in rows)} | '
                     f'{sum(t.last_speed != 0.0 for t in rows)} |')
    return '\n'.join(lines)
