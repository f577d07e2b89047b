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
The numbers of an evaluation, and ``evaluation.json`` (the schema the report reads).

Per-cell success with intervals, agreement statistics, judge confusion, rollout strips.

Success rates are fractions (0..1). A cell is one policy x task family. ``gap`` is
imagined - real. The judge's confusion on real rollouts is the reward model against the
physics oracle; on imagined rollouts, against the imagined-state judge (the model's own
objects), where the family has one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from wm_ros.evaluate.metrics import bootstrap_ci, mmrv, pearson, spearman

EVALUATION = 'evaluation.json'      # what write() writes into its directory

TARGETS = {'pearson': 0.90, 'mmrv': 0.05, 'mmrv_task_mean': 0.05, 'mean_abs_gap': 0.05,
           'ood_agreement': 0.90,
           'judge_real_accuracy': 0.95, 'judge_imagined_accuracy': 0.90}


def record(policy: str, start, real, imagined) -> dict:
    """
    Return the JSON-ready outcomes, real and imagined, of one episode start.

    ``real`` and ``imagined`` are :class:`~wm_ros.episodes.env.EpisodeResult`; the
    imagined-state verdict is the imagination's own (``env_success``; None without one).
    """
    return {'policy': policy, 'task': start.task_family, 'k': start.k, 'seed': start.seed,
            'instruction': start.task.instruction, 'real': real.success,
            'real_judged': real.judged, 'real_steps': real.steps,
            'real_s': round(real.seconds, 3), 'imagined': imagined.success,
            'imagined_reward': imagined.judged, 'imagined_state': imagined.env_success,
            'imagined_steps': imagined.steps, 'imagined_passed_run': imagined.passed_run}


def _rate(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if r[key] is not None]
    return float(np.mean(values)) if values else float('nan')


def cell(rows: list[dict], seed: int = 0) -> dict:
    """Return the success figures of one group of episode records."""
    real = np.array([r['real'] for r in rows], float)
    imag = np.array([r['imagined'] for r in rows], float)
    return {'n': len(rows), 'real': float(real.mean()),
            'real_ci': list(bootstrap_ci(real, seed=seed)),
            'real_judged': _rate(rows, 'real_judged'), 'imagined': float(imag.mean()),
            'imagined_ci': list(bootstrap_ci(imag, seed=seed)),
            'imagined_state': _rate(rows, 'imagined_state'),
            'imagined_reward': _rate(rows, 'imagined_reward'),
            'gap': float(imag.mean() - real.mean())}


def confusion(predicted, truth) -> dict:
    """Return tp/fp/tn/fn, accuracy, false-positive and false-negative rates."""
    pairs = [(bool(p), bool(t)) for p, t in zip(predicted, truth) if t is not None]
    tp = sum(p and t for p, t in pairs)
    fp = sum(p and not t for p, t in pairs)
    tn = sum(not p and not t for p, t in pairs)
    fn = sum(not p and t for p, t in pairs)
    n = len(pairs)
    return {'tp': tp, 'fp': fp, 'tn': tn, 'fn': fn,
            'accuracy': (tp + tn) / n if n else float('nan'),
            'fpr': fp / (fp + tn) if fp + tn else float('nan'),
            'fnr': fn / (fn + tp) if fn + tp else float('nan')}


def agreement(real: np.ndarray, imagined: np.ndarray) -> dict:
    """Return Pearson, Spearman, MMRV and the mean absolute gap over cells."""
    real, imagined = np.asarray(real, float), np.asarray(imagined, float)
    return {'pearson': pearson(real, imagined), 'spearman': spearman(real, imagined),
            'mmrv': mmrv(real, imagined),
            'mean_abs_gap': float(np.abs(imagined - real).mean()) if len(real) else float('nan'),
            'cells': int(len(real))}


