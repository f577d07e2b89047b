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
  wm-ros eval floor --real-from out/evaluate   what a perfect world model would score there
  wm-ros bench sim | world-model | nodes | evaluate | planner   side-by-side ratios
  wm-ros report --evaluation out/evaluate  one HTML page (figures embedded) + report.json

Heavy modules are imported inside each subcommand so ``wm-ros --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys

from wm_ros import artefacts

DEFAULT_MODEL = str(artefacts.WORLD_MODEL)
DEFAULT_REWARD = str(artefacts.REWARD)


def _mix(text: str) -> dict[str, float]:
    out = {}
    for part in text.split(','):
        name, _, weight = part.partition('=')
        try:
            out[name.strip()] = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'bad mix entry {part!r}; write e.g. '
                'expert=0.3,noisy=0.25,explore=0.2,perceived=0.25') from None
    return out


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


def _collect(args) -> int:
    from wm_ros import config
    from wm_ros.sim.dataset import collect
    from wm_ros.sim.tabletop import TabletopConfig
    from wm_ros.sim.tasks import FAMILIES
    cfg = config.load(TabletopConfig, args.config, image_size=args.image_size,
                      control_hz=args.control_hz)
    families = tuple(args.tasks.split(',')) if args.tasks else FAMILIES
    mix, source = args.mix, None
    if args.policies:                  # closed loop: pixel policies drive the tabletop
        import torch

        from wm_ros.evaluate.evaluator import PolicySource
        if mix:
            raise SystemExit('give --policies or --mix, not both')
        torch.set_num_threads(1)       # one collect process per core, as the evaluator's workers
        mix = {name: 1.0 for name in args.policies.split(',') if name}
        source = PolicySource(args.model)
    paths = collect(args.out, args.episodes, args.seed, mix, families, cfg,
                    args.shard_size, args.max_steps, policies=source)
    print(f'wrote {len(paths)} shard(s) to {args.out}')
    return 0


def _recover(path: str) -> int:
    import time

    from wm_ros.sim.bag import recover
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
        return _recover(args.bag)
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
    else:
        from wm_ros.bench.world_model import main
        rows = main(args.model, args.onnx, device=args.device, baseline=args.baseline)
    if args.json:
        print(json.dumps(rows))
    return 0


def _train(args) -> int:
    if args.what == 'policy':
        return _train_policy(args)
    if args.what == 'reward':
        return _train_reward(args)
    if args.what == 'detector':
        return _train_detector(args)
    if not args.data or not args.out:
        print('wm-ros train world-model: --data and --out are required', file=sys.stderr)
        return 2
    if args.family in ('latent', 'free_slots'):
        return _train_label_free(args)
    from wm_ros.model.config import load_config
    from wm_ros.model.train import train
    overrides = dict(kv.split('=', 1) for kv in args.set)
    cfg = load_config(args.config, args.config_file)
    if overrides:
        from wm_ros.config import from_dict
        cfg = from_dict(type(cfg), {**cfg.to_dict(), **{k: _number(v) for k, v in
                                                        overrides.items()}})
    stats = train(args.data, args.out, cfg, resume=args.resume, init_from=args.init_from)
    print(json.dumps(stats, indent=2))
    print(f'model written to {args.out}')
    return 0


def _train_label_free(args) -> int:
    from wm_ros.model.bag_source import TopicMap
    if args.family == 'latent':
        from wm_ros.model.latent import load_config
        from wm_ros.model.latent_train import train
    else:
        from wm_ros.model.free_slots import load_config
        from wm_ros.model.free_slots_train import train
    overrides = {k: _number(v) for k, v in (kv.split('=', 1) for kv in args.set)}
    cfg = load_config(args.config, args.config_file, **overrides)
    topics = TopicMap.load(args.topics, image=args.image_topic, command=args.command_topic,
                           pose=args.pose_topic)
    stats = train(args.data, args.out, cfg, topics)
    print(json.dumps(stats, indent=2))
    print(f'model written to {args.out}')
    return 0


