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
``wm-ros report``: one self-contained HTML page (and a JSON) from an ``evaluation.json``.

The page shows the headline numbers against the issue's targets (met / not met), imagined
vs real success per cell (scatter with 95 % intervals on both axes and the y = x line),
per-task bars, the OOD heatmap (policy x edit: imagined vs real change, agreement marks),
the reward model's confusion matrices, and rollout strips real | imagined. Figures and
strips are embedded as base64 PNG, so the page is one file that opens anywhere. Any
section may be missing (say, no OOD run): the page says so. NaN / null shows as "n/a".
Rates in ``evaluation.json`` are fractions (0..1); the page shows percent.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path

import numpy as np

# the report's input, checked when read (re-exported here, where callers look for it)
from wm_ros.evaluate.evaluation_file import load_evaluation  # noqa: F401
from wm_ros.evaluate.summary import finite

# The targets; ``evaluation['targets']`` overrides the thresholds where it has them.
TARGETS: dict[str, tuple[str, str, float]] = {      # key: (label, direction, threshold)
    'pearson': ('Pearson r (imagined vs real, over cells)', '>=', 0.90),
    'mmrv': ('MMRV (mean maximum rank violation) over all cells', '<=', 0.05),
    'mmrv_task_mean': ('MMRV per task over policies (SIMPLER), mean of tasks', '<=', 0.05),
    'mean_abs_gap': ('mean absolute gap (points)', '<=', 0.05),
    'ood_agreement': ('OOD sign agreement', '>=', 0.90),
    'judge_real_accuracy': ('reward model verdicts on real rollouts (per episode)', '>=',
                            0.95),
    'judge_imagined_accuracy': ('reward model verdicts on imagined rollouts (per episode)',
                                '>=', 0.90),
}
CSS = """body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 7px;text-align:right}th{background:#f0f0f0}
td.l,th.l{text-align:left}.met{color:#070;font-weight:bold}.miss{color:#b00;font-weight:bold}
.na{color:#888}.note{color:#666;font-style:italic}img.fig{max-width:100%}
.strip{margin:.6em 0}.strip img{image-rendering:pixelated;height:96px;display:block}
.strip span{font-size:.8em}"""


def verdicts(evaluation: dict) -> dict[str, dict]:
    """Return ``{target: {label, value, direction, threshold, met}}``; met None if no value."""
    summary = evaluation.get('summary') or {}
    judges = evaluation.get('judges') or {}
    values = {'pearson': summary.get('pearson'), 'mmrv': summary.get('mmrv'),
              'mmrv_task_mean': summary.get('mmrv_task_mean'),
              'mean_abs_gap': summary.get('mean_abs_gap'),
              'ood_agreement': (evaluation.get('ood_summary') or {}).get('rate'),
              'judge_real_accuracy': (judges.get('real') or {}).get('accuracy'),
              'judge_imagined_accuracy': (judges.get('imagined') or {}).get('accuracy')}
    given = evaluation.get('targets') or {}
    out = {}
    for key, (label, direction, threshold) in TARGETS.items():
        threshold = float(given.get(key, threshold))
        value = _number(values[key])
        met = None if value is None else bool(
            value >= threshold if direction == '>=' else value <= threshold)
        out[key] = {'label': label, 'value': value, 'direction': direction,
                    'threshold': threshold, 'met': met}
    return out