def summarise(records: list[dict], config: dict, timing: dict) -> dict:
    """Return the evaluation dict: config, cells, summary, judges, timing, episodes."""
    seed = int(config.get('seed', 0))
    cells = [dict(policy=p, task=t, **cell([r for r in records
                                           if r['policy'] == p and r['task'] == t], seed))
             for p in config['policies'] for t in config['tasks']]
    summary = agreement([c['real'] for c in cells], [c['imagined'] for c in cells])
    summary['per_task_mmrv'] = {
        t: mmrv([c['real'] for c in cells if c['task'] == t],
                [c['imagined'] for c in cells if c['task'] == t]) for t in config['tasks']}
    # SIMPLER ranks policies within a task; this is its MMRV averaged over the tasks
    summary['mmrv_task_mean'] = float(np.mean(list(summary['per_task_mmrv'].values())))
    judges = {'real': confusion([r['real_judged'] for r in records],
                                [r['real'] for r in records]),
              'imagined': confusion([r['imagined_reward'] for r in records],
                                    [r['imagined_state'] for r in records])}
    steps = timing.get('imagined_steps', 0)
    wm_s = max(timing.get('imagine_s', 0), 1e-9)
    timing = dict(timing, imagined_steps_per_s=steps / wm_s,
                  speedup_vs_tabletop=timing.get('tabletop_s', 0) / wm_s,
                  speedup_vs_real_time=timing.get('tabletop_steps', 0) / 10.0 / wm_s)
    return {'config': config, 'cells': cells, 'summary': summary, 'judges': judges,
            'targets': TARGETS, 'timing': timing, 'episodes': records}


def strip(frames: np.ndarray, n: int) -> np.ndarray:
    """Return ``n`` evenly spaced frames of uint8[T, S, S, 3] side by side, uint8[S, n*S, 3]."""
    idx = np.unique(np.linspace(0, len(frames) - 1, n).round().astype(int))
    return np.concatenate(list(frames[idx]), axis=1)


def finite(x):
    """Return ``x`` with NaN/inf floats as None and numpy scalars as Python (strict JSON)."""
    if isinstance(x, dict):
        return {str(k): finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    return None if isinstance(x, float) and not np.isfinite(x) else x


def write(result: dict, out_dir: str | Path, strip_frames: int = 8) -> Path:
    """Write ``evaluation.json`` and the rollout strips (``strips/*.png``) into ``out_dir``."""
    from PIL import Image
    out = Path(out_dir)
    (out / 'strips').mkdir(parents=True, exist_ok=True)
    data = {k: v for k, v in result.items() if not k.startswith('_')}
    data['strips'] = []
    for policy, start, real, imagined in result.get('_rollouts', []):
        name = f'{policy}-{start.task_family}-{start.k}'.replace('/', '_')
        entry = {'policy': policy, 'task': start.task_family, 'episode': start.k,
                 'instruction': start.task.instruction, 'real_success': real.success,
                 'imagined_success': imagined.success}
        for side, roll in (('real', real), ('imagined', imagined)):
            if roll.frames is not None:
                Image.fromarray(strip(roll.frames, strip_frames)).save(
                    out / 'strips' / f'{name}-{side}.png')
                entry[side] = f'strips/{name}-{side}.png'
        data['strips'].append(entry)
    path = out / EVALUATION
    path.write_text(json.dumps(finite(data), indent=1))
    return path


def evaluation_file(path: str | Path) -> Path:
    """Return the ``evaluation.json`` that ``path`` names: the file, or the directory's."""
    path = Path(path)
    return path / EVALUATION if path.is_dir() else path


def table(result: dict) -> str:
    """Return a Markdown table of the cells and the summary line."""
    lines = ['| policy | task | n | real % (95 % CI) | imagined % (95 % CI) | gap pts | '
             'judge on real % | imagined-state % |', '|---|---|---|---|---|---|---|---|']
    for c in result['cells']:
        lines.append(
            f"| {c['policy']} | {c['task']} | {c['n']} | {100 * c['real']:.0f} "
            f"({100 * c['real_ci'][0]:.0f}-{100 * c['real_ci'][1]:.0f}) | "
            f"{100 * c['imagined']:.0f} ({100 * c['imagined_ci'][0]:.0f}-"
            f"{100 * c['imagined_ci'][1]:.0f}) | {100 * c['gap']:+.0f} | "
            f"{100 * c['real_judged']:.0f} | {100 * c['imagined_state']:.0f} |")
    s, j = result['summary'], result['judges']
    lines += ['', f"Over {s['cells']} cells: Pearson {s['pearson']:.2f}, Spearman "
              f"{s['spearman']:.2f}, MMRV {s['mmrv']:.3f}, mean |gap| "
              f"{100 * s['mean_abs_gap']:.1f} points. Reward model: accuracy "
              f"{100 * j['real']['accuracy']:.1f} % on real rollouts (FPR "
              f"{100 * j['real']['fpr']:.1f} %, FNR {100 * j['real']['fnr']:.1f} %), "
              f"{100 * j['imagined']['accuracy']:.1f} % on imagined ones (FPR "
              f"{100 * j['imagined']['fpr']:.1f} %, FNR {100 * j['imagined']['fnr']:.1f} %)."]
    return '\n'.join(lines)
