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


"""``wm-ros bench sim | world-model | nodes | evaluate | planner | rl``: side-by-side ratios."""

from __future__ import annotations

import json

from wm_ros.cli import checks
from wm_ros.cli.checks import whole
from wm_ros.cli.common import DEFAULT_MODEL, DEFAULT_REWARD, items


def _check(args) -> None:
    """Refuse the inputs of benchmark ``args.what`` that are missing or unknown."""
    if args.what in ('world-model', 'evaluate', 'planner'):
        checks.model('--model', args.model)
    checks.exists('--onnx', args.onnx, 'ONNX directory')
    checks.exists('--frames', args.frames, 'frames file')
    if args.baseline:
        checks.model('--baseline', args.baseline)
    if args.what == 'evaluate':
        checks.reward('--reward', args.reward)
        checks.policies('--policies', [p for p in args.policies.split(',') if p])
    if args.what == 'planner':
        checks.config_section('--config', 'plan.yaml', args.config)
    if args.what == 'rl' and not args.run:
        checks.config_section('--config', 'rl.yaml', args.config)
        checks.model('--model', args.model)
        checks.policies('--policy', [args.policy], experts=False)
        checks.families('--families', items(args.families))


def _bench(args) -> int:
    _check(args)
    if args.what == 'sim':
        from wm_ros.bench.sim import main
        rows = main(args.n)
    elif args.what == 'nodes':
        from wm_ros.bench.nodes import main
        rows = main(args.backend, min(args.n, 300), baseline=args.baseline)
    elif args.what == 'evaluate':
        from wm_ros.bench.evaluate import main
        rows = main(args.model, args.reward, tuple(args.policies.split(',')), args.episodes)
    elif args.what == 'planner':
        from wm_ros.bench.planner import main, save_frames
        if args.save_frames:
            print(f'wrote {save_frames(args.save_frames, args.episodes)}')
            return 0
        rows = main(args.model, args.config, args.episodes, min(args.n, 300), args.threads,
                    args.device, args.frames)
    elif args.what == 'rl':
        from wm_ros.bench.rl import main
        rows = main(args.run, args.config, args.policy, args.model, args.reward, args.updates,
                    items(args.families))
    else:
        from wm_ros.bench.world_model import main
        rows = main(args.model, args.onnx, device=args.device, baseline=args.baseline)
    if args.json:
        print(json.dumps(rows))
    return 0


def add_parser(sub) -> None:
    """Add ``bench`` to the subparsers ``sub``."""
    n = sub.add_parser('bench', help='benchmarks that print side-by-side ratios')
    n.add_argument('what', choices=['sim', 'world-model', 'nodes', 'evaluate', 'planner', 'rl'])
    n.add_argument('-n', type=whole(1), default=300)
    n.add_argument('--model', default=DEFAULT_MODEL)
    n.add_argument('--onnx', default=None, help='exported graphs (default <model>/onnx)')
    n.add_argument('--backend', default='onnxruntime', choices=['onnxruntime', 'torch'],
                   help='runtime of the nodes benchmark')
    n.add_argument('--device', default='cpu', help='torch device (world-model, planner)')
    n.add_argument('--frames', default=None, help='planner: first frames saved by '
                   '--save-frames, used where the tabletop cannot run (no EGL)')
    n.add_argument('--save-frames', default=None, help="planner: write the episodes' first "
                   'frames to this .npz and stop')
    n.add_argument('--baseline', default=None,
                   help='another model directory measured in the same run (world-model, '
                   'nodes): prints model/baseline ratios')
    n.add_argument('--reward', default=DEFAULT_REWARD, help='reward model (evaluate)')
    n.add_argument('--policies', default='bc_full,bc_50', help='policies (evaluate)')
    n.add_argument('--episodes', type=whole(1), default=8,
                   help='episodes per task (evaluate) / episodes (planner: -n actions each)')
    n.add_argument('--config', default='default',
                   help='config/plan.yaml section (planner), config/rl.yaml section (rl)')
    n.add_argument('--run', default=None, help='rl: read this `wm-ros rl --out` run instead '
                   'of training --updates updates of --config here')
    n.add_argument('--policy', default='bc_full', help='rl: the policy the short run trains')
    n.add_argument('--updates', type=whole(1), default=1, help='rl: updates of the short run')
    n.add_argument('--families', nargs='*', default=[],
                   help="rl: task families of the short run (default: the config's)")
    n.add_argument('--threads', type=whole(1), default=1, help='runtime threads (planner)')
    n.add_argument('--json', action='store_true')
    n.set_defaults(func=_bench)