def write_report(evaluation: dict | None, out_dir: str | Path,
                 evaluation_dir: str | Path | None = None, floor: dict | None = None,
                 sections: tuple[str, ...] = (), extra: dict | None = None
                 ) -> tuple[Path, Path]:
    """
    Write ``report.html`` and ``report.json`` into ``out_dir``; return their paths.

    Strip paths in ``evaluation['strips']`` are relative to ``evaluation_dir`` (default
    ``out_dir``). ``report.json`` holds the evaluation (NaN as null) and the verdicts.
    ``floor``: the suite's noise floor (:mod:`wm_ros.evaluate.floor`), shown after the
    targets and kept in ``report.json`` (without its per-episode records). ``sections``:
    more HTML sections at the end (the RL one: :mod:`wm_ros.evaluate.rl_report`), ``extra``:
    more ``report.json`` entries; ``evaluation`` None: a page of ``sections`` alone.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = Path(evaluation_dir) if evaluation_dir is not None else out
    checks = verdicts(evaluation) if evaluation is not None else {}
    if floor is not None:
        from wm_ros.evaluate.floor import check_suite
        check_suite(floor, evaluation)
        floor = {k: v for k, v in floor.items() if k != 'records'}
    body = [_header(evaluation), _summary(evaluation, checks),
            _floor(floor, evaluation) if floor else '', _cells(evaluation),
            _ood(evaluation), _judges(evaluation), _strips(evaluation, base)
            ] if evaluation is not None else ['<h1>wm_ros report</h1>']
    page = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><title>wm_ros evaluation</title>'
            f'<style>{CSS}</style></head><body>{"".join(body + list(sections))}</body></html>')
    html_path, json_path = out / 'report.html', out / 'report.json'
    html_path.write_text(page)
    json_path.write_text(json.dumps(finite({'evaluation': evaluation, 'targets': checks,
                                            **({'floor': floor} if floor else {}),
                                            **(extra or {})}),
                                    indent=1, allow_nan=False))
    return html_path, json_path


# ----------------------------------------------------------------------------- helpers
def _number(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt(x, kind: str = 'pct') -> str:
    """Format a number: 'pct' (fraction as %), 'pts' (signed points), 'f3', 'int'; else n/a."""
    x = _number(x)
    if x is None:
        return 'n/a'
    return {'pct': f'{100 * x:.0f} %', 'pts': f'{100 * x:+.1f}', 'f3': f'{x:.3f}',
            'int': f'{x:.0f}'}[kind]


def _e(x) -> str:
    return html.escape(str(x))


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    """Return an HTML table; the first ``left`` columns align left (cells are HTML)."""
    cls = [' class="l"' if i < left else '' for i in range(len(head))]
    th = ''.join(f'<th{c}>{_e(h)}</th>' for c, h in zip(cls, head))
    trs = ''.join('<tr>' + ''.join(f'<td{c}>{v}</td>' for c, v in zip(cls, r)) + '</tr>'
                  for r in rows)
    return f'<table><tr>{th}</tr>{trs}</table>'


def _figure(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=100, bbox_inches='tight')
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img class="fig" src="data:image/png;base64,{data}">'


def _missing(what: str) -> str:
    return f'<p class="note">{_e(what)}</p>'


def _empty(title: str, what: str) -> str:
    """Return a section ``title`` that says what it is missing."""
    return f'<h2>{title}</h2>' + _missing(what)


def _distinct(rows: list[dict], key: str) -> list:
    """Return the values of ``key`` in ``rows``, each once, in the order they first come."""
    return list(dict.fromkeys(r[key] for r in rows))


def _header(ev: dict) -> str:
    config = ev.get('config') or {}
    rows = [[_e(k), _e(', '.join(map(str, v)) if isinstance(v, list) else v)]
            for k, v in config.items()]
    timing = ev.get('timing') or {}
    trows = [[_e(k), _e(fmt(v, 'f3') if isinstance(v, float) else v)] for k, v in timing.items()]
    return ('<h1>World-model evaluation: imagined vs real</h1>'
            + ('<h2>Configuration</h2>' + _table(['setting', 'value'], rows, 2) if rows
               else _missing('no configuration in this evaluation'))
            + ('<h2>Timing</h2>' + _table(['timing', 'value'], trows, 2) if trows else ''))


def _summary(ev: dict, checks: dict) -> str:
    rows = []
    for key, c in checks.items():
        kind = 'pts' if key == 'mean_abs_gap' else 'pct' if 'accuracy' in key or \
            key == 'ood_agreement' else 'f3'
        value = fmt(c['value'], kind).lstrip('+') if kind == 'pts' else fmt(c['value'], kind)
        shown = f'{100 * c["threshold"]:.0f}' if kind == 'pts' else fmt(c['threshold'], kind)
        verdict = ('<span class="na">n/a</span>' if c['met'] is None else
                   '<span class="met">met</span>' if c['met'] else
                   '<span class="miss">not met</span>')
        rows.append([_e(c['label']), value, f'{_e(c["direction"])} {shown}', verdict])
    summary = ev.get('summary') or {}
    extra = f'Spearman {fmt(summary.get("spearman"), "f3")}, {fmt(summary.get("cells"), "int")}' \
        f' cells; OOD pairs scored {fmt((ev.get("ood_summary") or {}).get("pairs"), "int")}.'
    return '<h2>Summary against the targets</h2>' + _table(
        ['number', 'value', 'target', 'verdict'], rows) + f'<p>{_e(extra)}</p>'


def _floor(floor: dict, ev: dict) -> str:
    from wm_ros.evaluate.floor import figures
    config = ev.get('config') or {}
    rows = []
    for n, sides in floor['sizes'].items():
        model = figures(ev.get('episodes') or [], config, int(n))      # this evaluation's
        for name, f in (('tabletop twin', sides['twin']), ('this world model', model)):
            rows.append([_e(n), name, fmt(f['pearson'], 'f3'), fmt(f['mmrv'], 'f3'),
                         fmt(f['mmrv_task_mean'], 'f3'),
                         fmt(f['mean_abs_gap'], 'pts').lstrip('+'),
                         fmt(f['episode_agreement'], 'pct')])
    text = ('The tabletop rerun from every start with each block moved by N(0, '
            f"{1000 * floor['jitter_m']:.1f} mm), scored against the real outcomes as "
            'imagination is: what a perfect world model reading the scene from a camera '
            'would get on this suite. Gap in points.')
    return ('<h2>Noise floor of this suite</h2>' + f'<p>{_e(text)}</p>' + _table(
        ['episodes per cell', 'predictor', 'Pearson', 'MMRV', 'MMRV per task', 'mean |gap|',
         'episodes agreeing'], rows, 2))


def _cells(ev: dict) -> str:
    cells = ev.get('cells') or []
    if not cells:
        return _empty('Imagined vs real success', 'no cells in this evaluation')
    from matplotlib.figure import Figure
    policies, tasks = _distinct(cells, 'policy'), _distinct(cells, 'task')
    colours = {p: f'C{i % 10}' for i, p in enumerate(policies)}
    markers = {t: 'osD^vP*Xph'[i % 10] for i, t in enumerate(tasks)}
    fig = Figure(figsize=(6.4, 5.6))
    ax = fig.subplots()
    ax.plot([0, 100], [0, 100], 'k--', lw=1, label='y = x')
    for c in cells:
        x, y = _number(c.get('real')), _number(c.get('imagined'))
        if x is None or y is None:
            continue
        xe, ye = _err(x, c.get('real_ci')), _err(y, c.get('imagined_ci'))
        ax.errorbar(100 * x, 100 * y, xerr=xe, yerr=ye, fmt=markers[c['task']],
                    color=colours[c['policy']], ms=7, capsize=2, lw=1, alpha=.85)
    for p in policies:
        ax.plot([], [], '-', lw=5, color=colours[p], label=p)
    for t in tasks:
        ax.plot([], [], markers[t], color='gray', label=t)
    ax.set(xlim=(-3, 103), ylim=(-3, 103), xlabel='real success % (tabletop oracle)',
           ylabel='imagined success % (reward model)', aspect='equal',
           title='one point per policy x task, 95 % intervals')
    ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.02, 1))
    rows = [[_e(c['policy']), _e(c['task']), fmt(c.get('n'), 'int'),
             f'{fmt(c.get("real"))} {_ci(c.get("real_ci"))}', fmt(c.get('real_judged')),
             f'{fmt(c.get("imagined"))} {_ci(c.get("imagined_ci"))}',
             fmt(c.get('imagined_state')), fmt(c.get('gap'), 'pts')] for c in cells]
    table = _table(['policy', 'task', 'n', 'real', 'real, judged', 'imagined',
                    'imagined-state judge', 'gap (pts)'], rows, 2)
    return ('<h2>Imagined vs real success</h2>' + _figure(fig) + _bars(cells, policies, tasks)
            + table)


def _err(x: float, ci, default=None) -> np.ndarray | None:
    """Return matplotlib's ``float[2, 1]`` (points) below/above ``x`` from ``ci``."""
    lo, hi = (_number(v) for v in (ci or [None, None]))
    if lo is None or hi is None:
        return default
    return 100 * np.array([[max(x - lo, 0.0)], [max(hi - x, 0.0)]])


