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

"""The closed-loop check's report: per-cell and overall figures, the Markdown table, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from wm_ros.evaluate.metrics import bootstrap_ci, mmrv, pearson, spearman

CAUSES = ('misread', 'timeout', 'hallucination')


def _cell(rows: list[dict], seed: int) -> dict:
    real = np.array([r['real_success'] for r in rows], float)
    imag = np.array([r['imagined_success'] for r in rows], float)
    agree = np.array([r['replay_success'] == r['real_final_success'] for r in rows], float)
    agree_any = np.array([r['replay_success_any'] == r['real_success'] for r in rows], float)
    agree_first = np.array([r['replay_success_at_success'] == r['real_success'] for r in rows],
                           float)
    causes = [r['cause'] for r in rows]
    pct = [100 * real.mean(), 100 * imag.mean()]
    return {
        'n': len(rows), 'real_pct': pct[0], 'imagined_pct': pct[1], 'gap_pts': pct[1] - pct[0],
        'real_ci_pct': [100 * v for v in bootstrap_ci(real, seed=seed)],
        'imagined_ci_pct': [100 * v for v in bootstrap_ci(imag, seed=seed)],
        'gap_ci_pts': [100 * v for v in bootstrap_ci(imag - real, seed=seed)],
        'replay_agreement': float(agree.mean()),
        'replay_agreement_any': float(agree_any.mean()),
        'replay_agreement_at_success': float(agree_first.mean()),
        'replay_end_error_cm': _nanmedian([r['replay_end_error_cm'] for r in rows]),
        'physics_replay_from_read': _agreement(rows, 'physics_replay_from_read'),
        'physics_replay_jitter': _agreement(rows, 'physics_replay_jitter'),
        'disagreements': int((real != imag).sum()),
        'causes': {c: causes.count(c) for c in CAUSES},
        'first_frame_misread': sum(bool(r['first_frame']) for r in rows),
        'real_steps_mean': float(np.mean([r['real_steps'] for r in rows])),
        'imagined_steps_mean': float(np.mean([r['imagined_steps'] for r in rows])),
    }


def _agreement(rows: list[dict], key: str) -> float:
    """Share of ``rows`` whose tabletop replay ``key`` gives the real final verdict (NaN: none)."""
    done = [r[key] == r['real_final_success'] for r in rows if r.get(key) is not None]
    return float(np.mean(done)) if done else float('nan')


def _nanmedian(values) -> float:
    v = np.asarray(values, float)
    return float(np.median(v[np.isfinite(v)])) if np.isfinite(v).any() else float('nan')


def summarise(records: list[dict], config: dict, timing: dict, seed: int = 0) -> dict:
    """Return the report: per-cell and per-policy figures, overall statistics, episodes."""
    cells, per_policy = [], []
    for p in config['policies']:
        for f in config['families']:
            rows = [r for r in records if r['policy'] == p and r['family'] == f]
            cells.append({'policy': p, 'family': f, **_cell(rows, seed)})
        per_policy.append({'policy': p, 'family': 'all',
                           **_cell([r for r in records if r['policy'] == p], seed)})
    real = np.array([c['real_pct'] for c in cells]) / 100
    imag = np.array([c['imagined_pct'] for c in cells]) / 100
    per_family = {f: mmrv(*(np.array([[c['real_pct'], c['imagined_pct']] for c in cells
                                      if c['family'] == f]).T / 100))
                  for f in config['families']}
    overall = {
        'cells': len(cells), 'pearson': pearson(real, imag), 'spearman': spearman(real, imag),
        'mmrv': mmrv(real, imag), 'mean_abs_gap_pts': float(100 * np.abs(imag - real).mean()),
        'mmrv_per_family': per_family,
        'mmrv_mean_over_families': float(np.mean(list(per_family.values()))),
        **_cell(records, seed)}
    return {'config': config, 'overall': overall, 'cells': cells, 'per_policy': per_policy,
            'timing': {k: round(v, 2) if isinstance(v, float) else v for k, v in timing.items()},
            'episodes': records}


def _ci(lo_hi) -> str:
    return f'{lo_hi[0]:.0f}-{lo_hi[1]:.0f}'


def table(report: dict) -> str:
    """Return the Markdown table: one row per policy x family, then per policy."""
    lines = ['| policy | family | n | real % (95 % CI) | imagined % (95 % CI) | gap pts '
             '(95 % CI) | replay agrees % (end / at success / any step) | replay end err cm '
             '| physics replay agrees % (read start / true start + 1 mm) | disagree '
             '| misread | timeout | hallucination |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for c in report['cells'] + report['per_policy'] + [dict(report['overall'], policy='all',
                                                            family='all')]:
        k = c['causes']
        lines.append(
            f"| {c['policy']} | {c['family']} | {c['n']} | {c['real_pct']:.0f} "
            f"({_ci(c['real_ci_pct'])}) | {c['imagined_pct']:.0f} ({_ci(c['imagined_ci_pct'])}) "
            f"| {c['gap_pts']:+.0f} ({c['gap_ci_pts'][0]:+.0f} to {c['gap_ci_pts'][1]:+.0f}) | "
            f"{100 * c['replay_agreement']:.0f} / {100 * c['replay_agreement_at_success']:.0f} "
            f"/ {100 * c['replay_agreement_any']:.0f} | "
            f"{c['replay_end_error_cm']:.1f} | {_pct(c['physics_replay_from_read'])} / "
            f"{_pct(c['physics_replay_jitter'])} | {c['disagreements']} | {k['misread']} | "
            f"{k['timeout']} | {k['hallucination']} |")
    o = report['overall']
    lines += ['', f"Over the {o['cells']} policy x family cells: Pearson {o['pearson']:.2f}, "
              f"Spearman {o['spearman']:.2f}, MMRV {o['mmrv']:.3f} (mean of per-family MMRV "
              f"over policies {o['mmrv_mean_over_families']:.3f}), mean |gap| "
              f"{o['mean_abs_gap_pts']:.1f} points; open-loop replay agrees with the robot in "
              f"{100 * o['replay_agreement']:.1f} % of {o['n']} episodes (judged at the last "
              f"replayed step, {report['config'].get('settle', 0)} steps after a real success; "
              f"{100 * o['replay_agreement_at_success']:.1f} % judged at the real "
              f"first-success step; {100 * o['replay_agreement_any']:.1f} % when success at any "
              'replayed step counts).']
    if np.isfinite(o['physics_replay_from_read']):
        lines += ['', 'The same actions replayed on the tabletop itself reproduce the real '
                  f"outcome in {_pct(o['physics_replay_from_read'])} % of episodes from the "
                  "model's read of the first frame and in "
                  f"{_pct(o['physics_replay_jitter'])} % from the true start with every block "
                  f"moved by {1000 * report['config']['physics_jitter_m']:.0f} mm (sigma): "
                  'what open-loop replay can reach from that start.']
    return '\n'.join(lines)


def _pct(x: float) -> str:
    return f'{100 * x:.0f}' if np.isfinite(x) else '-'


def _finite(x):
    """Return ``x`` with NaN/inf floats as None (strict JSON)."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return None if isinstance(x, float) and not np.isfinite(x) else x


def write(report: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``closed_loop.json`` and ``closed_loop.md`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    c, t = report['config'], report['timing']
    head = (f"# Closed-loop trust check\n\nModel `{c['model']}` ({c['backend']}), "
            f"{c['episodes']} episodes per family from seed {c['seed']}, step limit "
            f"{c['max_steps']} ({c['max_steps_long']} long-horizon), {c.get('settle', 0)} "
            f"settle steps after a real success, {c['workers']} tabletop workers; "
            f"{t['wall_s']} s wall.\n\n")
    (out / 'closed_loop.json').write_text(json.dumps(_finite(report), indent=1))
    (out / 'closed_loop.md').write_text(head + table(report) + '\n')
    return out / 'closed_loop.json', out / 'closed_loop.md'
