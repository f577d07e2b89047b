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
``wm-ros``: one command with subcommands.

  wm-ros demo                      sim_robot + expert over DDS, prints success, writes a video
  wm-ros up sim                    start a graph like ``ros2 launch`` (Ctrl-C stops it)
  wm-ros collect --episodes 200    write episode shards (expert / noisy / explore mix)
  wm-ros bag export|import         episodes <-> rosbag2 MCAP
  wm-ros bench sim                 step / render timings of the tabletop

Heavy modules are imported inside each subcommand so ``wm-ros --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _mix(text: str) -> dict[str, float]:
    out = {}
    for part in text.split(','):
        name, _, weight = part.partition('=')
        try:
            out[name.strip()] = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'bad mix entry {part!r}; write e.g. expert=0.4,noisy=0.35,explore=0.25') from None
    return out


def _demo(args) -> int:
    from wm_ros.ros.demo import run_demo
    summary = run_demo(args.out, args.task, args.seed, args.timeout, args.image_size)
    print(f'instruction: "{summary["instruction"]}"')
    print(f'success: {summary["success"]} after {summary["time_to_success_s"]} s '
          f'({summary["frames"]} frames received over DDS)')
    print(f'video: {summary["video"]}')
    return 0 if summary['success'] else 1


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


def _collect(args) -> int:
    from wm_ros import config
    from wm_ros.sim.dataset import collect
    from wm_ros.sim.tabletop import TabletopConfig
    from wm_ros.sim.tasks import FAMILIES
    cfg = config.load(TabletopConfig, args.config, image_size=args.image_size)
    families = tuple(args.tasks.split(',')) if args.tasks else FAMILIES
    paths = collect(args.out, args.episodes, args.seed, args.mix, families, cfg,
                    args.shard_size, args.max_steps)
    print(f'wrote {len(paths)} shard(s) to {args.out}')
    return 0


def _bag(args) -> int:
    from wm_ros.sim.bag import export_mcap, import_mcap
    from wm_ros.sim.dataset import read_shard, write_shard
    if args.bag_command == 'export':
        episodes = read_shard(args.shard)
        if not 0 <= args.episode < len(episodes):
            print(f'shard has episodes 0..{len(episodes) - 1}, not {args.episode}',
                  file=sys.stderr)
            return 2
        print(export_mcap(episodes[args.episode], args.out))
    else:
        episode = import_mcap(args.bag)
        print(write_shard(args.out, [episode]), f'{len(episode)} steps')
    return 0


def _bench(args) -> int:
    if args.what == 'sim':
        from wm_ros.bench.sim import main
        rows = main(args.n)
        if args.json:
            print(json.dumps(rows))
    return 0


def parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``wm-ros``."""
    p = argparse.ArgumentParser(prog='wm-ros', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='command', required=True)

    d = sub.add_parser('demo', help='run the demo graph and write a video')
    d.add_argument('--out', default='out/demo')
    d.add_argument('--task', default='block_to_region')
    d.add_argument('--seed', type=int, default=0)
    d.add_argument('--timeout', type=float, default=60.0)
    d.add_argument('--image-size', type=int, default=128)
    d.set_defaults(func=_demo)

    u = sub.add_parser('up', help='start a graph from wm_ros.ros.graph')
    u.add_argument('graph')
    u.add_argument('--param', action='append', default=[], help='node.param=value')
    u.add_argument('--duration', type=float, default=0.0, help='stop after N s (0: Ctrl-C)')
    u.set_defaults(func=_up)

    c = sub.add_parser('collect', help='collect episodes into shards')
    c.add_argument('--out', default='data/episodes')
    c.add_argument('--episodes', type=int, default=200)
    c.add_argument('--seed', type=int, default=0)
    c.add_argument('--mix', type=_mix, default=None,
                   help='behaviour weights, e.g. expert=0.4,noisy=0.35,explore=0.25')
    c.add_argument('--tasks', default='', help='comma-separated task families (default all)')
    c.add_argument('--config', default=None, help='TabletopConfig YAML (config/tabletop.yaml)')
    c.add_argument('--image-size', type=int, default=None)
    c.add_argument('--shard-size', type=int, default=50)
    c.add_argument('--max-steps', type=int, default=None)
    c.set_defaults(func=_collect)

    b = sub.add_parser('bag', help='episodes <-> rosbag2 MCAP')
    bsub = b.add_subparsers(dest='bag_command', required=True)
    be = bsub.add_parser('export')
    be.add_argument('shard')
    be.add_argument('--episode', type=int, default=0)
    be.add_argument('--out', required=True, help='new bag directory')
    bi = bsub.add_parser('import')
    bi.add_argument('bag')
    bi.add_argument('--out', required=True, help='shard path to write')
    b.set_defaults(func=_bag)

    n = sub.add_parser('bench', help='benchmarks that print side-by-side ratios')
    n.add_argument('what', choices=['sim'])
    n.add_argument('-n', type=int, default=300)
    n.add_argument('--json', action='store_true')
    n.set_defaults(func=_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``wm-ros``."""
    os.environ.setdefault('MUJOCO_GL', 'egl')
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        print(f'wm-ros {args.command}: error: {exc}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    raise SystemExit(main())
