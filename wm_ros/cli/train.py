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


"""``wm-ros train world-model | policy | reward | detector``."""

from __future__ import annotations

import json
from pathlib import Path

from wm_ros.cli import checks
from wm_ros.cli.checks import key_value, UsageError, whole
from wm_ros.cli.common import number


def _check(args) -> None:
    """Refuse missing or foreign inputs before anything is loaded or written."""
    if args.what == 'policy':
        from wm_ros.policy.zoo import ZOO
        if bool(args.recipe) == args.all:
            raise UsageError(f'policy: give --recipe NAME or --all; the zoo has {", ".join(ZOO)}')
        checks.one_of('--recipe', [args.recipe] if args.recipe else [], ZOO, 'recipe')
    elif not args.data or (args.what == 'world-model' and not args.out):
        raise UsageError({'world-model': 'world-model: --data and --out are required',
                          'reward': 'reward: --data is required (shard dirs, e.g. data/train1 '
                          'data/train2)',
                          'detector': 'detector: --data is required (shard dirs, e.g. '
                          'data/train1)'}[args.what])
    checks.data('--data', args.data or ['data/train1', 'data/train2'],
                bags=args.what == 'world-model')
    mcap = [d for d in args.data or [] if Path(d).is_file()]
    if args.what == 'world-model' and args.family == 'slots' and mcap:
        raise UsageError(f'--data: {mcap[0]} is an MCAP file; the slots family reads a bag '
                         f'from its directory: give {Path(mcap[0]).parent}')
    checks.data('--heldout', args.heldout or [], bags=False)
    checks.exists('--config-file', args.config_file, 'config file')
    checks.exists('--topics', args.topics, 'topic file')
    if args.init_from:
        checks.model('--init-from', args.init_from)


def _train(args) -> int:
    _check(args)
    if args.what == 'policy':
        return _train_policy(args)
    if args.what == 'reward':
        return _train_reward(args)
    if args.what == 'detector':
        return _train_detector(args)
    if args.family in ('latent', 'free_slots', 'jepa'):
        return _train_label_free(args)
    from wm_ros.model.config import load_config
    from wm_ros.model.train import train
    overrides = _overrides(args)
    cfg = load_config(args.config, args.config_file)
    if overrides:
        from wm_ros.config import from_dict
        cfg = from_dict(type(cfg), {**cfg.to_dict(), **overrides})
    stats = train(args.data, args.out, cfg, resume=args.resume, init_from=args.init_from)
    return _written(stats, 'model', args.out)


def _overrides(args) -> dict:
    """Return the ``--set key=value`` overrides, numbers as numbers."""
    return {k: number(v) for k, v in args.set}


def _config(load_config, args):
    """Return ``load_config``'s section ``--config`` of ``--config-file``, ``--set`` applied."""
    return load_config(args.config, args.config_file, **_overrides(args))


def _written(stats: dict, what: str, out) -> int:
    """Print the training statistics and where ``what`` was written; return exit status 0."""
    print(json.dumps(stats, indent=2))
    print(f'{what} written to {out}')
    return 0


def _train_label_free(args) -> int:
    from wm_ros.model.bag_source import TopicMap
    if args.family == 'latent':
        from wm_ros.model.latent import load_config
        from wm_ros.model.latent_train import train
    elif args.family == 'jepa':
        from wm_ros.model.jepa import load_config
        from wm_ros.model.jepa_train import train
    else:
        from wm_ros.model.free_slots import load_config
        from wm_ros.model.free_slots_train import train
    cfg = _config(load_config, args)
    topics = TopicMap.load(args.topics, image=args.image_topic, command=args.command_topic,
                           pose=args.pose_topic)
    if args.family == 'jepa' and args.heldout:       # open-loop error on other seeds
        return _written(train(args.data, args.out, cfg, topics, heldout=args.heldout),
                        'model', args.out)
    return _written(train(args.data, args.out, cfg, topics), 'model', args.out)


