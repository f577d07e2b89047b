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


"""``wm-ros plan``, ``wm-ros eval planner | plan-graph``: plans in the world model, acted out."""

from __future__ import annotations

from pathlib import Path
import sys

from wm_ros.cli import checks
from wm_ros.cli.checks import real, UsageError, whole
from wm_ros.cli.common import DEFAULT_MODEL, items, write_report

SUITES = ('group_by_colour', 'make_line', 'two_step')     # wm_ros.evaluate.planning.SUITES


def _check_planner(args) -> None:
    """Refuse what ``plan`` and ``eval planner`` share, before the tabletop starts."""
    checks.model('--model', args.model, args.backend)
    checks.config_section('--config', 'plan.yaml', args.config)
    checks.reward('--judge', args.judge)
    checks.exists('--detector', args.detector, 'detector')


def _check_methods(methods: list[str]) -> None:
    """Refuse methods other than hierarchical, flat_mpc, policy:best and policy:NAME."""
    for method in methods:
        kind, _, name = method.partition(':')
        if kind == 'policy' and name and name != 'best':
            checks.policies('--methods', [name], experts=False)
        elif method not in ('hierarchical', 'flat_mpc', 'policy:best'):
            raise UsageError(f'--methods: unknown method {method!r}; choose hierarchical, '
                             'flat_mpc, policy:NAME or policy:best')


def _plan(args) -> int:
    checks.families('--task', [args.task], extra=('two_step',))
    _check_planner(args)
    from wm_ros.evaluate.planning import TabletopRunner
    from wm_ros.plan.video import PlanRecorder
    runner = TabletopRunner(args.model, args.backend, args.config, args.max_steps,
                            args.detector, args.judge)
    obs, _, _ = runner.reset(args.task, args.seed)
    recorder = PlanRecorder(obs['image'])
    record = runner.run(args.task, 0, 'flat_mpc' if args.flat else 'hierarchical', args.seed,
                        args.instruction, recorder)
    if record['message'].startswith('refused'):
        print(f"wm-ros plan: {record['message']}", file=sys.stderr)
        return 2
    doc = recorder.write(args.out, record)
    print(f"{record['instruction']}\nsub-goals: " + '; '.join(record['subgoals']))
    print(f"{'solved' if record['success'] else 'NOT solved'} in {record['steps']} steps "
          f"({record['plans']} plans, median {record['plan_ms_median']:.0f} ms); "
          f"{record['message']}")
    print(f"wrote {args.out}/plan.json, {doc.get('video', '')} and "
          f"{len(doc['subgoal_strips'])} sub-goal strips and videos")
    return 0 if record['success'] else 1


def _eval_planner(args) -> int:
    if args.robot != 'tabletop' or args.goal_image:
        return _eval_goal_image(args)
    args.max_steps = args.max_steps or 400
    from wm_ros.evaluate import planning
    suites = items(args.suites)
    methods = items(args.methods)
    checks.one_of('--suites', suites, SUITES, 'suite')
    _check_methods(methods)
    _check_planner(args)
    report = planning.evaluate(args.model, args.backend, suites or planning.SUITES,
                               methods or planning.METHODS, args.episodes, args.seed,
                               args.max_steps, args.config, args.workers, args.detector,
                               args.judge)
    wrote = write_report(planning, report, args.out)
    print(f"{report['wall_s']} s wall; {wrote}")
    return 0


def _eval_goal_image(args) -> int:
    """``eval planner --robot pusht --goal-image``: PushT episodes toward its goal image."""
    checks.one_of('--robot', [args.robot], ('tabletop', 'pusht'), 'robot')
    if args.robot != 'pusht' or not args.goal_image:
        raise UsageError('goal-image planning runs on PushT: give --robot pusht --goal-image '
                         '(the tabletop plans instructions)')
    if args.suites or args.methods or args.judge or args.detector:
        raise UsageError('--robot pusht --goal-image plans with the goal-image planner only; '
                         'drop --suites, --methods, --judge and --detector')
    if args.model == DEFAULT_MODEL:
        raise UsageError("--model: the default is the tabletop's world model; give a model "
                         'trained on PushT (wm-ros train world-model --family jepa --data '
                         '<PushT shards>)')
    checks.model('--model', args.model, args.backend)
    checks.config_section('--config', 'goal_plan.yaml', args.config)
    from wm_ros.model.config import ModelFileError
    from wm_ros.plan.goal import GoalError, mode_of
    from wm_ros.runtime import load_runtime
    try:
        mode_of(load_runtime(args.model, args.backend))
    except (GoalError, ModelFileError) as exc:
        raise UsageError(f'--model: {exc}') from None
    from wm_ros.evaluate import goal_planning
    steps = args.max_steps or (2 * args.goal_steps if args.goal_steps else 300)
    report = goal_planning.evaluate(args.model, args.backend, args.episodes, args.seed,
                                    steps, args.config, args.workers, views=args.views,
                                    goal_steps=args.goal_steps, end_on=args.end_on)
    wrote = write_report(goal_planning, report, args.out)
    lo, hi = report['coverage_any']['wilson_pct']
    pub = report['published_any']
    print(f"PushT: {report['coverage_any']['k']} of {report['n']} episodes solved "
          f"({report['coverage_any']['pct']:.0f} %, 95 % Wilson interval {lo:.0f}-{hi:.0f} %); "
          f"published criterion {pub['k']} of {report['n']} ({pub['pct']:.0f} %, "
          f"{pub['wilson_pct'][0]:.0f}-{pub['wilson_pct'][1]:.0f} %); "
          f"{report['s_per_action']:.3f} s per planned action, {report['s_per_plan']:.3f} s "
          f"per plan; {report['wall_s']} s wall; {wrote}")
    return 0


