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

import os
from pathlib import Path
import sys


def _demo(args) -> int:
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


def _up(args) -> int:
    from wm_ros.ros.bringup import up
    overrides: dict[str, dict] = {}
    for item in args.param:
        node, _, rest = item.partition('.')
        key, _, value = rest.partition('=')
        if not node or not key or not _:
            print(f'bad --param {item!r}; write node.param=value', file=sys.stderr)
            return 2
        overrides.setdefault(node, {})[key] = value
    return up(args.graph, overrides, args.duration)


def _record(args) -> int:
    from wm_ros.ros.record import DEFAULT_TOPICS, record
    record(args.out, args.topics or DEFAULT_TOPICS, args.duration)
    return 0


def add_parser(sub) -> None:
    """Add ``demo``, ``up``, ``faults``, ``soak`` and ``record`` to the subparsers ``sub``."""
    d = sub.add_parser('demo', help='run the demo graph and write a video')
    d.add_argument('--out', default='out/demo')
    d.add_argument('--task', default='block_to_region')
    d.add_argument('--seed', type=int, default=0)
    d.add_argument('--duration', type=float, default=30.0, help='seconds to run the graph')
    d.add_argument('--backend', default='onnxruntime', choices=['onnxruntime', 'torch'])
    d.set_defaults(func=_demo)

    u = sub.add_parser('up', help='start a graph from wm_ros.ros.graph')
    u.add_argument('graph')
    u.add_argument('--param', action='append', default=[], help='node.param=value')
    u.add_argument('--duration', type=float, default=0.0, help='stop after N s (0: Ctrl-C)')
    u.set_defaults(func=_up)

    f = sub.add_parser('faults', help='inject faults into the real graph, print a table')
    f.add_argument('--case', action='append', default=[],
                   help='dead_camera_up, dead_camera_nodes, graph_stop, bad_commands, '
                   'corrupt_model (repeatable; default all)')
    f.add_argument('--fast', action='store_true', help='only the fast subset CI runs')
    f.add_argument('--trials', type=int, default=1)
    f.add_argument('--out', default='out/faults')
    f.set_defaults(func=_faults)

    k = sub.add_parser('soak', help='run the shadow graph under load; per-minute report')
    k.add_argument('--minutes', type=float, default=10.0)
    k.add_argument('--out', default='out/soak')
    k.set_defaults(func=_soak)

    r = sub.add_parser('record', help='record topics into a rosbag2 MCAP bag (Ctrl-C stops)')
    r.add_argument('--out', required=True, help='new bag directory')
    r.add_argument('--topics', nargs='+', default=None,
                   help='topics to record (default: camera, pose, command, imagined, '
                   'comparison and instruction topics)')
    r.add_argument('--duration', type=float, default=0.0, help='stop after N s (0: Ctrl-C)')
    r.set_defaults(func=_record)
