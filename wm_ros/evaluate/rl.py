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
``wm-ros eval rl``: whether a run of ``wm-ros rl`` made its policy better on the tabletop.

For a run's output directory (the policy and ``rl.json``), the run's base policy
(*before*) and its result (*after*) are measured from the same starts:

* real success on the tabletop (the physics oracle), ``episodes`` per task family of the
  run, through the one episode driver (:func:`~wm_ros.episodes.tabletop.run_on_tabletop`);
* imagined success from the same starts' first frames in the world model the run trained
  in, judged as the run judged (``rl.json``'s ``judge``: the imagined-state judge or the
  reward model), through the run's own :class:`~wm_ros.rl.rollouts.Imagination`;
* the exploit gap, imagined minus real after RL, per family;
* 95 % Wilson intervals, and the real change after - before with Newcombe's interval
  (hybrid score, his method 10);
* a verdict per family (:func:`compare`): ``EXPLOITATION`` when imagined success rose by
  at least :data:`EXPLOIT_PTS` points while real success did not rise (the change's
  interval reaches 0), ``improved`` when real success rose (interval above 0), else
  ``not improved``.

Seeds: episode ``k`` of family ``f`` starts from tabletop seed
:func:`~wm_ros.episodes.seeds.episode_seed` ``(seed, f, k)``, ``seed`` :data:`SEED` by
default. Refused (:func:`used_seeds`): the run's training starts (``rl.starts.TRAIN_SEED``
+ the run's seed), its held-out imagined starts (``EVAL_SEED`` + seed, which chose
nothing but are the learning curve) and the zoo's real-success seed (7000: the base
policies were chosen on it). Seeds the run never saw: the evaluator's 5000 and 10000, the
closed-loop check's 1000, the planner's 2000. A run from recorded first frames trained on
the seeds of those recordings, which ``wm-ros collect`` draws at random below 2**31.

