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


"""``wm-ros collect``: episodes on a reference robot (tabletop or PushT) into shards."""

from __future__ import annotations

import argparse

from wm_ros.cli import checks
from wm_ros.cli.checks import real, UsageError, whole
from wm_ros.cli.common import DEFAULT_MODEL


def _mix(text: str) -> dict[str, float]:
    out = {}
    for part in text.split(','):
        name, _, weight = part.partition('=')
        try:
            out[name.strip()] = real(0)(weight)
        except (ValueError, argparse.ArgumentTypeError):
            raise argparse.ArgumentTypeError(
                f'bad mix entry {part!r}; write e.g. '
                'expert=0.3,noisy=0.25,explore=0.2,perceived=0.25') from None
    if not sum(out.values()) > 0:
        raise argparse.ArgumentTypeError(f'the weights of {text!r} add up to 0')
    return out


def _check(args) -> None:
    """Refuse what ``collect`` would fail on, before the first episode."""
    from wm_ros.sim.robots import ROBOTS
    checks.one_of('--robot', [args.robot], ROBOTS, 'robot')
    pusht = args.robot == 'pusht'
    if args.policies and args.mix:
        raise UsageError('give --policies or --mix, not both')
    if args.mix:
        if pusht:
            from wm_ros.policy.pusht_expert import KINDS as BEHAVIOURS
        else:
            from wm_ros.policy.scripted import BEHAVIOURS
        checks.one_of('--mix', args.mix, BEHAVIOURS, 'PushT behaviour' if pusht else 'behaviour')
    tasks = [t for t in args.tasks.split(',') if t]
    if pusht:
        checks.one_of('--tasks', tasks, ('pusht',), 'PushT task family')
    else:
        checks.families('--tasks', tasks)
    if args.policies:
        names = [p for p in args.policies.split(',') if p]
        checks.policies('--policies', names)
        _same_robot(names, args.robot)
        checks.model('--model', args.model, 'onnxruntime')
    checks.exists('--config', args.config, 'config file')


def _same_robot(names: list[str], robot: str) -> None:
    """Refuse policies made for the other robot (the tabletop experts on PushT, ...)."""
    from wm_ros.policy import registry
    for name in names:
        if registry.robot_of(name) not in ('', robot):
            raise UsageError(f'--policies: {name!r} runs on the {registry.robot_of(name)} only, '
                             f'not on --robot {robot}')


def _collect(args) -> int:
    _check(args)
    from wm_ros.episodes.collect import collect
    from wm_ros.sim.robots import make_config
    from wm_ros.sim.tasks import FAMILIES
    cfg = make_config(args.robot, args.config, image_size=args.image_size,
                      control_hz=args.control_hz)
    families = tuple(args.tasks.split(',')) if args.tasks else FAMILIES
    mix, source = args.mix, None
    if args.policies:                  # closed loop: pixel policies drive the tabletop
        import torch

        from wm_ros.episodes.collect import PolicyMaker
        torch.set_num_threads(1)       # one collect process per core, as the evaluator's workers
        mix = {name: 1.0 for name in args.policies.split(',') if name}
        source = PolicyMaker(args.model) if args.robot == 'tabletop' else PolicyMaker(
            args.model, board_half=cfg.board_half, max_speed=cfg.max_speed,
            control_hz=cfg.control_hz)
    paths = collect(args.out, args.episodes, args.seed, mix, families, cfg,
                    args.shard_size, args.max_steps, policies=source, robot=args.robot)
    print(f'wrote {len(paths)} shard(s) to {args.out}')
    return 0


def add_parser(sub) -> None:
    """Add ``collect`` to the subparsers ``sub``."""
    c = sub.add_parser('collect', help='collect episodes into shards')
    c.add_argument('--out', default='data/episodes')
    c.add_argument('--robot', default='tabletop',
                   help='tabletop (MuJoCo, language tasks) or pusht (gym-pusht, the T onto '
                   'its goal)')
    c.add_argument('--episodes', type=whole(1), default=200)
    c.add_argument('--seed', type=whole(0), default=0)
    c.add_argument('--mix', type=_mix, default=None,
                   help='behaviour weights, e.g. expert=0.3,noisy=0.25,explore=0.2,perceived=0.25'
                   ' (PushT: expert, noisy, explore; default 0.4, 0.3, 0.3)')
    c.add_argument('--policies', default='',
                   help='closed loop: comma-separated pixel policies to roll, equally often '
                   '(zoo names or directories, or expert,noisy,slow,laggy perceiving through '
                   '--model; PushT: pusht_expert, pusht_noisy, pusht_explore); episodes are '
                   'labelled policy:<name>')
    c.add_argument('--model', default=DEFAULT_MODEL, help='world model the perceiving '
                   'experts read blocks with (--policies)')
    c.add_argument('--tasks', default='', help='comma-separated task families (default all; '
                   'PushT has one, pusht)')
    c.add_argument('--config', default=None, help='TabletopConfig YAML (config/tabletop.yaml), '
                   'or PushTConfig YAML with --robot pusht (config/pusht.yaml)')
    c.add_argument('--image-size', type=whole(16), default=None)
    c.add_argument('--control-hz', type=real(0, strict=True), default=None)
    c.add_argument('--shard-size', type=whole(1), default=50)
    c.add_argument('--max-steps', type=whole(1), default=None)
    c.set_defaults(func=_collect)
