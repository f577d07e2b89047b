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


"""``wm-ros bag export | import | recover``: episodes <-> rosbag2 MCAP, cut-off bags repaired."""

from __future__ import annotations

from wm_ros.cli import checks
from wm_ros.cli.checks import UsageError, whole


def _recover(path: str) -> int:
    import time

    from wm_ros.sim.bag_recover import recover
    start = time.monotonic()
    done = recover(path)
    total = sum(done['counts'].values())
    span = (done['end_ns'] - done['start_ns']) / 1e9 if total else 0.0
    if done['broken'] is None:
        print(f'{done["file"]} is complete: {total} messages over {span:.2f} s; '
              'nothing to recover')
        return 0
    print(f'recovered {done["file"]} in {time.monotonic() - start:.2f} s: {total} messages '
          f'over {span:.2f} s; dropped {done["lost_bytes"]} bytes after the last complete '
          f'record; the damaged file is kept as {done["broken"]}')
    width = max((len(t) for t in done['counts']), default=0)
    for topic, n in done['counts'].items():
        print(f'  {topic:<{width}}  {n:>7}')
    return 0


def _bag(args) -> int:
    if args.bag_command == 'recover':
        checks.exists('bag', args.bag, 'bag')
        return _recover(args.bag)
    if args.bag_command == 'export':
        episodes = checks.shard('shard', args.shard)
        if args.episode >= episodes:
            raise UsageError(f'--episode: {args.shard} has episodes 0..{episodes - 1}, not '
                             f'{args.episode}')
        checks.new('--out', args.out)
    else:
        checks.mcap_bag('bag', args.bag)
    from wm_ros.sim.bag import export_mcap, import_mcap
    from wm_ros.sim.dataset import read_shard, write_shard
    if args.bag_command == 'export':
        print(export_mcap(read_shard(args.shard)[args.episode], args.out))
    else:
        episode = import_mcap(args.bag)
        print(write_shard(args.out, [episode]), f'{len(episode)} steps')
    return 0


def add_parser(sub) -> None:
    """Add ``bag`` and its subcommands to the subparsers ``sub``."""
    b = sub.add_parser('bag', help='episodes <-> rosbag2 MCAP, repair cut-off bags')
    bsub = b.add_subparsers(dest='bag_command', required=True)
    be = bsub.add_parser('export')
    be.add_argument('shard')
    be.add_argument('--episode', type=whole(0), default=0)
    be.add_argument('--out', required=True, help='new bag directory')
    bi = bsub.add_parser('import')
    bi.add_argument('bag')
    bi.add_argument('--out', required=True, help='shard path to write')
    br = bsub.add_parser('recover', help='rebuild the summary and metadata.yaml of a bag cut '
                         'off by SIGKILL or power loss (keeps the damaged file as .broken)')
    br.add_argument('bag', help='bag directory (or its .mcap file)')
    b.set_defaults(func=_bag)