def _ci(ci) -> str:
    lo, hi = (_number(v) for v in (ci or [None, None]))
    return '' if lo is None or hi is None else f'[{100 * lo:.0f}, {100 * hi:.0f}]'


def _bars(cells: list[dict], policies: list[str], tasks: list[str]) -> str:
    from matplotlib.figure import Figure
    fig = Figure(figsize=(min(3.2 * len(tasks), 11), 3.6))
    axes = np.atleast_1d(fig.subplots(1, len(tasks), sharey=True))
    x = np.arange(len(policies))
    for ax, task in zip(axes, tasks):
        by = {c['policy']: c for c in cells if c['task'] == task}
        for shift, key, label in ((-0.2, 'real', 'real'), (0.2, 'imagined', 'imagined')):
            v = [_number(by.get(p, {}).get(key)) for p in policies]
            err = np.hstack([np.zeros((2, 1)) if a is None else
                             _err(a, by.get(p, {}).get(f'{key}_ci'), np.zeros((2, 1)))
                             for a, p in zip(v, policies)])
            v = [np.nan if a is None else 100 * a for a in v]
            ax.bar(x + shift, v, 0.4, yerr=err, capsize=2, label=label,
                   color='C2' if key == 'real' else 'C4', error_kw={'lw': 0.8})
        ax.set_xticks(x, policies, rotation=40, ha='right', fontsize=7)
        ax.set_title(task, fontsize=9)
        ax.set_ylim(0, 100)
    axes[0].set_ylabel('success %')
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return _figure(fig)


