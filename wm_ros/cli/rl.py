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


"""``wm-ros rl``: fine-tune a policy inside a world model (group-relative RL, :mod:`wm_ros.rl`)."""

from __future__ import annotations

from pathlib import Path

from wm_ros.cli import checks
from wm_ros.cli.checks import key_value, UsageError
from wm_ros.cli.common import DEFAULT_MODEL, items, number


def _config(args):
    """Return the RL config (section ``--config`` of ``--config-file``, ``--set`` applied)."""
    from wm_ros.rl.config import ConfigError, load_config
    try:
        return load_config(args.config, args.config_file,
                           **{k: number(v) for k, v in args.set})
    except (ConfigError, TypeError) as exc:
        raise UsageError(f'--config: {exc}') from None


def _check_out(out: Path, resume: bool) -> None:
    """Refuse writing over a run without ``--resume``, or resuming without a checkpoint."""
    from wm_ros.rl.trainer import CHECKPOINT
    if resume and not (out / CHECKPOINT / 'state.json').is_file():
        raise UsageError(f'--resume: {out} holds no checkpoint ({CHECKPOINT}/state.json); '
                         'run without --resume')
    if not resume and out.exists() and any(out.iterdir()):
        raise UsageError(f'--out: {out} is not empty; give a new directory, or --resume to '
                         'continue the run in it')


def _starts(args, cfg, runtime) -> tuple[list, list]:
    """Return (training pool, imagined before/after starts) of the command line."""
    from wm_ros.rl import starts
    half = float(getattr(runtime, 'board_half', 0.25))
    families = items(args.families) or list(cfg.families)
    if args.starts:
        pool = starts.from_data(args.starts, cfg.pool, families)
        return pool, starts.evenly(pool, cfg.eval_starts)
    per_family = -(-cfg.eval_starts // len(families))
    pool = starts.sampled(families, cfg.pool, starts.TRAIN_SEED + cfg.seed,
                          runtime.image_size, half)
    held = starts.sampled(families, per_family, starts.EVAL_SEED + cfg.seed,
                          runtime.image_size, half)
    return pool, starts.evenly(held, cfg.eval_starts)


def _check(args):
    """Every check that loads nothing; return the config."""
    cfg = _config(args)
    checks.policies('--policy', [args.policy], experts=False)
    checks.model('--model', args.model, args.backend)
    checks.reward('--reward', args.reward)
    if cfg.shaping > 0 and not args.reward:
        raise UsageError(f'--reward: config {args.config} shapes the return with the reward '
                         f"model's probability (shaping={cfg.shaping}); pass --reward DIR "
                         '(e.g. wm_ros/models/reward) or --set shaping=0')
    if args.starts:
        checks.data('--starts', args.starts)
    checks.families('--families', items(args.families) or cfg.families)
    _check_out(Path(args.out), args.resume)
    return cfg


def _rl(args) -> int:
    cfg = _check(args)
    from wm_ros import artefacts
    from wm_ros.policy import registry
    from wm_ros.rl.actor import GaussianActor
    from wm_ros.rl.rollouts import Imagination
    from wm_ros.rl.trainer import Trainer
    from wm_ros.runtime import load_runtime
    runtime = load_runtime(args.model, args.backend, threads=cfg.threads)
    reward = None
    if args.reward:
        from wm_ros.reward import load_reward
        reward = load_reward(args.reward)
    zoo = registry.check(args.policy) == 'zoo'
    actor = GaussianActor.load(Path(artefacts.POLICIES) / args.policy if zoo else args.policy,
                               cfg.log_std, cfg.learn_std)
    if actor.policy.config.image_size != runtime.image_size:
        raise UsageError(f'--policy: {args.policy} sees {actor.policy.config.image_size} px '
                         f'frames, {args.model} draws {runtime.image_size} px; give a model '
                         'and a policy of one image size')
    pool, held = _starts(args, cfg, runtime)
    world = Imagination(runtime, reward, cfg, float(getattr(runtime, 'board_half', 0.25)))
    try:
        world.judge_for(pool + held)
    except ValueError as exc:
        raise UsageError(f'--model: {args.model} ({type(runtime).__name__}): {exc}') from None
    about = {'base': args.policy, 'model': str(args.model), 'reward': args.reward or '',
             'starts': [str(p) for p in args.starts] or 'sampled tabletop first frames'}
    summary = Trainer(actor, world, pool, held, args.out, about).run(
        resume=args.resume, progress=not args.quiet)
    print(_table(summary))
    print(f'wrote {args.out} (policy directory: policy_path:={args.out}) and '
          f'{Path(args.out) / "rl.json"}')
    return 0


def _table(summary: dict) -> str:
    """Return the imagined success before and after, per family, as text."""
    before, after = summary['imagined_before'] or {}, summary['imagined_after'] or {}
    lines = [f"imagined success of the mean policy ({summary['eval_starts']} held-out "
             f"imagined starts, judge: {summary['judge']}), {summary['updates']} updates, "
             f"{summary['rollouts']} rollouts, dropped {summary['dropped']}:"]
    for family in [f for f in before if f != 'mean_pct']:
        lines.append(f"  {family:<16} {before[family]['success_pct']:5.1f} -> "
                     f"{after.get(family, {}).get('success_pct', float('nan')):5.1f} %")
    if before:
        lines.append(f"  {'mean':<16} {before['mean_pct']:5.1f} -> "
                     f"{after.get('mean_pct', float('nan')):5.1f} %")
    return '\n'.join(lines)


def add_parser(sub) -> None:
    """Add ``wm-ros rl``."""
    r = sub.add_parser('rl', help='fine-tune a policy inside a world model (group-relative '
                       'RL from real first frames); the result is a policy directory')
    r.add_argument('--policy', default='bc_full', help='zoo name or policy directory')
    r.add_argument('--model', default=DEFAULT_MODEL, help='world-model directory')
    r.add_argument('--backend', default='onnxruntime')
    r.add_argument('--reward', default=None,
                   help='reward-model directory: the judge where the model reads out no '
                   'objects, and the shaping term (e.g. wm_ros/models/reward)')
    r.add_argument('--starts', nargs='*', default=[],
                   help='shard directories or bags: their first frames are the starts '
                   '(default: sampled tabletop starts of --families)')
    r.add_argument('--families', nargs='*', default=[],
                   help="task families (default: the config's)")
    r.add_argument('--config', default='default', help='section of config/rl.yaml')
    r.add_argument('--config-file', default=None, help='another rl.yaml')
    r.add_argument('--set', nargs='*', type=key_value, default=[], action='extend',
                   help='config overrides key=value (several, or --set repeated)')
    r.add_argument('--out', required=True, help='new directory: the policy and its run')
    r.add_argument('--resume', action='store_true', help='continue from --out/checkpoint')
    r.add_argument('--quiet', action='store_true', help='no progress bar')
    r.set_defaults(func=_rl)