def _plan_graph(args) -> int:
    checks.families('--task', [args.task])
    seeds = checks.wholes('--seeds', args.seeds)
    from wm_ros.ros import plan_check
    report = plan_check.run(args.task, seeds, args.limit, args.out)
    print(f"{report['success']} of {report['n']} runs solved on the tabletop "
          f"(written {Path(args.out) / 'plan_graph.json'})")
    return 0 if report['success'] == report['n'] else 1


def _planner_args(p, out: str) -> None:
    """Add what ``wm-ros plan`` and ``wm-ros eval planner`` share."""
    p.add_argument('--model', default=DEFAULT_MODEL, help='model dir (torch) or ONNX dir')
    p.add_argument('--backend', default='onnxruntime', choices=['onnxruntime', 'torch'])
    p.add_argument('--config', default='default', help='section of config/plan.yaml')
    p.add_argument('--max-steps', type=whole(1), default=400)
    p.add_argument('--out', default=out)
    p.add_argument('--judge', default='', help='reward model directory (e.g. '
                   "wm_ros/models/reward): re-ranks the best plans of a task's last "
                   'sub-goal by the success it sees in their imagined last frames')
    p.add_argument('--detector', default='', help='read blocks with this detector '
                   "(wm-ros train detector) instead of the model's object read-out; needed "
                   'for a family without one (latent)')


def add_parser(sub) -> None:
    """Add ``plan`` to the subparsers ``sub``."""
    pl = sub.add_parser('plan', help='plan an instruction in the world model and execute it '
                        'on the tabletop; writes a strip and a video per sub-goal')
    pl.add_argument('instruction', nargs='?', default='',
                    help="what to do (default: the sampled scene's own instruction)")
    pl.add_argument('--task', default='group_by_colour',
                    help='family of the sampled tabletop scene (or two_step)')
    pl.add_argument('--seed', type=whole(0), default=0, help='tabletop scene seed')
    _planner_args(pl, 'out/plan')
    pl.add_argument('--flat', action='store_true', help='MPC on the whole task (no sub-goals)')
    pl.set_defaults(func=_plan)


def add_eval_parsers(vsub) -> None:
    """Add ``eval plan-graph`` and ``eval planner`` to the ``eval`` subparsers ``vsub``."""
    pg = vsub.add_parser('plan-graph', help='the ROS plan graph (sim_robot, world_model, '
                         'planner over DDS) once per tabletop seed: solved or stalled')
    pg.add_argument('--task', default='block_to_region', help='task family of the scenes')
    pg.add_argument('--seeds', nargs='+', default=['0,1,2,3,4,5'],
                    help='tabletop seeds, space or comma separated (a seed may repeat)')
    pg.add_argument('--limit', type=real(0, strict=True), default=120.0,
                    help='seconds per run at most')
    pg.add_argument('--out', default='out/plan_graph')
    pg.set_defaults(func=_plan_graph)

    vp = vsub.add_parser('planner', help='hierarchical planner vs flat MPC vs a flat policy '
                         'on long and two-step instructions (tabletop success)')
    _planner_args(vp, 'out/planner')
    vp.add_argument('--suites', nargs='+', default=[],
                    help='group_by_colour make_line two_step (default: all)')
    vp.add_argument('--methods', nargs='+', default=[],
                    help='hierarchical flat_mpc policy:NAME policy:best (default: '
                         'hierarchical flat_mpc policy:best)')
    vp.add_argument('--episodes', type=whole(1), default=25)
    vp.add_argument('--seed', type=whole(0), default=2000, help='derives every tabletop seed')
    vp.add_argument('--workers', type=whole(0), default=2, help='tabletop processes (0: here)')
    vp.add_argument('--robot', default='tabletop', help='tabletop (instructions) or pusht '
                    '(with --goal-image: PushT from its own starts to its goal image, '
                    "PushT's success; --config is then a section of config/goal_plan.yaml, "
                    "--max-steps 300 is PushT's limit)")
    vp.add_argument('--goal-image', action='store_true', help='plan toward a goal image (the '
                    "robot's goal state rendered) with the goal-image planner; needs a model "
                    'with an embedding (jepa) or an object read-out')
    vp.add_argument('--views', type=whole(1), default=8, help='--goal-image: goal images, the '
                    'pusher at this many places around the goal')
    vp.add_argument('--goal-steps', type=whole(0), default=0, help='--goal-image: 0 plans '
                    "from PushT's own starts to its goal; K > 0 toward the state PushT's expert "
                    "reached K steps after a start (the published planners' protocol, K=25; "
                    'step limit 2K)')
    vp.add_argument('--end-on', default='coverage', choices=['coverage', 'published',
                    'either', 'none'], help='--goal-image: the verdict that ends an episode: '
                    "PushT's coverage > 95 %% (default), the published planners' (DINO-WM's "
                    'eval_state), either, or none (run to the step limit); both are '
                    'reported at every step')
    vp.set_defaults(func=_eval_planner, max_steps=None)   # 400 on the tabletop, 300 on PushT