def _ood(ev: dict) -> str:
    rows = ev.get('ood') or []
    if not rows:
        return _empty('Out-of-distribution edits', 'no OOD edits in this evaluation')
    from matplotlib.figure import Figure
    policies, edits = _distinct(rows, 'policy'), _distinct(rows, 'edit')
    grid = np.full((2, len(policies), len(edits)), np.nan)
    agree = {}
    for r in rows:
        i, j = policies.index(r['policy']), edits.index(r['edit'])
        for k, key in enumerate(('real_change', 'imagined_change')):
            value = _number(r.get(key))
            grid[k, i, j] = np.nan if value is None else 100 * value
        agree[i, j] = r.get('agree')
    fig = Figure(figsize=(min(3.0 + 2.4 * len(edits), 12), 2.4 + 0.5 * len(policies)))
    axes = fig.subplots(1, 2, sharey=True)
    lim = max(np.nanmax(np.abs(grid)) if np.isfinite(grid).any() else 0, 10)
    for k, (ax, title) in enumerate(zip(axes, ('real change (pts)', 'imagined change (pts)'))):
        im = ax.imshow(grid[k], cmap='RdBu', vmin=-lim, vmax=lim, aspect='auto')
        ax.set_xticks(range(len(edits)), edits, rotation=30, ha='right', fontsize=8)
        ax.set_yticks(range(len(policies)), policies, fontsize=8)
        ax.tick_params(labelleft=k == 0)
        ax.set_title(title, fontsize=9)
        for (i, j), a in np.ndenumerate(grid[k]):
            mark = '' if k == 0 else {True: ' ✓', False: ' ✗'}.get(agree.get((i, j)), ' –')
            ax.text(j, i, ('n/a' if np.isnan(a) else f'{a:+.0f}') + mark, ha='center',
                    va='center', fontsize=9, color='w' if abs(a) > 0.6 * lim else 'k')
    fig.colorbar(im, ax=list(axes), shrink=0.8)
    s = ev.get('ood_summary') or {}
    table = _table(['policy', 'edit', 'task', 'n', 'real base', 'real edit', 'imagined base',
                    'imagined edit', 'real change', 'imagined change', 'agree'],
                   [[_e(r['policy']), _e(r['edit']), _e(r.get('task', '')),
                     fmt(r.get('n'), 'int')] +
                    [fmt(r.get(k)) for k in ('real_base', 'real_edit', 'imagined_base',
                                             'imagined_edit')] +
                    [fmt(r.get('real_change'), 'pts'), fmt(r.get('imagined_change'), 'pts'),
                     {True: 'yes', False: 'no'}.get(r.get('agree'), 'n/a (|real| small)')]
                    for r in rows], 3)
    note = (f'Sign agreement on {fmt(s.get("agree"), "int")} of {fmt(s.get("pairs"), "int")} '
            f'pairs whose real change exceeds 10 points: {fmt(s.get("rate"))}. '
            '✓ agree, ✗ disagree, – real change too small to score.')
    return '<h2>Out-of-distribution edits</h2>' + _figure(fig) + f'<p>{_e(note)}</p>' + table


