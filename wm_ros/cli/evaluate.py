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


"""``wm-ros evaluate | report``, ``wm-ros eval closed-loop | floor | policies | rl``."""

from __future__ import annotations

from wm_ros.cli import checks
from wm_ros.cli.checks import real, whole
from wm_ros.cli.common import DEFAULT_MODEL, DEFAULT_REWARD, items, write_report


def _check_evaluate(args, policies: list[str], tasks: list[str], edits) -> None:
    """Refuse what ``evaluate`` would fail on, before any model loads or episode runs."""
    checks.policies('--policies', policies)
    checks.families('--tasks', tasks)
    checks.edits('--edits', edits)
    checks.model('--model', args.model, args.backend)
    checks.reward('--reward', args.reward)
    if args.real_from:
        checks.evaluation('--real-from', args.real_from, suite=True)


def _evaluate(args) -> int:
    split, tasks, edits = items(args.policies), items(args.tasks), tuple(items(args.edits))
    _check_evaluate(args, split, tasks, edits)
    from wm_ros.evaluate import evaluator, summary
    config = evaluator.EvalConfig(
        **({'policies': tuple(split)} if split else {}),
        **({'tasks': tuple(tasks)} if tasks else {}), episodes=args.episodes, seed=args.seed,
        max_steps=args.max_steps, max_steps_long=args.max_steps_long, workers=args.workers,
        judge=args.judge, hold=args.hold, view=args.view)
    result = evaluator.evaluate(config, args.model, args.reward, args.backend, edits,
                                real_from=args.real_from)
    path = summary.write(result, args.out, config.strip_frames)
    print(summary.table(result))
    if result.get('ood'):
        from wm_ros.evaluate.ood import table as ood_table
        print(ood_table(result))
    t = result['timing']
    if t.get('real_from'):
        print(f"real outcomes from {t['real_from']}; imagination {t['imagine_s']:.1f} s")
    else:
        print(f"tabletop {t['tabletop_s']:.1f} s, imagination {t['imagine_s']:.1f} s "
              f"({t['speedup_vs_tabletop']:.1f}x the tabletop)")
    print(f'wrote {path}; `wm-ros report --evaluation {args.out}` renders it')
    return 0


def _report(args) -> int:
    evaluation = args.evaluation or (None if args.rl else 'out/evaluate')
    if evaluation:
        checks.evaluation('--evaluation', evaluation)
    if args.floor:
        checks.floor('--floor', args.floor)
    from wm_ros.evaluate import floor
    from wm_ros.evaluate.evaluation_file import evaluation_path
    from wm_ros.evaluate.report import load_evaluation, write_report
    sections, extra = _rl_section(args.rl)
    where = evaluation_path(evaluation).parent if evaluation else None   # strips: from it
    paths = write_report(load_evaluation(evaluation) if evaluation else None,
                         args.out or where or args.rl, where,
                         floor.load(args.floor) if args.floor else None, sections, extra)
    print(f'wrote {paths[0]} and {paths[1]}')
    return 0


def _rl_section(path) -> tuple[tuple[str, ...], dict]:
    """Return the report's RL section and report.json entry of ``--rl`` (none without)."""
    if not path:
        return (), {}
    from wm_ros.evaluate import rl, rl_report
    try:
        result = rl.load(path)
    except rl.RunError as exc:
        raise checks.UsageError(f'--rl: {exc}') from None
    return (rl_report.section(result),), {'rl': result}


def _closed_loop(args) -> int:
    families, policies = items(args.families), items(args.policies)
    checks.families('--families', families)
    checks.policies('--policies', policies, learned=False)
    checks.model('--model', args.model, args.backend)
    checks.exists('--detector', args.detector, 'detector')
    from wm_ros.evaluate import closed_loop
    report = closed_loop.evaluate(args.model, args.backend, families or closed_loop.FAMILIES,
                                  policies or closed_loop.POLICIES, args.episodes, args.seed,
                                  args.max_steps, args.max_steps_long, args.workers,
                                  settle=args.settle, detector=args.detector,
                                  physics_replay=not args.no_physics_replay)
    wrote = write_report(closed_loop, report, args.out)
    t = report['timing']
    print(f"{t['wall_s']} s wall: {t['real_steps']} tabletop steps ({t['real_episode_s']} s in "
          f"{args.workers} worker(s)), {t['imagined_steps']} imagined steps "
          f"({t['imagine_s']} s), replay {t['replay_s']} s")
    print(wrote)
    return 0


def _eval_floor(args) -> int:
    suite = checks.evaluation('--real-from', args.real_from, suite=True)
    sizes = tuple(checks.wholes('--sizes', args.sizes, 1))
    checks.model('--model', args.model)
    checks.policies('--real-from', suite['config']['policies'])
    checks.reward('--real-from', suite['config']['reward'])
    checks.readout('--model', args.model, suite['config']['policies'])
    from wm_ros.evaluate import floor
    result = floor.noise_floor(args.real_from, args.model, args.jitter_mm / 1000.0, sizes,
                               args.workers)
    wrote = write_report(floor, result, args.out)
    print(f"tabletop twin {result['tabletop_s']:.1f} s; {wrote}")
    return 0


