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
The checks of ``wm-ros eval fidelity``, and why a figure or a check is not there.

A figure that cannot be computed (the data has no labels, the model family reads no
objects out, no object moved, ...) is NaN in the report and named, with its reason, in
its horizon's ``not_computed``; a check that needs it is *not checked* (``None`` in
``acceptance``, the reason in ``not_checked``), never failed. One exception: a model error
that is undefined because every such object vanished from the prediction fails its checks
(the error is as large as it gets).
"""

from __future__ import annotations

import math

BY_LABELS = 'labels (/sim/block_poses; each block found by its colour in every frame)'
BY_DISCOVERY = ('discovery (wm_ros.model.discover) on the real and the predicted frames, as '
                'the data has no object labels (no /sim/block_poses, or read with --topics)')
NO_LABELS = 'the data has no object labels (no /sim/block_poses, or read with --topics)'
NO_READOUT = 'the model family reads no objects out (no kinds to compare)'
NO_UNCERTAINTY = 'the model family gives no uncertainty'
ALL_VANISHED = 'every such object vanished from the prediction'
READOUT_KEYS = ('uncertainty_spearman_state_error', 'state_error_median_pct', 'kind_miss_rate',
                'reencode_kind_accuracy', 'drawn_kind_legibility')
NEEDS_LABELS = READOUT_KEYS[:4]
OBJECT_KEYS = ('object_error_median_pct', 'object_error_copy_last_median_pct', 'vanish_rate')
MOVED_KEYS = ('moved_error_median_pct', 'moved_error_copy_last_median_pct',
              'moved_error_mean_pct', 'vanish_rate_moved')
MODEL_ERRORS = ('object_error_median_pct', 'moved_error_median_pct', 'moved_error_mean_pct')

# name: ((horizon, figure), ...), rule on those figures
CHECKS = {
    'psnr_gain_h8_ge_3db': (((8, 'psnr'), (8, 'psnr_copy_last')), lambda m, c: m - c >= 3.0),
    'ee_error_h16_lt_5pct': (((16, 'ee_error_pct'),), lambda e: e < 5.0),
    'vanish_h16_le_2pct': (((16, 'vanish_rate'),), lambda v: v <= 0.02),
    'moved_ratio_h8_le_0.7': (((8, 'moved_error_median_pct'),
                               (8, 'moved_error_copy_last_median_pct')),
                              lambda m, c: m <= 0.7 * c),
    'moved_ratio_h16_le_0.7': (((16, 'moved_error_median_pct'),
                                (16, 'moved_error_copy_last_median_pct')),
                               lambda m, c: m <= 0.7 * c),
    'target_moved_h16_lt_5pct': (((16, 'moved_error_median_pct'),), lambda m: m < 5.0),
    # issue 8: what a pixel policy or judge sees in imagination
    'moved_h16_le_3pct': (((16, 'moved_error_median_pct'),), lambda m: m <= 3.0),
    'psnr_gain_h16_ge_3db': (((16, 'psnr'), (16, 'psnr_copy_last')), lambda m, c: m - c >= 3.0),
    'psnr_h1_ge_copy_last': (((1, 'psnr'), (1, 'psnr_copy_last')), lambda m, c: m >= c),
    'drawn_kind_h1_ge_97pct': (((1, 'drawn_kind_legibility'),), lambda v: v >= 0.97),
    'reencode_true_kind_h1_ge_97pct': (((1, 'reencode_kind_accuracy'),), lambda v: v >= 0.97),
}


def why(key: str, h: int, row: dict, labelled: bool, readout: bool, uncertain: bool) -> str:
    """Return why figure ``key`` of horizon ``h``'s ``row`` is undefined (NaN)."""
    if key in READOUT_KEYS and not readout:
        return NO_READOUT
    if key.startswith('uncertainty') and not uncertain:
        return NO_UNCERTAINTY
    if key in NEEDS_LABELS and not labelled:
        return NO_LABELS
    if key in OBJECT_KEYS + MOVED_KEYS and not row.get('blocks'):
        return ('no block could be located (none has a colour of its own in its scene)'
                if labelled else 'discovery found no object in the real frames')
    if key in MOVED_KEYS and not row.get('moved_blocks'):
        return f'no object moved more than 1 cm within {h} steps'
    if key in MODEL_ERRORS:
        return ALL_VANISHED
    if key.startswith('uncertainty'):
        return 'Spearman is undefined: under 3 samples, or a constant uncertainty or error'
    if key == 'drawn_kind_legibility':
        return 'the model holds no object in its predicted states'
    if key == 'state_error_median_pct':
        return 'the model holds no block under its true kind'
    return 'undefined on these samples'


def _figure(report: dict, horizons, h: int, key: str) -> tuple[float, str]:
    """Return (value, '') or (NaN, why it is not there) for a check's figure."""
    row = report['horizons'].get(h)
    if row is None:
        return math.nan, (f'no {h}-step predictions: no start has {h} recorded steps after it'
                          if h in horizons else f'horizon {h} was not evaluated')
    value = row.get(key, math.nan)
    if math.isfinite(value):
        return value, ''
    reason = row.get('not_computed', {}).get(key, 'undefined')
    return (math.inf, '') if reason == ALL_VANISHED else (math.nan, f'{key} at {h}: {reason}')


def checks(report: dict, horizons) -> tuple[dict, dict]:
    """
    Return ``(acceptance, not_checked)`` for ``report``.

    ``acceptance`` maps each check to True or False, or None where a figure it needs is
    undefined; ``not_checked`` maps those to the reason.
    """
    acceptance, not_checked = {}, {}
    for name, (needs, rule) in CHECKS.items():
        got = [_figure(report, horizons, h, key) for h, key in needs]
        missing = [reason for _, reason in got if reason]
        acceptance[name] = None if missing else bool(rule(*(v for v, _ in got)))
        if missing:
            not_checked[name] = missing[0]
    return acceptance, not_checked


def verdicts(report: dict) -> dict:
    """Return each check as True, False or ``'not checked (reason)'``."""
    return {name: ok if ok is not None else f'not checked ({report["not_checked"][name]})'
            for name, ok in report['acceptance'].items()}


def notes(report: dict) -> list[str]:
    """Return how objects were measured, then one line per reason that figures are n/a."""
    lines = [f'objects measured by {report["objects_measured_by"]}']
    by_reason: dict[str, tuple[list, list]] = {}
    for h, row in report['horizons'].items():
        for key, reason in row.get('not_computed', {}).items():
            keys, hs = by_reason.setdefault(reason, ([], []))
            if key not in keys:
                keys.append(key)
            if h not in hs:
                hs.append(h)
    for reason, (keys, hs) in by_reason.items():
        lines.append(f'n/a at horizon {", ".join(map(str, hs))}: {", ".join(keys)}: {reason}')
    return lines
