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
Bring-up runner: start a graph from :mod:`wm_ros.ros.graph` as separate processes.

This is ``ros2 launch`` for machines with only the PyPI ROS wheels: every node runs as
``python -m <module> --ros-args -r __node:=<name> --params-file <config> -p k:=v ...``,
talking over DDS like launched nodes do. Discovery stays on this host unless the caller
already configured it (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` and a free
``ROS_DOMAIN_ID`` are set only when absent); robot hosts keep their own settings.

Stopping, as ``ros2 launch`` does: SIGINT, SIGTERM and SIGHUP to ``wm-ros up`` are
forwarded to its nodes, commanding nodes first (their final zero twist reaches a robot
that still listens), then the rest; a node still running ``timeout`` s later gets SIGTERM,
then SIGKILL. A second signal while stopping does not cut the teardown short.

Orphans: each node runs in its own process group (a terminal's Ctrl-C reaches only the
runner, which stops the nodes in order) and, on Linux, asks the kernel for SIGTERM when the
runner dies (``PR_SET_PDEATHSIG``, see :func:`wm_ros.ros.stop_signals.die_with_parent`):
so a SIGKILL or crash of ``wm-ros up`` still stops every node, each with its own zero
twist, though not commanding nodes first (the robot driver's command timeout covers a zero
that arrives after the driver stopped). Not covered: other systems than Linux, a node that
is itself SIGKILLed (it cannot send a zero), and graphs started from a thread other than
the main one (the kernel ties the signal to the starting thread, so it is not asked for).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time

from wm_ros.config import config_dir
from wm_ros.ros.domains import hold_free_domain
from wm_ros.ros.graph import get_graph, NodeSpec
from wm_ros.ros.stop_signals import PARENT_ENV, STACKS_SIGNAL, STOP_SIGNALS, StopSignals
import yaml

TERM_S = 5.0            # after SIGTERM, a node gets this long before SIGKILL
STACKS_S = 1.0          # after SIGUSR1 (stacks to its log), before SIGKILL


_DOMAIN: list[int] = []         # the free domain this process holds, once taken


def _own_domain() -> int:
    """Return this process's free DDS domain, taking (and locking) it on the first call."""
    if not _DOMAIN:
        _DOMAIN.append(hold_free_domain())       # locked while this process runs
    return _DOMAIN[0]


def local_ros_env(domain_id: int | None = None, base: dict | None = None) -> dict:
    """Return an environment with DDS kept on localhost and a free (random) domain id."""
    env = dict(os.environ if base is None else base)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if domain_id is not None:
        env['ROS_DOMAIN_ID'] = str(domain_id)
    elif 'ROS_DOMAIN_ID' not in env:
        env['ROS_DOMAIN_ID'] = str(_own_domain())
    env.setdefault('MUJOCO_GL', 'egl')
    env.setdefault('PYTHONUNBUFFERED', '1')
    return env


def _value(v) -> str:
    """Return ``v`` as ``-p name:=VALUE`` text that ROS reads back as the same type."""
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, str) and not _reads_as_string(v):
        return json.dumps(v)        # '10', 'true', '[a', '' stay strings (ROS reads YAML)
    return str(v)


def _reads_as_string(text: str) -> bool:
    try:
        return yaml.safe_load(text) == text
    except yaml.YAMLError:
        return False


def node_command(spec: NodeSpec, params_file: Path | None, overrides: dict | None = None,
                 namespace: str = '') -> list[str]:
    """Return the command line that starts ``spec`` like ``ros2 launch`` would."""
    cmd = [sys.executable, '-m', spec.module, '--ros-args', '-r', f'__node:={spec.name}']
    if namespace:
        cmd += ['-r', f'__ns:=/{namespace.strip("/")}']
    if params_file is not None:
        cmd += ['--params-file', str(params_file)]
    for key, value in {**spec.parameters, **(overrides or {})}.items():
        cmd += ['-p', f'{key}:={_value(value)}']
    for src, dst in spec.remappings:
        cmd += ['-r', f'{src}:={dst}']
    return cmd


class Bringup:
    """Start graph ``name``; ``overrides[node] = {param: value}``; stop on exit."""

    def __init__(self, name: str, overrides: dict[str, dict] | None = None,
                 params_file: str | Path | None = None, namespace: str = '',
                 env: dict | None = None, log_dir: str | Path | None = None):
        default_params, self.nodes = get_graph(name)
        self.params_file = Path(params_file) if params_file else config_dir() / default_params
        if not self.params_file.is_file():
            raise FileNotFoundError(f'parameter file {self.params_file} does not exist')
        unknown = sorted(set(overrides or {}) - {n.name for n in self.nodes})
        if unknown:
            raise ValueError(f'overrides for node(s) {unknown} not in graph {name!r}')
        self.overrides = overrides or {}
        self.namespace = namespace
        self.env = local_ros_env(base=env)
        self.log_dir = Path(log_dir) if log_dir else None
        self.procs: dict[str, subprocess.Popen] = {}
        self.commanders = {n.name for n in self.nodes if n.commands}
        self._logs = {}

    def start(self) -> 'Bringup':
        """Start every node as its own process (own process group, dies with this one)."""
        env = dict(self.env)
        if threading.current_thread() is threading.main_thread():
            env[PARENT_ENV] = str(os.getpid())
        for spec in self.nodes:
            cmd = node_command(spec, self.params_file, self.overrides.get(spec.name),
                               self.namespace)
            out = None
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                log = self.log_dir / f'{spec.name}.log'
                out = self._logs[spec.name] = log.open('w')  # noqa: SIM115 (closed in stop)
            self.procs[spec.name] = subprocess.Popen(cmd, env=env, stdout=out,
                                                     stderr=subprocess.STDOUT,
                                                     start_new_session=True)
        return self

    def log(self, name: str) -> str:
        """Return what node ``name`` printed so far (needs ``log_dir``)."""
        path = self.log_dir / f'{name}.log'
        return path.read_text() if path.exists() else ''

    def alive(self) -> dict[str, bool]:
        """Return which nodes are still running."""
        return {n: p.poll() is None for n, p in self.procs.items()}

    def stop(self, timeout: float = 5.0, sig: int = signal.SIGINT) -> dict[str, int]:
        """
        Stop the graph like ``ros2 launch`` does; return every node's exit code.

        Nodes that command the robot get ``sig`` first and are waited for (each publishes
        a zero twist as it exits, while the robot still listens); then the rest. A node
        still running ``timeout`` s after ``sig`` gets SIGTERM, and SIGKILL ``TERM_S`` s
        later. Signals to this process meanwhile are held until the teardown is done.
        """
        commanders = {n for n in self.procs if n in self.commanders}
        codes = {}
        with deferred_signals():
            for group in (commanders, set(self.procs) - commanders):
                codes.update(_stop_group({n: p for n, p in self.procs.items() if n in group},
                                         sig, timeout))
            for f in self._logs.values():
                f.close()
        return codes

    def __enter__(self) -> 'Bringup':
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _wait(procs: dict[str, subprocess.Popen], seconds: float) -> list[str]:
    """Wait up to ``seconds`` for ``procs`` to exit; return the names still running."""
    deadline = time.monotonic() + seconds
    for p in procs.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(max(0.0, deadline - time.monotonic()))
    return [n for n, p in procs.items() if p.poll() is None]


def _stop_group(procs: dict[str, subprocess.Popen], sig: int, timeout: float) -> dict:
    """
    Send ``sig`` to ``procs``; escalate to SIGTERM, then SIGKILL; return exit codes.

    Before SIGKILL a node gets ``STACKS_SIGNAL``: every thread's stack goes to its output,
    which says where it hung.
    """
    steps = [(sig, timeout)]
    if sig != signal.SIGTERM:
        steps.append((signal.SIGTERM, TERM_S))
    steps += [(STACKS_SIGNAL, STACKS_S), (signal.SIGKILL, None)]
    left = list(procs)
    for i, (step, seconds) in enumerate(steps):
        if i and steps[i - 1][0] != STACKS_SIGNAL:
            then = ('writing their stacks to their output (SIGUSR1), then SIGKILL'
                    if step == STACKS_SIGNAL else f'sending {signal.Signals(step).name}')
            print(f'node(s) {left} still running {steps[i - 1][1]:g} s after '
                  f'{signal.Signals(steps[i - 1][0]).name}: {then}', file=sys.stderr, flush=True)
        for name in left:
            with contextlib.suppress(ProcessLookupError):
                procs[name].send_signal(step)
        if step == STACKS_SIGNAL:
            time.sleep(seconds)
            continue
        left = _wait({n: procs[n] for n in left}, seconds if seconds is not None else 30.0)
        if not left:
            break
    return {n: p.returncode for n, p in procs.items()}


@contextlib.contextmanager
def deferred_signals():
    """
    Hold SIGINT, SIGTERM and SIGHUP off while the body runs, then deliver them.

    So a second Ctrl-C cannot cut a teardown short. Main thread only (elsewhere Python
    delivers no signals anyway).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    previous = {s: signal.signal(s, lambda n, _: got.append(n)) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        for n in dict.fromkeys(got):
            signal.raise_signal(n)


def supervise(bringup: Bringup, duration: float = 0.0, poll_s: float = 0.2,
              stop: threading.Event | None = None) -> list[str]:
    """Wait until a node exits, ``duration`` s pass, ``stop`` is set or Ctrl-C; say who died."""
    stop = stop or threading.Event()
    try:
        start = time.monotonic()
        while all(bringup.alive().values()) and not stop.is_set():
            if duration and time.monotonic() - start > duration:
                break
            stop.wait(poll_s)
    except KeyboardInterrupt:
        pass
    return [n for n, ok in bringup.alive().items() if not ok]


def up(name: str, overrides: dict[str, dict] | None = None, duration: float = 0.0) -> int:
    """
    Run graph ``name`` in the foreground until a signal, ``duration`` s or a node exits.

    SIGINT (Ctrl-C), SIGTERM (``systemd``, ``docker stop``) and SIGHUP are forwarded to the
    nodes, commanding nodes first, so the robot's last command is zero; when any node exits
    (a dead camera driver, a crash) the whole graph is stopped the same way. Returns 0
    when every node stopped cleanly, 1 when one exited early or had to be killed. Meant as
    a program's last act: SIGINT, SIGTERM and SIGHUP are ignored after it returns, so a
    late second Ctrl-C changes nothing (not even the exit code).
    """
    signals = StopSignals()
    signals.install()               # before any node starts: no signal is missed
    try:
        bringup = Bringup(name, overrides).start()
        print(f'graph {name!r} up: {", ".join(bringup.procs)} '
              f'(ROS_DOMAIN_ID={bringup.env["ROS_DOMAIN_ID"]}, '
              f'discovery {bringup.env["ROS_AUTOMATIC_DISCOVERY_RANGE"]}); Ctrl-C stops it',
              flush=True)
        dead = supervise(bringup, duration, stop=signals.event)
        sig = signals.signum or signal.SIGINT
        if signals.signum:
            print(f'{signal.Signals(sig).name}: stopping the graph', flush=True)
        codes = bringup.stop(sig=sig)
    finally:
        signals.uninstall(restore_handlers=False)
        for s in STOP_SIGNALS:          # the process exits next: a late signal changes
            signal.signal(s, signal.SIG_IGN)    # nothing (Python's exit resets handlers)
    if dead:
        print(f'node(s) {dead} exited early with {[codes[n] for n in dead]}')
        return 1
    bad = {n: c for n, c in codes.items() if c != 0}
    if bad:
        print(f'node(s) did not stop cleanly: {bad}', file=sys.stderr)
        return 1
    return 0
