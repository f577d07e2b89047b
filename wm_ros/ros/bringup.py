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
already configured it (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` and a ``ROS_DOMAIN_ID``
are set only when absent); robot hosts keep their own settings.
"""

from __future__ import annotations

import os
from pathlib import Path
import random
import signal
import subprocess
import sys
import time

from wm_ros.config import config_dir
from wm_ros.ros.graph import get_graph, NodeSpec


def local_ros_env(domain_id: int | None = None, base: dict | None = None) -> dict:
    """Return an environment with DDS kept on localhost and a (random) domain id."""
    env = dict(os.environ if base is None else base)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if domain_id is not None:
        env['ROS_DOMAIN_ID'] = str(domain_id)
    else:
        env.setdefault('ROS_DOMAIN_ID', str(random.randint(1, 100)))
    env.setdefault('MUJOCO_GL', 'egl')
    env.setdefault('PYTHONUNBUFFERED', '1')
    return env


def _value(v) -> str:
    if isinstance(v, bool):
        return 'true' if v else 'false'
    return str(v)


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
        """Start every node as its own process."""
        for spec in self.nodes:
            cmd = node_command(spec, self.params_file, self.overrides.get(spec.name),
                               self.namespace)
            out = None
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                log = self.log_dir / f'{spec.name}.log'
                out = self._logs[spec.name] = log.open('w')  # noqa: SIM115 (closed in stop)
            self.procs[spec.name] = subprocess.Popen(cmd, env=self.env, stdout=out,
                                                     stderr=subprocess.STDOUT)
        return self

    def log(self, name: str) -> str:
        """Return what node ``name`` printed so far (needs ``log_dir``)."""
        path = self.log_dir / f'{name}.log'
        return path.read_text() if path.exists() else ''

    def alive(self) -> dict[str, bool]:
        """Return which nodes are still running."""
        return {n: p.poll() is None for n, p in self.procs.items()}

    def stop(self, timeout: float = 5.0) -> dict[str, int]:
        """
        Stop the graph like Ctrl-C in ``ros2 launch``, commanding nodes first.

        Nodes that command the robot get SIGINT first and are waited for (each publishes a
        zero twist as it exits, while the robot still listens); then the rest. Stragglers
        are killed after ``timeout`` s per group.
        """
        commanders = {n for n in self.procs if n in self.commanders}
        codes = {}
        for group in (commanders, set(self.procs) - commanders):
            procs = {n: p for n, p in self.procs.items() if n in group}
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
            deadline = time.monotonic() + timeout
            for name, p in procs.items():
                try:
                    codes[name] = p.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    codes[name] = p.wait()
        for f in self._logs.values():
            f.close()
        return codes

    def __enter__(self) -> 'Bringup':
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def supervise(bringup: Bringup, duration: float = 0.0, poll_s: float = 0.2) -> list[str]:
    """Wait until a node exits, ``duration`` s pass or Ctrl-C; return the nodes that died."""
    try:
        start = time.monotonic()
        while all(bringup.alive().values()):
            if duration and time.monotonic() - start > duration:
                break
            time.sleep(poll_s)
    except KeyboardInterrupt:
        pass
    return [n for n, ok in bringup.alive().items() if not ok]


def up(name: str, overrides: dict[str, dict] | None = None, duration: float = 0.0) -> int:
    """
    Run graph ``name`` in the foreground until Ctrl-C, ``duration`` s or a node exits.

    When any node exits (a dead camera driver, a crash) the whole graph is stopped,
    commanding nodes first, so the robot's last command is zero.
    """
    bringup = Bringup(name, overrides).start()
    print(f'graph {name!r} up: {", ".join(bringup.procs)} '
          f'(ROS_DOMAIN_ID={bringup.env["ROS_DOMAIN_ID"]}, '
          f'discovery {bringup.env["ROS_AUTOMATIC_DISCOVERY_RANGE"]}); Ctrl-C stops it')
    dead = supervise(bringup, duration)
    codes = bringup.stop()
    if dead:
        print(f'node(s) {dead} exited early with {[codes[n] for n in dead]}')
        return 1
    return 0