def _train_reward(args) -> int:
    from wm_ros.reward import DEFAULT_REWARD
    from wm_ros.reward.config import load_config
    from wm_ros.reward.train import train_reward
    if not args.data:
        print('wm-ros train reward: --data is required (shard dirs, e.g. data/train1 '
              'data/train2)', file=sys.stderr)
        return 2
    overrides = {k: _number(v) for k, v in (kv.split('=', 1) for kv in args.set)}
    cfg = load_config(args.config, args.config_file, **overrides)
    out = args.out or str(DEFAULT_REWARD)
    stats = train_reward(args.data, out, cfg, heldout=args.heldout)
    print(json.dumps(stats, indent=2))
    print(f'reward model written to {out}')
    return 0


def _train_detector(args) -> int:
    from wm_ros.plan.detector import DEFAULT_DETECTOR, load_config, train
    if not args.data:
        print('wm-ros train detector: --data is required (shard dirs, e.g. data/train1)',
              file=sys.stderr)
        return 2
    overrides = {k: _number(v) for k, v in (kv.split('=', 1) for kv in args.set)}
    cfg = load_config(args.config, args.config_file, **overrides)
    out = args.out or str(DEFAULT_DETECTOR)
    print(json.dumps(train(args.data, out, cfg, heldout=args.heldout), indent=2))
    print(f'detector written to {out}')
    return 0


def _train_policy(args) -> int:
    from wm_ros.policy.learned import get_config
    from wm_ros.policy.zoo import models_dir, train_zoo, ZOO
    from wm_ros.policy.zoo_eval import table
    if bool(args.recipe) == args.all:
        print('wm-ros train policy: give --recipe NAME or --all; the zoo has '
              f'{", ".join(ZOO)}', file=sys.stderr)
        return 2
    overrides = {k: _number(v) for k, v in (kv.split('=', 1) for kv in args.set)}
    cfg = get_config(args.config, **overrides)
    data = args.data or ['data/train1', 'data/train2']
    root = Path(args.out) if args.out else models_dir()
    outs = ({name: root / name for name in ZOO} if args.all else
            {args.recipe: Path(args.out) if args.out else root / args.recipe})
    results = train_zoo(data, outs, cfg, args.episodes, args.workers)
    measured = {k: v['real_success'] for k, v in results.items() if v['real_success']}
    if measured:
        print(table(measured))
    return 0


def _number(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {'true': True, 'false': False}.get(text.lower(), text)


def _export(args) -> int:
    from wm_ros.runtime.registry import model_format
    fmt = model_format(args.model)
    if fmt == 'wm_ros.latent_grid':
        from wm_ros.model.latent import export
    elif fmt == 'wm_ros.free_slots':
        from wm_ros.model.free_slots import export
    else:
        from wm_ros.model.export import export
    print(f'ONNX graphs written to {export(args.model, args.out or f"{args.model}/onnx")}')
    return 0


def _eval(args) -> int:
    from wm_ros.evaluate import fidelity
    from wm_ros.model.data import load_episodes
    from wm_ros.runtime import load_runtime
    runtime = load_runtime(args.model, args.backend)
    episodes, _ = load_episodes(args.data)
    if args.episodes:
        episodes = episodes[:args.episodes]
    report = fidelity.evaluate(runtime, episodes, stride=args.stride)
    paths = fidelity.write(report, episodes, args.out)
    print(fidelity.table(report))
    print(json.dumps(report['acceptance'], indent=2))
    print(f'wrote {paths[0]} and {paths[1]}')
    return 0


def _novel(args) -> int:
    from wm_ros.evaluate import novel
    from wm_ros.model.data import load_episodes
    from wm_ros.runtime import load_runtime
    runtime = load_runtime(args.model, args.backend)
    episodes, _ = load_episodes(args.data)
    report = novel.evaluate(runtime, episodes[:args.episodes or None], args.horizon,
                            args.stride)
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2))
    return 0


def _plan_graph(args) -> int:
    from wm_ros.ros import plan_check
    seeds = [int(x) for item in args.seeds for x in item.split(',') if x]
    report = plan_check.run(args.task, seeds, args.limit, args.out)
    print(f"{report['success']} of {report['n']} runs solved on the tabletop "
          f"(written {Path(args.out) / 'plan_graph.json'})")
    return 0 if report['success'] == report['n'] else 1


