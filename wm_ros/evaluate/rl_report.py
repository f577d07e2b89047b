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
The RL section of ``wm-ros report --rl DIR``: learning curve and before/after table.

:func:`section` renders an ``rl_eval.json`` (:mod:`wm_ros.evaluate.rl`) as HTML for the
report page (:func:`wm_ros.evaluate.report.write_report` ``sections``): the imagined
success of the mean policy against update steps (the run's held-out imagined starts,
``rl.json``'s history), the sampled policy's training success, and the tabletop's real
success before (update 0) and after (the last update) with 95 % intervals; then the table
per family with the exploit gap and the verdict. The figure is an embedded PNG sized to
stay legible on a 390 px wide screen; the table scrolls sideways there.
"""

from __future__ import annotations

import numpy as np

from wm_ros.evaluate.report import _e, _figure, _table

VERDICT_CLASS = {'improved': 'met', 'EXPLOITATION': 'miss', 'not improved': 'na'}


def _pct(r: dict) -> str:
    lo, hi = r['wilson_pct']
    return f"{r['pct']:.0f} % [{lo:.0f}, {hi:.0f}]"


def figure(result: dict) -> str:
    """Return the learning curve as an embedded PNG (``<img>``)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    c, last = result['curve'], result['updates']
    fig = Figure(figsize=(4.6, 3.6))
    ax = fig.subplots()
    ax.plot(c['train_updates'], c['train_success_pct'], ':', color='gray', lw=1,
            label='sampled policy, training starts')
    for i, (family, ys) in enumerate(c['families'].items()):
        ax.plot(c['updates'], [np.nan if y is None else y for y in ys], '-', lw=0.8,
                alpha=0.5, color=f'C{i}', label=f'imagined, {family}')
    ax.plot(c['updates'], [np.nan if y is None else y for y in c['mean_pct']], 'k-o', ms=3,
            label='mean policy, imagined (held-out starts)')
    for i, (family, row) in enumerate(result['families'].items()):
        for x, side in ((0, 'real_before'), (last, 'real_after')):
            r = row[side]
            err = [[r['pct'] - r['wilson_pct'][0]], [r['wilson_pct'][1] - r['pct']]]
            ax.errorbar(x + (i - 1.5) * 0.02 * max(last, 1), r['pct'], yerr=err, fmt='s',
                        color=f'C{i}', ms=5, capsize=2, lw=0.8,
                        label=f'real, {family}' if side == 'real_before' else None)
    ax.set(xlabel='update', ylabel='success %', ylim=(-3, 103),
           title='imagined (lines) and real (squares)')
    ax.title.set_fontsize(10)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc='upper center', bbox_to_anchor=(0.5, -0.18), ncol=1)
    return _figure(fig)


def table(result: dict) -> str:
    """Return the before/after table per family (HTML), mean last."""
    rows = []
    for family, r in result['families'].items():
        lo, hi = r['real_change_ci_pts']
        verdict = f'<span class="{VERDICT_CLASS[r["verdict"]]}">{_e(r["verdict"])}</span>'
        rows.append([_e(family), _pct(r['real_before']), _pct(r['real_after']),
                     f"{r['real_change_pts']:+.1f} [{lo:+.0f}, {hi:+.0f}]",
                     _pct(r['imagined_before']), _pct(r['imagined_after']),
                     f"{r['gap_after_pts']:+.1f}", verdict])
    m = result['mean']
    rows.append(['mean', f"{m['real_before']:.1f} %", f"{m['real_after']:.1f} %",
                 f"{m['real_change_pts']:+.1f}", f"{m['imagined_before']:.1f} %",
                 f"{m['imagined_after']:.1f} %", f"{m['gap_after_pts']:+.1f}", ''])
    head = ['family', 'real before', 'real after', 'real change (95 %)', 'imagined before',
            'imagined after', 'gap after (imagined - real)', 'verdict']
    return f'<div style="overflow-x:auto">{_table(head, rows)}</div>'


def section(result: dict) -> str:
    """Return the report's RL section: text, learning curve, table."""
    text = (f"{_e(result['base'])} fine-tuned in imagination ({result['updates']} updates, "
            f"judge: {_e(result['judge'])}) into {_e(result['run'])}. Real: "
            f"{result['episodes_per_family']} tabletop episodes per family and side from seed "
            f"{result['seed']}, never used for training or tuning; imagined before/after in "
            'the table: the same starts in the world model the run trained in. Robot '
            f"episodes used in training: {result['robot_episodes_used']}. Intervals: 95 % "
            '(Wilson; the change: Newcombe). EXPLOITATION: imagined success rose by 10 points '
            'or more while real success did not rise.')
    return ('<h2>Policy improvement in imagination (RL)</h2>'
            f'<p>{text}</p>{figure(result)}{table(result)}')