def _train_reward(args) -> int:
    from wm_ros.reward import DEFAULT_REWARD
    from wm_ros.reward.config import load_config
    from wm_ros.reward.train import train_reward
    cfg = _config(load_config, args)
    out = args.out or str(DEFAULT_REWARD)
    return _written(train_reward(args.data, out, cfg, heldout=args.heldout), 'reward model', out)


def _train_detector(args) -> int:
    from wm_ros.plan.detector import DEFAULT_DETECTOR, load_config
    from wm_ros.plan.detector_train import train
    cfg = _config(load_config, args)
    out = args.out or str(DEFAULT_DETECTOR)
    return _written(train(args.data, out, cfg, heldout=args.heldout), 'detector', out)


def _train_policy(args) -> int:
    from wm_ros.policy.learned import get_config
    from functools import partial

    from wm_ros.evaluate.zoo import measure, table
    from wm_ros.policy.zoo import models_dir, train_zoo, ZOO
    cfg = get_config(args.config, **_overrides(args))
    data = args.data or ['data/train1', 'data/train2']
    root = Path(args.out) if args.out else models_dir()
    outs = ({name: root / name for name in ZOO} if args.all else
            {args.recipe: Path(args.out) if args.out else root / args.recipe})
    measured_by = partial(measure, episodes=args.episodes, workers=args.workers) \
        if args.episodes else None
    results = train_zoo(data, outs, cfg, measured_by)
    measured = {k: v['real_success'] for k, v in results.items() if v['real_success']}
    if measured:
        print(table(measured))
    return 0


def add_parser(sub) -> None:
    """Add ``train`` to the subparsers ``sub``."""
    t = sub.add_parser('train', help='train a model')
    t.add_argument('what', choices=['world-model', 'policy', 'reward', 'detector'])
    t.add_argument('--heldout', nargs='*', default=None,
                   help='reward, detector, jepa: shard dirs of a seed never trained on, '
                   'measured into reward.json / model.json (e.g. data/heldout)')
    t.add_argument('--data', nargs='+', default=None, help='shard dirs and/or MCAP bag dirs '
                   '(policy: shard dirs, default data/train1 data/train2)')
    t.add_argument('--out', default=None, help='output directory (policy: default '
                   'wm_ros/models/policies/<recipe>; with --all the parent directory)')
    t.add_argument('--config', default='default', help='section of config/world_model.yaml '
                   '(free_slots/latent/jepa: config/<family>.yaml; policy: default or tiny)')
    t.add_argument('--family', default='slots',
                   choices=['slots', 'free_slots', 'latent', 'jepa'],
                   help='world-model family: slots (supervised with block states), '
                   'free_slots, latent or jepa (label-free: images, commands, pose; jepa '
                   'predicts in its embedding, for goal-image planning)')
    t.add_argument('--topics', default=None, help='label-free: YAML {image, command, pose} naming '
                   'the bag topics')
    t.add_argument('--image-topic', default=None, help='label-free: camera topic of the bags '
                   '(default /camera/image_raw)')
    t.add_argument('--command-topic', default=None, help='label-free: velocity command topic '
                   '(default /ee_twist_cmd)')
    t.add_argument('--pose-topic', default=None, help='label-free: end-effector pose topic '
                   '(default /ee_pose)')
    t.add_argument('--recipe', default=None, help='policy: a recipe of wm_ros.policy.zoo.ZOO')
    t.add_argument('--all', action='store_true', help='policy: train every zoo recipe')
    t.add_argument('--episodes', type=whole(0), default=20, help='policy: tabletop episodes per '
                   'family to measure real success (0: do not measure)')
    t.add_argument('--workers', type=whole(0), default=1, help='policy: tabletop processes')
    t.add_argument('--config-file', default=None)
    t.add_argument('--set', nargs='*', type=key_value, default=[], action='extend',
                   help='config overrides key=value (several, or --set repeated)')
    t.add_argument('--resume', action='store_true')
    t.add_argument('--init-from', default=None,
                   help='start from this model where weights match (e.g. retrain one stage)')
    t.set_defaults(func=_train)