def _closed_loop(args) -> int:
    from wm_ros.evaluate import closed_loop
    families = [f for item in args.families for f in item.split(',') if f]
    policies = [p for item in args.policies for p in item.split(',') if p]
    report = closed_loop.evaluate(args.model, args.backend, families or closed_loop.FAMILIES,
                                  policies or closed_loop.POLICIES, args.episodes, args.seed,
                                  args.max_steps, args.max_steps_long, args.workers,
                                  settle=args.settle, detector=args.detector,
                                  physics_replay=not args.no_physics_replay)
    paths = closed_loop.write(report, args.out)
    print(closed_loop.table(report))
    t = report['timing']
    print(f"{t['wall_s']} s wall: {t['real_steps']} tabletop steps ({t['real_episode_s']} s in "
          f"{args.workers} worker(s)), {t['imagined_steps']} imagined steps "
          f"({t['imagine_s']} s), replay {t['replay_s']} s")
    print(f'wrote {paths[0]} and {paths[1]}')
    return 0


def _plan(args) -> int:
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
    from wm_ros.evaluate import planning
    suites = [x for item in args.suites for x in item.split(',') if x]
    methods = [x for item in args.methods for x in item.split(',') if x]
    report = planning.evaluate(args.model, args.backend, suites or planning.SUITES,
                               methods or planning.METHODS, args.episodes, args.seed,
                               args.max_steps, args.config, args.workers, args.detector,
                               args.judge)
    paths = planning.write(report, args.out)
    print(planning.table(report))
    print(f"{report['wall_s']} s wall; wrote {paths[0]} and {paths[1]}")
    return 0


def _evaluate(args) -> int:
    from wm_ros.evaluate import evaluator, summary
    split = [x for item in args.policies for x in item.split(',') if x]
    tasks = [x for item in args.tasks for x in item.split(',') if x]
    edits = tuple(x for item in args.edits for x in item.split(',') if x)
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


def _eval_floor(args) -> int:
    from wm_ros.evaluate import floor
    sizes = tuple(int(x) for item in args.sizes for x in item.split(',') if x)
    result = floor.noise_floor(args.real_from, args.model, args.jitter_mm / 1000.0, sizes,
                               args.workers)
    path = floor.write(result, args.out)
    print(floor.table(result))
    print(f"tabletop twin {result['tabletop_s']:.1f} s; wrote {path}")
    return 0


def _report(args) -> int:
    from wm_ros.evaluate import floor
    from wm_ros.evaluate.report import load_evaluation, write_report
    paths = write_report(load_evaluation(args.evaluation), args.out or args.evaluation,
                         args.evaluation, floor.load(args.floor) if args.floor else None)
    print(f'wrote {paths[0]} and {paths[1]}')
    return 0


def _eval_policies(args) -> int:
    from wm_ros.policy.zoo import load_policy, ZOO
    from wm_ros.policy.zoo_eval import measure, table
    names = [p for item in args.policies for p in item.split(',') if p] or list(ZOO)
    rows = {}
    for name in names + (['expert'] if args.expert else []):
        policy = load_policy(name) if name != 'expert' else None
        rows[name] = measure(policy.path if policy else 'expert', episodes=args.episodes,
                             seed=args.seed, workers=args.workers)
        if policy is not None and args.store:
            policy.save(policy.path, real_success=rows[name])
        print(f'{name}: {rows[name]["mean_pct"]} % ({rows[name]["seconds"]} s)', flush=True)
    print(table(rows))
    return 0


def _record(args) -> int:
    from wm_ros.ros.record import DEFAULT_TOPICS, record
    record(args.out, args.topics or DEFAULT_TOPICS, args.duration)
    return 0


def _planner_args(p, out: str) -> None:
    """Add what ``wm-ros plan`` and ``wm-ros eval planner`` share."""
    p.add_argument('--model', default=DEFAULT_MODEL, help='model dir (torch) or ONNX dir')
    p.add_argument('--backend', default='onnxruntime', choices=['onnxruntime', 'torch'])
    p.add_argument('--config', default='default', help='section of config/plan.yaml')
    p.add_argument('--max-steps', type=int, default=400)
    p.add_argument('--out', default=out)
    p.add_argument('--judge', default='', help='reward model directory (e.g. '
                   "wm_ros/models/reward): re-ranks the best plans of a task's last "
                   'sub-goal by the success it sees in their imagined last frames')
    p.add_argument('--detector', default='', help='read blocks with this detector '
                   "(wm-ros train detector) instead of the model's object read-out; needed "
                   'for a family without one (latent)')


def parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``wm-ros``."""
    p = argparse.ArgumentParser(prog='wm-ros', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='command', required=True)

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

    c = sub.add_parser('collect', help='collect episodes into shards')
    c.add_argument('--out', default='data/episodes')
    c.add_argument('--episodes', type=int, default=200)
    c.add_argument('--seed', type=int, default=0)
    c.add_argument('--mix', type=_mix, default=None,
                   help='behaviour weights, e.g. expert=0.3,noisy=0.25,explore=0.2,perceived=0.25')
    c.add_argument('--policies', default='',
                   help='closed loop: comma-separated pixel policies to roll, equally often '
                   '(zoo names or directories, or expert,noisy,slow,laggy perceiving through '
                   '--model); episodes are labelled policy:<name>')
    c.add_argument('--model', default=DEFAULT_MODEL, help='world model the perceiving '
                   'experts read blocks with (--policies)')
    c.add_argument('--tasks', default='', help='comma-separated task families (default all)')
    c.add_argument('--config', default=None, help='TabletopConfig YAML (config/tabletop.yaml)')
    c.add_argument('--image-size', type=int, default=None)
    c.add_argument('--control-hz', type=float, default=None)
    c.add_argument('--shard-size', type=int, default=50)
    c.add_argument('--max-steps', type=int, default=None)
    c.set_defaults(func=_collect)

    b = sub.add_parser('bag', help='episodes <-> rosbag2 MCAP, repair cut-off bags')
    bsub = b.add_subparsers(dest='bag_command', required=True)
    be = bsub.add_parser('export')
    be.add_argument('shard')
    be.add_argument('--episode', type=int, default=0)
    be.add_argument('--out', required=True, help='new bag directory')
    bi = bsub.add_parser('import')
    bi.add_argument('bag')
    bi.add_argument('--out', required=True, help='shard path to write')
    br = bsub.add_parser('recover', help='rebuild the summary and metadata.yaml of a bag cut '
                         'off by SIGKILL or power loss (keeps the damaged file as .broken)')
    br.add_argument('bag', help='bag directory (or its .mcap file)')
    b.set_defaults(func=_bag)

    r = sub.add_parser('record', help='record topics into a rosbag2 MCAP bag (Ctrl-C stops)')
    r.add_argument('--out', required=True, help='new bag directory')
    r.add_argument('--topics', nargs='+', default=None,
                   help='topics to record (default: camera, pose, command, imagined, '
                   'comparison and instruction topics)')
    r.add_argument('--duration', type=float, default=0.0, help='stop after N s (0: Ctrl-C)')
    r.set_defaults(func=_record)

    ev = sub.add_parser('evaluate', help='policies in imagination (reward model) vs the '
                        'tabletop (oracle): success, Pearson, MMRV, OOD edits')
    ev.add_argument('--policies', nargs='*', default=[],
                    help='zoo names or policy dirs, or the perception experts expert, noisy, '
                    'slow, laggy; comma separated (default: the acceptance suite, '
                    'bc_full,bc_expert,colour_only,bc_noisy,bc_200,bc_50,expert,slow)')
    ev.add_argument('--tasks', nargs='*', default=[], help='task families, comma separated')
    ev.add_argument('--edits', nargs='*', default=[], help='OOD edits, comma separated')
    ev.add_argument('--episodes', type=int, default=25, help='episodes per policy x task')
    ev.add_argument('--seed', type=int, default=5000)
    ev.add_argument('--max-steps', type=int, default=120)
    ev.add_argument('--max-steps-long', type=int, default=400)
    ev.add_argument('--workers', type=int, default=0, help='tabletop processes (0: a core each)')
    ev.add_argument('--model', default=DEFAULT_MODEL)
    ev.add_argument('--reward', default=DEFAULT_REWARD)
    ev.add_argument('--backend', default='onnxruntime', choices=['onnxruntime', 'torch'])
    ev.add_argument('--judge', default='reward', choices=['reward', 'state'],
                    help='what ends an imagined episode: the reward model on the frames, or '
                    'the imagined-state judge (both verdicts are reported)')
    ev.add_argument('--hold', type=int, default=1,
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
    rp.add_argument('--evaluation', default='out/evaluate',
                    help='directory holding evaluation.json (from wm-ros evaluate)')
    rp.add_argument('--out', default=None, help='where to write report.html / report.json '
                    '(default: the evaluation directory)')
    rp.add_argument('--floor', default=None,
                    help='a `wm-ros eval floor --out` dir measured on this suite: the noise '
                    'floor is shown after the targets')
    rp.set_defaults(func=_report)

    n = sub.add_parser('bench', help='benchmarks that print side-by-side ratios')
    n.add_argument('what', choices=['sim', 'world-model', 'nodes', 'evaluate', 'planner'])
    n.add_argument('-n', type=int, default=300)
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
    n.add_argument('--episodes', type=int, default=8,
                   help='episodes per task (evaluate) / episodes (planner: -n actions each)')
    n.add_argument('--config', default='default', help='config/plan.yaml section (planner)')
    n.add_argument('--threads', type=int, default=1, help='runtime threads (planner)')
    n.add_argument('--json', action='store_true')
    n.set_defaults(func=_bench)

    t = sub.add_parser('train', help='train a model')
    t.add_argument('what', choices=['world-model', 'policy', 'reward', 'detector'])
    t.add_argument('--heldout', nargs='*', default=None,
                   help='reward, detector: shard dirs of a seed never trained on, measured '
                   'into reward.json / model.json (e.g. data/heldout)')
    t.add_argument('--data', nargs='+', default=None, help='shard dirs and/or MCAP bag dirs '
                   '(policy: shard dirs, default data/train1 data/train2)')
    t.add_argument('--out', default=None, help='output directory (policy: default '
                   'wm_ros/models/policies/<recipe>; with --all the parent directory)')
    t.add_argument('--config', default='default', help='section of config/world_model.yaml '
                   '(free_slots/latent: config/<family>.yaml; policy: default or tiny)')
    t.add_argument('--family', default='slots', choices=['slots', 'free_slots', 'latent'],
                   help='world-model family: slots (supervised with block states), '
                   'free_slots or latent (label-free: images, commands, pose)')
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
    t.add_argument('--episodes', type=int, default=20, help='policy: tabletop episodes per '
                   'family to measure real success (0: do not measure)')
    t.add_argument('--workers', type=int, default=1, help='policy: tabletop processes')
    t.add_argument('--config-file', default=None)
    t.add_argument('--set', nargs='*', default=[], help='config overrides key=value')
    t.add_argument('--resume', action='store_true')
    t.add_argument('--init-from', default=None,
                   help='start from this model where weights match (e.g. retrain one stage)')
    t.set_defaults(func=_train)

    pl = sub.add_parser('plan', help='plan an instruction in the world model and execute it '
                        'on the tabletop; writes a strip and a video per sub-goal')
    pl.add_argument('instruction', nargs='?', default='',
                    help="what to do (default: the sampled scene's own instruction)")
    pl.add_argument('--task', default='group_by_colour',
                    help='family of the sampled tabletop scene (or two_step)')
    pl.add_argument('--seed', type=int, default=0, help='tabletop scene seed')
    _planner_args(pl, 'out/plan')
    pl.add_argument('--flat', action='store_true', help='MPC on the whole task (no sub-goals)')
    pl.set_defaults(func=_plan)

    x = sub.add_parser('export', help='export a world model to ONNX')
    x.add_argument('--model', default=DEFAULT_MODEL)
    x.add_argument('--out', default=None)
    x.set_defaults(func=_export)

    v = sub.add_parser('eval', help='evaluate a world model')
    vsub = v.add_subparsers(dest='what', required=True)
    v = vsub.add_parser('fidelity', help='open-loop prediction of held-out episodes')
    v.add_argument('--model', default=DEFAULT_MODEL, help='model dir (torch) or ONNX dir')
    v.add_argument('--backend', default='torch', choices=['torch', 'onnxruntime'])
    v.add_argument('--data', nargs='+', required=True)
    v.add_argument('--episodes', type=int, default=0, help='use only the first N (0: all)')
    v.add_argument('--stride', type=int, default=8)
    v.add_argument('--out', default='out/fidelity')
    v.set_defaults(func=_eval)

    nv = vsub.add_parser('novel', help='blocks of an unseen colour (and per shape) tracked '
                         'at a horizon, vs seen ones')
    nv.add_argument('--model', default=DEFAULT_MODEL)
    nv.add_argument('--backend', default='torch', choices=['torch', 'onnxruntime'])
    nv.add_argument('--data', nargs='+', required=True)
    nv.add_argument('--episodes', type=int, default=0)
    nv.add_argument('--horizon', type=int, default=16)
    nv.add_argument('--stride', type=int, default=8)
    nv.add_argument('--out', default='')
    nv.set_defaults(func=_novel)

    cl = vsub.add_parser('closed-loop', help='pixel policies on the tabletop and in imagination '
                         'from the same first frames: success, gap, replay, causes')
    cl.add_argument('--model', default=DEFAULT_MODEL, help='model dir (torch) or ONNX dir')
    cl.add_argument('--backend', default='onnxruntime', choices=['onnxruntime', 'torch'])
    cl.add_argument('--families', nargs='+', default=[],
                    help='task families, space or comma separated (default: all five)')
    cl.add_argument('--policies', nargs='+', default=[],
                    help='policies of wm_ros.policy.degraded (default: expert noisy slow laggy)')
    cl.add_argument('--episodes', type=int, default=20, help='episodes per family and policy')
    cl.add_argument('--seed', type=int, default=1000,
                    help='derives every tabletop seed (the shipped model never trained on it)')
    cl.add_argument('--max-steps', type=int, default=120,
                    help='step limit of block_to_region, block_to_block, separate')
    cl.add_argument('--max-steps-long', type=int, default=400,
                    help='step limit of group_by_colour, make_line (as the tabletop)')
    cl.add_argument('--workers', type=int, default=2,
                    help='tabletop processes (0: in this process); results do not depend on it')
    cl.add_argument('--settle', type=int, default=10,
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
    fl = vsub.add_parser('floor', help='the noise floor of an evaluation suite: its tabletop '
                         'rerun from starts moved by a camera-sized error, scored as imagination')
    fl.add_argument('--real-from', required=True,
                    help='a `wm-ros evaluate --out` dir: its suite, real outcomes and figures')
    fl.add_argument('--jitter-mm', type=float, default=1.0,
                    help='sigma of the block moves of every start, mm (a camera read)')
    fl.add_argument('--sizes', nargs='+', default=['25'],
                    help='episodes per cell to score, comma separated (each <= the suite)')
    fl.add_argument('--model', default=DEFAULT_MODEL,
                    help='for policies that perceive through a world model (and --view redrawn)')
    fl.add_argument('--workers', type=int, default=0, help='tabletop processes (0: a core each)')
    fl.add_argument('--out', default='out/floor')
    fl.set_defaults(func=_eval_floor)
    pg = vsub.add_parser('plan-graph', help='the ROS plan graph (sim_robot, world_model, '
                         'planner over DDS) once per tabletop seed: solved or stalled')
    pg.add_argument('--task', default='block_to_region', help='task family of the scenes')
    pg.add_argument('--seeds', nargs='+', default=['0,1,2,3,4,5'],
                    help='tabletop seeds, space or comma separated (a seed may repeat)')
    pg.add_argument('--limit', type=float, default=120.0, help='seconds per run at most')
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
    vp.add_argument('--episodes', type=int, default=25)
    vp.add_argument('--seed', type=int, default=2000, help='derives every tabletop seed')
    vp.add_argument('--workers', type=int, default=2, help='tabletop processes (0: here)')
    vp.set_defaults(func=_eval_planner)

    pe = vsub.add_parser('policies', help='real success of learned policies on the tabletop '
                         '(fixed seeds no training data used)')
    pe.add_argument('--policies', nargs='+', default=[],
                    help='zoo names or policy directories (default: the whole zoo)')
    pe.add_argument('--episodes', type=int, default=20, help='episodes per family')
    pe.add_argument('--seed', type=int, default=7000)
    pe.add_argument('--workers', type=int, default=1, help='tabletop processes')
    pe.add_argument('--expert', action='store_true',
                    help='add the scripted expert (true state) as the ceiling row')
    pe.add_argument('--store', action='store_true',
                    help="write the measured success into each policy's policy.json")
    pe.set_defaults(func=_eval_policies)
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