def _eval_policies(args) -> int:
    checks.policies('--policies', items(args.policies), experts=False)
    from wm_ros.evaluate.zoo import measure, table
    from wm_ros.policy.zoo import load_policy, ZOO
    names = items(args.policies) or list(ZOO)
    rows = {}
    for name in names + (['expert'] if args.expert else []):
        policy = load_policy(name) if name != 'expert' else None
        rows[name] = measure(policy.path if policy else 'state_expert', episodes=args.episodes,
                             seed=args.seed, workers=args.workers)
        if policy is not None and args.store:
            policy.save(policy.path, real_success=rows[name])
        print(f'{name}: {rows[name]["mean_pct"]} % ({rows[name]["seconds"]} s)', flush=True)
    print(table(rows))
    return 0


def _eval_rl(args) -> int:
    checks.families('--families', items(args.families))
    from wm_ros.evaluate import rl
    result = rl.evaluate(args.run, args.episodes, args.seed, args.workers, args.max_steps,
                         args.max_steps_long, items(args.families), args.backend)
    paths = rl.write(result, args.out or f'{args.run}/eval')
    print(rl.markdown(result))
    print(f'wrote {paths[0]} and {paths[1]}; `wm-ros report --rl {paths[0].parent}` draws it')
    return 0


def add_parser(sub) -> None:
    """Add ``evaluate`` and ``report`` to the subparsers ``sub``."""
    ev = sub.add_parser('evaluate', help='policies in imagination (reward model) vs the '
                        'tabletop (oracle): success, Pearson, MMRV, OOD edits')
    ev.add_argument('--policies', nargs='*', default=[],
                    help='zoo names or policy dirs, or the perception experts expert, noisy, '
                    'slow, laggy; comma separated (default: the acceptance suite, '
                    'bc_full,bc_expert,colour_only,bc_noisy,bc_200,bc_50,expert,slow)')
    ev.add_argument('--tasks', nargs='*', default=[], help='task families, comma separated')
    ev.add_argument('--edits', nargs='*', default=[], help='OOD edits, comma separated')
    ev.add_argument('--episodes', type=whole(1), default=25, help='episodes per policy x task')
    ev.add_argument('--seed', type=whole(0), default=5000)
    _add_step_limits(ev)
    ev.add_argument('--workers', type=whole(0), default=0,
                    help='tabletop processes (0: a core each)')
    ev.add_argument('--model', default=DEFAULT_MODEL)
    ev.add_argument('--reward', default=DEFAULT_REWARD)
    ev.add_argument('--backend', default='onnxruntime', choices=['onnxruntime', 'torch'])
    ev.add_argument('--judge', default='reward', choices=['reward', 'state'],
                    help='what ends an imagined episode: the reward model on the frames, or '
                    'the imagined-state judge (both verdicts are reported)')
    ev.add_argument('--hold', type=whole(1), default=1,
                    help='imagined frames in a row the reward model must score a success '
                    'before an imagined episode counts as one (1: the first such frame)')
    ev.add_argument('--view', default='camera', choices=['camera', 'redrawn'],
                    help="what the tabletop policies see: the camera, or the model's redraw "
                    'of it (encode, decode): splits a gap into drawing and dynamics')
    ev.add_argument('--real-from', default=None,
                    help='take the tabletop outcomes from this earlier evaluation (same '
                    'starts, limits, reward model): compare world models on one suite')
    ev.add_argument('--out', default='out/evaluate')
    ev.set_defaults(func=_evaluate)

    rp = sub.add_parser('report', help='one self-contained HTML page (and a JSON) from an '
                        'evaluation: scatter, bars, OOD heatmap, judges, strips, targets')
    rp.add_argument('--evaluation', default=None,
                    help='directory holding evaluation.json (from wm-ros evaluate; default '
                    'out/evaluate, none with --rl alone)')
    rp.add_argument('--rl', default=None, help='a `wm-ros eval rl --out` dir: its learning '
                    'curve and before/after table are added')
    rp.add_argument('--out', default=None, help='where to write report.html / report.json '
                    '(default: the evaluation directory)')
    rp.add_argument('--floor', default=None,
                    help='a `wm-ros eval floor --out` dir measured on this suite: the noise '
                    'floor is shown after the targets')
    rp.set_defaults(func=_report)


def _add_step_limits(parser) -> None:
    """Add ``--max-steps`` / ``--max-steps-long``: the tabletop's per-family step limits."""
    parser.add_argument('--max-steps', type=whole(1), default=120,
                        help='step limit of block_to_region, block_to_block, separate')
    parser.add_argument('--max-steps-long', type=whole(1), default=400,
                        help='step limit of group_by_colour, make_line (as the tabletop)')


