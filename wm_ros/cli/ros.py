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


"""``wm-ros demo | up | faults | soak | record``: the ROS graph on this host."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from wm_ros.cli import checks
from wm_ros.cli.checks import real, UsageError, whole


def _demo(args) -> int:
    checks.families('--task', [args.task], extra=('random',))
    from wm_ros.ros.demo import run_demo
    summary = run_demo(args.out, args.task, args.seed, args.duration, args.backend)
    for text in summary['instructions']:
        print(f'instruction: "{text}"')
    print(f'{summary["tasks_solved"]} task(s) solved by the expert in {summary["seconds"]} s; '
          f'{summary["comparison_frames"]} real/imagined pairs, {summary["resyncs"]} re-syncs')
    print('world-model prediction error by horizon (comparator, over DDS):')
    print(summary['horizon_table'])
    for key in ('video', 'trajectories', 'bag'):
        print(f'{key}: {summary[key]}')
    return 0 if summary['comparison_frames'] and summary['recorder_exit_code'] == 0 else 1


def _faults(args) -> int:
    from wm_ros.ros import faults
    from wm_ros.ros.bringup import local_ros_env
    checks.one_of('--case', args.case, faults.CASES, 'fault case')
    os.environ.update(local_ros_env())           # DDS on this host unless configured
    cases = faults.FAST if args.fast else (args.case or None)
    rows = faults.run(cases, args.trials, args.out)
    print(faults.table(rows))
    print(f'written {Path(args.out) / "faults.json"}')
    return 0 if all(r.passed for r in rows) else 1


def _soak(args) -> int:
    from wm_ros.ros import soak
    from wm_ros.ros.bringup import local_ros_env
    os.environ.update(local_ros_env())           # DDS on this host unless configured
    report = soak.soak(args.minutes, Path(args.out) / 'logs')
    print(soak.table(report))
    print(f'written {soak.write(report, args.out)}')
    return 1 if report['dead'] else 0


def _typed(option: str, spec, key: str, value: str):
    """Return ``value`` as the type of parameter ``key``'s default, or refuse it."""
    kind = type(spec.default)
    try:
        if kind is bool:
            typed = {'true': True, 'false': False}[value.lower()]
        else:
            typed = kind(value)
    except (KeyError, ValueError):
        raise UsageError(f'{option}: {key} takes a {kind.__name__} (default '
                         f'{spec.default!r}), not {value!r}') from None
    error = spec.check(key, typed)
    if error:
        raise UsageError(f'{option}: {error}')
    return typed


def overrides(graph: str, items: list[str]) -> dict[str, dict]:
    """
    Return ``{node: {param: value}}`` of ``--param node.param=value`` items.

    Values are typed as the node declares them; unknown graphs, nodes, parameters and
    values out of range or choices are refused.
    """
    from wm_ros.ros.graph import GRAPHS
    checks.one_of('graph', [graph], GRAPHS, 'graph')
    nodes = {spec.name: spec for spec in GRAPHS[graph][1]}
    out: dict[str, dict] = {}
    for item in items:
        option = f'--param {item}'
        node, _, rest = item.partition('.')
        key, eq, value = rest.partition('=')
        if not node or not key or not eq:
            raise UsageError(f'{option}: write node.param=value, e.g. sim_robot.seed=3')
        checks.one_of(option, [node], nodes, f'node of graph {graph}')
        params = importlib.import_module(nodes[node].module).PARAMS
        checks.one_of(option, [key], params, f'parameter of {node}')
        out.setdefault(node, {})[key] = _typed(option, params[key], key, value)
    return out


def _up(args) -> int:
    from wm_ros.ros.bringup import up
    return up(args.graph, overrides(args.graph, args.param), args.duration)


def _record(args) -> int:
    checks.new('--out', args.out)
    from wm_ros.ros.record import DEFAULT_TOPICS, record
    record(args.out, args.topics or DEFAULT_TOPICS, args.duration)
    return 0


def add_parser(sub) -> None:
    """Add ``demo``, ``up``, ``faults``, ``soak`` and ``record`` to the subparsers ``sub``."""
    d = sub.add_parser('demo', help='run the demo graph and write a video')
    d.add_argument('--out', default='out/demo')
    d.add_argument('--task', default='block_to_region')
    d.add_argument('--seed', type=whole(0), default=0)
    d.add_argument('--duration', type=real(0, strict=True), default=30.0,
                   help='seconds to run the graph')
    d.add_argument('--backend', default='onnxruntime', choices=['onnxruntime', 'torch'])
    d.set_defaults(func=_demo)

    u = sub.add_parser('up', help='start a graph from wm_ros.ros.graph')
    u.add_argument('graph')
    u.add_argument('--param', action='append', default=[], help='node.param=value')
    u.add_argument('--duration', type=real(0), default=0.0, help='stop after N s (0: Ctrl-C)')
    u.set_defaults(func=_up)

    f = sub.add_parser('faults', help='inject faults into the real graph, print a table')
    f.add_argument('--case', action='append', default=[],
                   help='dead_camera_up, dead_camera_nodes, graph_stop, bad_commands, '
                   'corrupt_model, stop_signals (a SIGINT and a SIGTERM per trial into each '
                   'commanding node and wm-ros up) (repeatable; default all)')
    f.add_argument('--fast', action='store_true', help='only the fast subset CI runs: '
                   'graph_stop, bad_commands, corrupt_model')
    f.add_argument('--trials', type=whole(1), default=1, help='runs of each case')
    f.add_argument('--out', default='out/faults')
    f.set_defaults(func=_faults)

    k = sub.add_parser('soak', help='run the shadow graph under load; per-minute report')
    k.add_argument('--minutes', type=real(0, strict=True), default=10.0)
    k.add_argument('--out', default='out/soak')
    k.set_defaults(func=_soak)

    r = sub.add_parser('record', help='record topics into a rosbag2 MCAP bag (Ctrl-C stops)')
    r.add_argument('--out', required=True, help='new bag directory')
    r.add_argument('--topics', nargs='+', default=None,
                   help='topics to record (default: camera, pose, command, imagined, '
                   'comparison and instruction topics)')
    r.add_argument('--duration', type=real(0), default=0.0, help='stop after N s (0: Ctrl-C)')
    r.set_defaults(func=_record)
