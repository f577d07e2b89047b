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

  wm-ros demo                      the shadow graph over DDS: video, trajectories, errors, bag
  wm-ros up sim                    start a graph like ``ros2 launch`` (Ctrl-C stops it)
  wm-ros faults [--trials 20]      inject faults into the real graph: expected vs observed
  wm-ros soak --minutes 10         the shadow graph under reset load: RSS, drops, latency
  wm-ros collect --episodes 200    write episode shards (expert / noisy / explore / perceived)
  wm-ros bag export|import         episodes <-> rosbag2 MCAP
  wm-ros record --out BAG          record topics to an MCAP bag that survives SIGKILL
  wm-ros bag recover BAG           repair a bag whose recorder was killed (ros2 bag reindex)
  wm-ros train world-model --data data/train1 --out models/world_model
  wm-ros train world-model --family free_slots --data BAG --image-topic /cam ...  label-free
  wm-ros train policy --recipe bc_50 --data data/train1   one policy-zoo recipe (--all: all)
  wm-ros train reward --data data/train1 data/train2 --heldout data/fresh   success classifier
  wm-ros export --model models/world_model --out models/world_model/onnx
  wm-ros eval fidelity --model models/world_model --data data/heldout
  wm-ros eval closed-loop --model models/world_model   pixel policies: imagined vs real success
  wm-ros eval plan-graph --seeds 0,1,2       the ROS plan graph once per scene: solved or stalled
  wm-ros plan "group the blocks by colour" --seed 3   plan in the world model, act on the tabletop
  wm-ros eval planner --episodes 25    hierarchical planner vs flat MPC vs the best flat policy
  wm-ros evaluate --episodes 25 --edits recolour   policies in imagination vs the tabletop
  wm-ros eval policies [--episodes 20]   real success of the policy zoo on the tabletop
  wm-ros rl --policy bc_full --out DIR   fine-tune a policy inside the world model
  wm-ros eval rl --run DIR    that run on the tabletop and in imagination, before/after
  wm-ros eval floor --real-from out/evaluate   what a perfect world model would score there
  wm-ros bench sim | world-model | nodes | evaluate | planner | rl   side-by-side ratios
  wm-ros report --evaluation out/evaluate [--rl DIR]  one HTML page (figures embedded)

Each command group is one module of this package (``ros``, ``collect``, ``bag``, ``evaluate``,
``bench``, ``train``, ``plan``, ``model``) with an ``add_parser(subparsers)`` that adds its
sub-parser and handler. Heavy modules are imported inside each handler so ``wm-ros --help``
stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from wm_ros.cli import bag, bench, collect, evaluate, model, plan, rl, ros, train
from wm_ros.cli.checks import UsageError
from wm_ros.cli.common import DEFAULT_MODEL, DEFAULT_REWARD, Parser
from wm_ros.errors import exit_code

__all__ = ['DEFAULT_MODEL', 'DEFAULT_REWARD', 'main', 'parser']


def parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``wm-ros``."""
    p = Parser(prog='wm-ros', description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='command', required=True)
    for group in (ros, collect, bag, evaluate, bench, train, plan, model, rl):
        group.add_parser(sub)
    v = sub.add_parser('eval', help='evaluate a world model')
    vsub = v.add_subparsers(dest='what', required=True)
    for group in (model, evaluate, plan):
        group.add_eval_parsers(vsub)
    return p


def refusal_code(exc: BaseException) -> int | None:
    """
    Return the exit code of an error worded for the user, or None for a bug.

    :class:`UsageError` (2), else :func:`wm_ros.errors.exit_code`: the package's own
    ``ValueError`` classes and the ``ValueError``/path errors a wm_ros ``raise`` statement
    words (2), a ``RuntimeError`` it raises (1). A refusal raised in a worker process
    reaches here as the same error (:mod:`wm_ros.episodes.pool`).
    """
    return 2 if isinstance(exc, UsageError) else exit_code(exc)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``wm-ros``: the exit code (a refusal is one line on stderr)."""
    os.environ.setdefault('MUJOCO_GL', 'egl')
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:              # --help (0), or a usage error said in one line (2)
        return exc.code if isinstance(exc.code, int) else 0
    try:
        return args.func(args)
    except Exception as exc:
        code = refusal_code(exc)
        if code is None:
            raise
        print(f'{args.cli_prog}: error: {" ".join(str(exc).split())}', file=sys.stderr)
        return code