def add_eval_parsers(vsub) -> None:
    """Add ``eval closed-loop``, ``floor``, ``policies`` and ``rl`` to the ``eval`` subparsers."""
    _add_closed_loop(vsub)
    _add_floor_and_policies(vsub)
    _add_rl(vsub)


def _add_rl(vsub) -> None:
    er = vsub.add_parser('rl', help='a `wm-ros rl` run on the tabletop and in imagination: '
                         'success before/after, exploit gap, verdict per family')
    er.add_argument('--run', required=True, help='the --out directory of `wm-ros rl`')
    er.add_argument('--episodes', type=whole(1), default=50,
                    help='tabletop episodes per family and side (before, after)')
    er.add_argument('--seed', type=whole(0), default=31000,
                    help="derives every start; the run's own seeds and the zoo's are refused")
    er.add_argument('--workers', type=whole(1), default=1,
                    help='tabletop processes (1: in this process)')
    er.add_argument('--families', nargs='*', default=[],
                    help="task families, space or comma separated (default: the run's)")
    _add_step_limits(er)
    er.add_argument('--backend', default='onnxruntime', choices=['onnxruntime', 'torch'])
    er.add_argument('--out', default=None,
                    help='where rl_eval.json and rl_eval.md go (default: RUN/eval)')
    er.set_defaults(func=_eval_rl)


def _add_closed_loop(vsub) -> None:
    cl = vsub.add_parser('closed-loop', help='pixel policies on the tabletop and in imagination '
                         'from the same first frames: success, gap, replay, causes')
    cl.add_argument('--model', default=DEFAULT_MODEL, help='model dir (torch) or ONNX dir')
    cl.add_argument('--backend', default='onnxruntime', choices=['onnxruntime', 'torch'])
    cl.add_argument('--families', nargs='+', default=[],
                    help='task families, space or comma separated (default: all five)')
    cl.add_argument('--policies', nargs='+', default=[],
                    help='perceiving policy kinds: wm_ros.policy.degraded and expert_sideways '
                         '(default: expert noisy slow laggy)')
    cl.add_argument('--episodes', type=whole(1), default=20, help='episodes per family and policy')
    cl.add_argument('--seed', type=whole(0), default=1000,
                    help='derives every tabletop seed (the shipped model never trained on it)')
    _add_step_limits(cl)
    cl.add_argument('--workers', type=whole(0), default=2,
                    help='tabletop processes (0: in this process); results do not depend on it')
    cl.add_argument('--settle', type=whole(0), default=10,
                    help='steps a successful tabletop episode goes on (policy acting) before '
                         'the open-loop replay is compared with it (0: judged at the success '
                         'step, where the block sits exactly on the threshold)')
    cl.add_argument('--detector', default='',
                    help='read blocks with this (a world model with an object read-out or a '
                         "wm-ros train detector dir); default: the model's own read-out, or "
                         "for a family without one the shipped model's read-out on frames")
    cl.add_argument('--no-physics-replay', action='store_true',
                    help='skip replaying each episode on the tabletop from the read and the '
                    'jittered start (the ceiling of open-loop replay)')
    cl.add_argument('--out', default='out/closed_loop')
    cl.set_defaults(func=_closed_loop)


def _add_floor_and_policies(vsub) -> None:

    fl = vsub.add_parser('floor', help='the noise floor of an evaluation suite: its tabletop '
                         'rerun from starts moved by a camera-sized error, scored as imagination')
    fl.add_argument('--real-from', required=True,
                    help='a `wm-ros evaluate --out` dir: its suite, real outcomes and figures')
    fl.add_argument('--jitter-mm', type=real(0), default=1.0,
                    help='sigma of the block moves of every start, mm (a camera read)')
    fl.add_argument('--sizes', nargs='+', default=['25'],
                    help='episodes per cell to score, comma separated (each <= the suite)')
    fl.add_argument('--model', default=DEFAULT_MODEL,
                    help='for policies that perceive through a world model (and --view redrawn)')
    fl.add_argument('--workers', type=whole(0), default=0,
                    help='tabletop processes (0: a core each)')
    fl.add_argument('--out', default='out/floor')
    fl.set_defaults(func=_eval_floor)

    pe = vsub.add_parser('policies', help='real success of learned policies on the tabletop '
                         '(fixed seeds no training data used)')
    pe.add_argument('--policies', nargs='+', default=[],
                    help='zoo names or policy directories (default: the whole zoo)')
    pe.add_argument('--episodes', type=whole(1), default=20, help='episodes per family')
    pe.add_argument('--seed', type=whole(0), default=7000)
    pe.add_argument('--workers', type=whole(0), default=1, help='tabletop processes')
    pe.add_argument('--expert', action='store_true',
                    help='add the scripted expert (true state) as the ceiling row')
    pe.add_argument('--store', action='store_true',
                    help="write the measured success into each policy's policy.json")
    pe.set_defaults(func=_eval_policies)
