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


"""``wm-ros export``, ``wm-ros eval fidelity | novel``: a world model on its own."""

from __future__ import annotations

import json
from pathlib import Path

from wm_ros.cli import checks
from wm_ros.cli.checks import UsageError, whole
from wm_ros.cli.common import DEFAULT_MODEL


def _export(args) -> int:
    checks.model('--model', args.model)
    from wm_ros.runtime.registry import model_format
    fmt = model_format(args.model)
    if fmt == 'wm_ros.latent_grid':
        from wm_ros.model.latent import export
    elif fmt == 'wm_ros.free_slots':
        from wm_ros.model.free_slots import export
    elif fmt == 'wm_ros.jepa':
        from wm_ros.model.jepa import export
    else:
        from wm_ros.model.export import export
    print(f'ONNX graphs written to {export(args.model, args.out or f"{args.model}/onnx")}')
    return 0


def _runtime_and_episodes(args):
    """Check --model, --backend and --data; load the runtime and the first --episodes (0: all)."""
    checks.model('--model', args.model, args.backend)
    checks.data('--data', args.data)
    topics = getattr(args, 'topics', None)
    checks.exists('--topics', topics, 'topic file')
    from wm_ros.runtime import load_runtime
    runtime = load_runtime(args.model, args.backend)
    if topics:
        episodes = _label_free(args.data, topics, runtime)
    else:
        from wm_ros.model.data import load_episodes
        episodes, _ = load_episodes(args.data)
    return runtime, episodes[:args.episodes or None]


def _label_free(data: list[str], topics: str, runtime) -> list:
    """Return the episodes of label-free bags read as training reads them (``--topics``)."""
    from wm_ros.evaluate.discovered import unlabelled
    from wm_ros.model.bag_source import read_bag, TopicMap
    topic_map = TopicMap.load(topics)
    bags = [Path(d) for d in data if (Path(d) / 'metadata.yaml').is_file()]
    if len(bags) != len(data):
        raise UsageError(f'--data: with --topics every path is a rosbag2 directory; '
                         f'{next(d for d in data if Path(d) not in bags)} is not')
    return [unlabelled(r) for bag in bags for r in read_bag(
        bag, topic_map, runtime.image_size, runtime.control_hz)]


def _eval(args) -> int:
    runtime, episodes = _runtime_and_episodes(args)
    from wm_ros.evaluate import fidelity, fidelity_checks
    report = fidelity.evaluate(runtime, episodes, stride=args.stride)
    paths = fidelity.write(report, episodes, args.out)
    print(fidelity.table(report))
    print('\n'.join(fidelity_checks.notes(report)))
    print(json.dumps(fidelity_checks.verdicts(report), indent=2))
    print(f'wrote {paths[0]} and {paths[1]}')
    return 0


def _novel(args) -> int:
    runtime, episodes = _runtime_and_episodes(args)
    from wm_ros.evaluate import novel
    report = novel.evaluate(runtime, episodes, args.horizon, args.stride)
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2))
    return 0


def add_parser(sub) -> None:
    """Add ``export`` to the subparsers ``sub``."""
    x = sub.add_parser('export', help='export a world model to ONNX')
    x.add_argument('--model', default=DEFAULT_MODEL)
    x.add_argument('--out', default=None)
    x.set_defaults(func=_export)


def add_eval_parsers(vsub) -> None:
    """Add ``eval fidelity`` and ``eval novel`` to the ``eval`` subparsers ``vsub``."""
    v = vsub.add_parser('fidelity', help='open-loop prediction of held-out episodes')
    v.add_argument('--model', default=DEFAULT_MODEL, help='model dir (torch) or ONNX dir')
    v.add_argument('--backend', default='torch', choices=['torch', 'onnxruntime'])
    v.add_argument('--data', nargs='+', required=True)
    v.add_argument('--episodes', type=whole(0), default=0, help='use only the first N (0: all)')
    v.add_argument('--stride', type=whole(1), default=8)
    v.add_argument('--out', default='out/fidelity')
    v.add_argument('--topics', default=None, help='label-free bags: YAML {image, command, pose} '
                   'naming the topics; each bag is read as training reads it (split into '
                   "episodes at gaps, resampled to the model's rate)")
    v.set_defaults(func=_eval)

    nv = vsub.add_parser('novel', help='blocks of an unseen colour (and per shape) tracked '
                         'at a horizon, vs seen ones')
    nv.add_argument('--model', default=DEFAULT_MODEL)
    nv.add_argument('--backend', default='torch', choices=['torch', 'onnxruntime'])
    nv.add_argument('--data', nargs='+', required=True)
    nv.add_argument('--episodes', type=whole(0), default=0)
    nv.add_argument('--horizon', type=whole(1), default=16)
    nv.add_argument('--stride', type=whole(1), default=8)
    nv.add_argument('--out', default='')
    nv.set_defaults(func=_novel)