def _judges(ev: dict) -> str:
    judges = {k: v for k, v in (ev.get('judges') or {}).items() if v}
    if not judges:
        return _empty('Reward model as judge', 'no judge statistics')
    from matplotlib.figure import Figure
    refs = {'real': 'tabletop oracle', 'imagined': 'imagined-state judge'}
    fig = Figure(figsize=(3.4 * len(judges), 3.2))
    axes = np.atleast_1d(fig.subplots(1, len(judges)))
    rows = []
    for ax, (name, j) in zip(axes, judges.items()):
        m = np.array([[_number(j.get('tp')), _number(j.get('fn'))],
                      [_number(j.get('fp')), _number(j.get('tn'))]], dtype=float)
        ax.imshow(np.nan_to_num(m), cmap='Blues')
        for (i, k), v in np.ndenumerate(m):
            ax.text(k, i, 'n/a' if np.isnan(v) else f'{v:.0f}', ha='center', va='center',
                    fontsize=11, color='k' if np.isnan(v) or v < np.nanmax(m) / 2 else 'w')
        ax.set_xticks([0, 1], ['judged success', 'judged failure'], fontsize=8)
        ax.set_yticks([0, 1], ['success', 'failure'], fontsize=8)
        ax.set_ylabel(f'reference: {refs.get(name, name)}', fontsize=8)
        ax.set_title(f'{name} rollouts', fontsize=9)
        rows.append([_e(name), _e(refs.get(name, '')), fmt(j.get('accuracy')),
                     fmt(j.get('fpr')), fmt(j.get('fnr'))])
    fig.tight_layout()
    return '<h2>Reward model as judge</h2>' + _figure(fig) + _table(
        ['rollouts', 'reference', 'accuracy', 'false-positive rate', 'false-negative rate'],
        rows, 2)


def _strips(ev: dict, base: Path) -> str:
    strips = ev.get('strips') or []
    if not strips:
        return _empty('Rollout strips', 'no rollout strips in this evaluation')
    parts = ['<h2>Rollout strips: real (top) | imagined (bottom)</h2>']
    for s in strips:
        ok = {True: 'success', False: 'failure'}
        label = (f'{s.get("policy")} / {s.get("task")} / episode {s.get("episode")}: '
                 f'real {ok.get(s.get("real_success"), "n/a")}, imagined '
                 f'{ok.get(s.get("imagined_success"), "n/a")}')
        if s.get('instruction'):
            label += f' — "{s["instruction"]}"'
        imgs = ''
        for side in ('real', 'imagined'):
            path = base / s[side] if s.get(side) else None
            if path is not None and path.is_file():
                data = base64.b64encode(path.read_bytes()).decode()
                imgs += f'<img alt="{side}" src="data:image/png;base64,{data}">'
            else:
                imgs += f'<span class="note">{side}: no image ({_e(s.get(side, "none"))})</span>'
        parts.append(f'<div class="strip"><span>{_e(label)}</span>{imgs}</div>')
    return ''.join(parts)