Robot time: the tabletop here only measures. ``robot_episodes_used`` is read from
``rl.json`` (real episodes a co-improvement round trained on; 0 for imagination alone).
"""

from __future__ import annotations

from dataclasses import fields, replace
import json
from pathlib import Path
import time

import numpy as np

from wm_ros.evaluate.metrics import wilson
from wm_ros.evaluate.zoo import SEED as ZOO_SEED
from wm_ros.rl.rollouts import Imagination

SEED = 31_000          # the default seed of the real and imagined before/after episodes
EXPLOIT_PTS = 10.0     # an imagined rise this large without a real one is exploitation
TARGET_RISE_PTS = 20.0  # issue 28: real success up by 20 points ...
TARGET_GAP_PTS = 10.0  # ... and |imagined - real| after RL at most 10 points
SIDES = ('real_before', 'real_after', 'imagined_before', 'imagined_after')


class RunError(ValueError):
    """A directory that is not a finished ``wm-ros rl`` run, or a seed the run used."""


def load_run(path: str | Path) -> dict:
    """Return the ``rl.json`` of the finished run in directory ``path``, or refuse it."""
    path = Path(path)
    file = path / 'rl.json'
    hint = 'give the --out directory of a finished `wm-ros rl`'
    if not file.is_file() or not (path / 'policy.json').is_file():
        raise RunError(f'{path} is not an RL run (no rl.json and policy.json); {hint}')
    try:
        run = json.loads(file.read_text())
    except ValueError as exc:
        raise RunError(f'{file} is not JSON ({exc}); {hint}') from None
    missing = [k for k in ('base', 'model', 'judge', 'config', 'updates', 'history')
               if not isinstance(run, dict) or k not in run]
    if missing:
        raise RunError(f'{file} lacks {", ".join(missing)}: not written by wm-ros rl; {hint}')
    if not run.get('finished'):
        raise RunError(f'{path}: the run stopped after {run["updates"]} updates; finish it '
                       f'with `wm-ros rl ... --out {path} --resume`')
    return run


def used_seeds(run: dict) -> dict[int, str]:
    """Return ``{seed: what it was used for}``: the seeds a verification must not use."""
    from wm_ros.rl.starts import EVAL_SEED, TRAIN_SEED
    seed = int(run['config'].get('seed', 0))
    return {TRAIN_SEED + seed: "the run's training starts",
            EVAL_SEED + seed: "the run's held-out imagined starts, its learning curve",
            ZOO_SEED: "the zoo's real-success seed, on which the base policies were chosen"}


def families_of(run: dict) -> list[str]:
    """Return the tabletop task families the run trained on (its imagined table's, else config)."""
    from wm_ros.sim.tasks import FAMILIES
    named = [f for f in (run.get('imagined_before') or {}) if f in FAMILIES]
    return named or [f for f in run['config']['families'] if f in FAMILIES]


# ----------------------------------------------------------------------------- numbers
def rate(k: int, n: int) -> dict:
    """Return ``{'k', 'n', 'pct', 'wilson_pct'}`` of ``k`` successes in ``n`` episodes."""
    lo, hi = wilson(k, n)
    return {'k': int(k), 'n': int(n), 'pct': round(100.0 * k / max(n, 1), 1),
            'wilson_pct': [round(100 * lo, 1), round(100 * hi, 1)]}


def newcombe(before: tuple[int, int], after: tuple[int, int]) -> list[float]:
    """Return the 95 % interval (points) of after - before, two independent proportions."""
    (k1, n1), (k2, n2) = before, after
    p1, p2 = k1 / max(n1, 1), k2 / max(n2, 1)
    (l1, u1), (l2, u2) = wilson(k1, n1), wilson(k2, n2)
    d = p2 - p1
    lo = d - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    hi = d + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return [round(100 * float(lo), 1), round(100 * float(hi), 1)]


def compare(real_before: tuple[int, int], real_after: tuple[int, int],
            imagined_before: tuple[int, int], imagined_after: tuple[int, int]) -> dict:
    """Return one family's row: each side's rate, the changes, the gap and the verdict."""
    row = {side: rate(*counts) for side, counts in
           zip(SIDES, (real_before, real_after, imagined_before, imagined_after))}
    real = round(row['real_after']['pct'] - row['real_before']['pct'], 1)
    imagined = round(row['imagined_after']['pct'] - row['imagined_before']['pct'], 1)
    ci = newcombe(real_before, real_after)
    rose = ci[0] > 0
    verdict = ('EXPLOITATION' if imagined >= EXPLOIT_PTS and not rose else
               'improved' if rose else 'not improved')
    gap = round(row['imagined_after']['pct'] - row['real_after']['pct'], 1)
    return {**row, 'real_change_pts': real, 'real_change_ci_pts': ci,
            'imagined_change_pts': imagined, 'gap_after_pts': gap,
            'gap_before_pts': round(row['imagined_before']['pct'] - row['real_before']['pct'],
                                    1),
            'verdict': verdict, 'rise_target_met': real >= TARGET_RISE_PTS,
            'gap_target_met': abs(gap) <= TARGET_GAP_PTS}


def curve(run: dict) -> dict:
    """Return the run's learning curve: the mean policy's imagined success by update."""
    points = {0: run.get('imagined_before') or {}}
    for h in run['history']:
        if h.get('imagined'):
            points[int(h['update'])] = h['imagined']
    if run.get('imagined_after'):
        points[int(run['updates'])] = run['imagined_after']
    return {'updates': sorted(points),
            'mean_pct': [points[u].get('mean_pct') for u in sorted(points)],
            'families': {f: [points[u].get(f, {}).get('success_pct') for u in sorted(points)]
                         for f in families_of(run)},
            'train_updates': [int(h['update']) for h in run['history']],
            'train_success_pct': [round(100 * float(h['success']), 1) for h in run['history']],
            'eval_starts': run.get('eval_starts')}


# ----------------------------------------------------------------------------- episodes
class _Judged(Imagination):
    """The run's imagination with the run's judge, whatever these starts would get."""

    def __init__(self, judge: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.judge = judge

    def judge_for(self, starts) -> str:
        """Return the run's judge."""
        return self.judge


def _world(run: dict, runtime, limits, half: float) -> Imagination:
    """Return the run's imagination (model, judge, reward model) at ``limits``."""
    from wm_ros.rl.config import RLConfig
    known = {f.name for f in fields(RLConfig)}
    config = {k: v for k, v in run['config'].items() if k in known}
    cfg = replace(RLConfig(**{**config, 'families': tuple(config.get('families', ()))}),
                  max_steps=limits.max_steps, max_steps_long=limits.max_steps_long)
    reward = None
    if run['judge'] == 'reward':
        from wm_ros.reward import load_reward
        if not run.get('reward') or not Path(run['reward']).exists():
            raise RunError(f"the run was judged by the reward model {run.get('reward')!r}, "
                           'which is not there; run from the directory the run ran in')
        reward = load_reward(run['reward'])
    return _Judged(run['judge'], runtime, reward, cfg, half)


def episodes(run: dict, run_dir: Path, runtime, starts: list, limits,
             workers: int) -> tuple[dict, dict]:
    """Return ``({side: bool per start}, seconds)``: real and imagined, before and after."""
    from wm_ros.episodes.tabletop import run_on_tabletop, TabletopWorld
    from wm_ros.policy import registry
    half = float(getattr(runtime, 'board_half', 0.25))
    names = {'before': str(run['base']), 'after': str(run_dir)}
    table = TabletopWorld(image_size=runtime.image_size, board_half=half, limits=limits)
    out, seconds = {}, {}
    for side, name in names.items():
        t0 = time.perf_counter()
        results = run_on_tabletop(table, [(name, s) for s in starts],
                                  workers if workers > 1 else 0, chunk=10)
        out[f'real_{side}'] = [bool(r.success) for r in results]
        seconds[f'real_{side}'] = round(time.perf_counter() - t0, 1)
    world = _world(run, runtime, limits, half)
    for side, name in names.items():
        t0 = time.perf_counter()
        policy = registry.make(name, registry.PolicyContext.of(runtime, half))
        out[f'imagined_{side}'] = [bool(r.success) for r in world.episodes(policy, starts)]
        seconds[f'imagined_{side}'] = round(time.perf_counter() - t0, 1)
    return out, seconds


def evaluate(run_dir: str | Path, episodes_per_family: int = 50, seed: int = SEED,
             workers: int = 1, max_steps: int = 120, max_steps_long: int = 400,
             families: list[str] | None = None, backend: str = 'onnxruntime') -> dict:
    """Return the before/after verification of the run in ``run_dir`` (module docstring)."""
    from wm_ros.episodes.env import Limits
    from wm_ros.episodes.tabletop import sample_starts
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    from wm_ros.policy import registry
    for name in (str(run['base']), str(run_dir)):       # before any model loads
        registry.check(name)
    used = used_seeds(run)
    if seed in used:
        raise RunError(f'--seed {seed} is {used[seed]}; pick a seed never used for training '
                       f'or tuning (default {SEED})')
    families = list(families or families_of(run))
    if not families:
        raise RunError(f'{run_dir}: the run names no tabletop task family; pass --families')
    limits = Limits(max_steps, max_steps_long)
    from wm_ros.runtime import load_runtime
    runtime = load_runtime(run['model'], backend, threads=1)
    starts = sample_starts(families, episodes_per_family, seed, runtime.image_size,
                           float(getattr(runtime, 'board_half', 0.25)))
    t0 = time.perf_counter()
    outcome, seconds = episodes(run, run_dir, runtime, starts, limits, workers)
    seconds['wall'] = round(time.perf_counter() - t0, 1)
    rows = {}
    for family in families:
        idx = [i for i, s in enumerate(starts) if s.task_family == family]
        rows[family] = compare(*((sum(outcome[side][i] for i in idx), len(idx))
                                 for side in SIDES))
    return {'run': str(run_dir), 'base': str(run['base']), 'model': str(run['model']),
            'judge': run['judge'], 'updates': run['updates'],
            'robot_episodes_used': int(run.get('robot_episodes', 0)),
            'episodes_per_family': episodes_per_family, 'seed': seed,
            'seeds': 'wm_ros.episodes.seeds.episode_seed(seed, family, k), k < episodes; '
                     'not: ' + '; '.join(f'{s} ({why})' for s, why in used.items()),
            'max_steps': max_steps, 'max_steps_long': max_steps_long,
            'families': rows, 'mean': means(rows), 'curve': curve(run), 'seconds': seconds,
            'episodes': [{'family': s.task_family, 'k': s.k, 'seed': s.seed,
                          **{side: outcome[side][i] for side in SIDES}}
                         for i, s in enumerate(starts)],
            'rl_config': run['config']}


def means(rows: dict[str, dict]) -> dict:
    """Return the mean over families of each side's success and of the gap (points)."""
    out = {k: round(float(np.mean([r[k]['pct'] for r in rows.values()])), 1) for k in SIDES}
    out['gap_after_pts'] = round(out['imagined_after'] - out['real_after'], 1)
    out['real_change_pts'] = round(out['real_after'] - out['real_before'], 1)
    return out


# ----------------------------------------------------------------------------- files
def _cell(r: dict) -> str:
    lo, hi = r['wilson_pct']
    return f"{r['pct']:.0f} % [{lo:.0f}, {hi:.0f}] ({r['k']}/{r['n']})"


def markdown(result: dict) -> str:
    """Return ``rl_eval.md``: the before/after table, gaps and verdicts."""
    m = result['mean']
    lines = [f"# RL verification: {result['base']} -> {result['run']}", '',
             f"{result['updates']} updates in {result['model']} (judge: {result['judge']}); "
             f"{result['episodes_per_family']} tabletop episodes per family and side, seed "
             f"{result['seed']} ({result['seeds']}); step limits {result['max_steps']} / "
             f"{result['max_steps_long']}; robot episodes used in training: "
             f"{result['robot_episodes_used']}.", '',
             '| family | real before | real after | real change (95 %) | imagined before '
             '| imagined after | gap after (imagined - real) | verdict |',
             '|---|---|---|---|---|---|---|---|']
    for family, r in result['families'].items():
        lo, hi = r['real_change_ci_pts']
        lines.append(f"| {family} | {_cell(r['real_before'])} | {_cell(r['real_after'])} | "
                     f"{r['real_change_pts']:+.1f} [{lo:+.0f}, {hi:+.0f}] | "
                     f"{_cell(r['imagined_before'])} | {_cell(r['imagined_after'])} | "
                     f"{r['gap_after_pts']:+.1f} | {r['verdict']} |")
    lines.append(f"| mean | {m['real_before']:.1f} % | {m['real_after']:.1f} % | "
                 f"{m['real_change_pts']:+.1f} | {m['imagined_before']:.1f} % | "
                 f"{m['imagined_after']:.1f} % | {m['gap_after_pts']:+.1f} | |")
    lines += ['', f'Verdicts: EXPLOITATION = imagined success rose by >= {EXPLOIT_PTS:.0f} '
              "points while real success did not rise (the real change's 95 % interval "
              'reaches 0); improved = that interval lies above 0. Targets (issue 28): real '
              f'+{TARGET_RISE_PTS:.0f} points in 3 of 4 families, |gap after| <= '
              f'{TARGET_GAP_PTS:.0f} points per family: rise met in '
              f"{sum(r['rise_target_met'] for r in result['families'].values())}, gap met in "
              f"{sum(r['gap_target_met'] for r in result['families'].values())} of "
              f"{len(result['families'])} families.", '']
    return '\n'.join(lines)


def write(result: dict, out: str | Path) -> tuple[Path, Path]:
    """Write ``rl_eval.json`` and ``rl_eval.md`` into ``out``; return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = out / 'rl_eval.json', out / 'rl_eval.md'
    paths[0].write_text(json.dumps(result, indent=1))
    paths[1].write_text(markdown(result))
    return paths


def load(path: str | Path) -> dict:
    """Return the ``rl_eval.json`` in ``path`` (a directory or the file), or refuse it."""
    path = Path(path)
    file = path / 'rl_eval.json' if path.is_dir() else path
    try:
        result = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f'no RL verification at {file} ({type(exc).__name__}); run `wm-ros eval '
                       'rl --run RUN --out DIR` and pass that DIR') from None
    if not isinstance(result, dict) or not {'families', 'curve', 'mean'} <= set(result):
        raise RunError(f'{file} is not what `wm-ros eval rl` writes (families, curve, mean)')
    return result
