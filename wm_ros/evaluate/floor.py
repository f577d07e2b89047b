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
The noise floor of an evaluation suite: what a perfect world model would score on it.

``wm-ros eval floor --real-from DIR`` reruns the tabletop side of an earlier
``wm-ros evaluate`` from every start with each block moved by N(0, ``jitter``) m, the
same moves for every policy. This *twin* stands in for imagination: the same physics, the
same policies, the same judge (the physics check), only a start read to within
``jitter``, which is how well a camera reads a scene. Its success per policy x task
against the real one gives the figures no world model can beat on this suite: Pearson,
MMRV (pooled, and SIMPLER's per task), mean absolute gap, and how often the two outcomes
of an episode agree. They are computed on the first ``n`` episodes of every cell for each
requested ``n``, beside the world model's own figures on the same episodes.

A pushing task is chaotic in millimetres of the start (``wm-ros eval closed-loop`` shows
it open loop); closed loop, the policies feed back, but every outcome near the success
threshold still goes either way: those cells' success is a noisy estimate at 25 episodes
whatever predicts it.
"""

from __future__ import annotations

from dataclasses import replace
import json
import os
from pathlib import Path
import time

import numpy as np

from wm_ros.evaluate import summary
from wm_ros.evaluate.evaluator import EvalConfig, reuse_real, run_tabletop, starts

JITTER_M = 0.001        # a camera's read of the scene (the shipped model's median 0.6 mm)


def _load(path: str | Path) -> tuple[Path, dict]:
    path = summary.evaluation_file(path)
    if not path.is_file():
        raise FileNotFoundError(f'no evaluation at {path}: run `wm-ros evaluate --out DIR` '
                                'first and pass that DIR')
    return path, json.loads(path.read_text())


def figures(records: list[dict], config: dict, n: int) -> dict:
    """Return the agreement figures of the first ``n`` episodes of every cell."""
    rows = [r for r in records if r['k'] < n]
    result = summary.summarise(rows, config, {})
    out = {k: result['summary'][k] for k in ('pearson', 'spearman', 'mmrv', 'mmrv_task_mean',
                                             'mean_abs_gap', 'cells')}
    out['episode_agreement'] = float(np.mean([r['real'] == r['imagined'] for r in rows]))
    return out


def noise_floor(real_from: str | Path, model: str, jitter_m: float = JITTER_M,
                sizes: tuple[int, ...] = (25,), workers: int = 0) -> dict:
    """
    Rerun ``real_from``'s tabletop suite from jittered starts and score it as imagination.

    Returns ``{'real_from', 'jitter_m', 'episodes', 'tabletop_s', 'sizes': {n: {'twin':
    figures, 'world_model': figures}}, 'records': [...]}``: per ``n`` (<= the suite's
    episodes) the twin's figures and the evaluated world model's on the same episodes.
    ``model`` is loaded only by policies that perceive through it (and ``--view redrawn``).
    ``jitter_m`` 0 replays the suite exactly (the tabletop is deterministic: gap 0).
    """
    path, old = _load(real_from)
    was = old.get('config', {})
    episodes = int(was.get('episodes', 0))
    bad = [n for n in sizes if not 0 < n <= episodes]
    if bad:
        raise ValueError(f'{path} has {episodes} episodes per cell; sizes {bad} are not '
                         f'in 1..{episodes}')
    config = EvalConfig(policies=tuple(was['policies']), tasks=tuple(was['tasks']),
                        episodes=episodes, seed=int(was['seed']),
                        max_steps=int(was['max_steps']),
                        max_steps_long=int(was['max_steps_long']),
                        view=was.get('view', 'camera'), workers=workers)
    from wm_ros.runtime import load_runtime
    size = load_runtime(model, 'onnxruntime', threads=1).image_size
    group = starts(config, size)
    jobs = [(p, s) for p in config.policies for s in group]
    real = reuse_real(path, config, was['reward'], jobs)
    t0 = time.perf_counter()
    twin = run_tabletop(jobs, model, was['reward'], size, replace(config, jitter_m=jitter_m),
                        workers or os.cpu_count() or 1)
    seconds = time.perf_counter() - t0
    records = [summary.record(p, s, r, t) for (p, s), r, t in zip(jobs, real, twin)]
    cells = {'policies': list(config.policies), 'tasks': list(config.tasks),
             'seed': config.seed}
    model_rows = old.get('episodes', [])
    return {'real_from': str(path), 'jitter_m': jitter_m, 'episodes': episodes,
            'tabletop_s': seconds,
            'sizes': {n: {'twin': figures(records, cells, n),
                          'world_model': figures(model_rows, cells, n)} for n in sizes},
            'records': records}


def table(result: dict) -> str:
    """Return the twin's and the world model's figures per size as a text table."""
    head = (f"noise floor of {result['real_from']}: tabletop twin from starts moved by "
            f"N(0, {result['jitter_m'] * 1000:.1f} mm) vs the real tabletop")
    lines = [head, f"{'episodes':>8} {'predictor':<12} {'Pearson':>8} {'MMRV':>6} "
             f"{'SIMPLER':>8} {'gap':>5} {'agree':>6}"]
    for n, sides in result['sizes'].items():
        for name, key in (('twin', 'twin'), ('world model', 'world_model')):
            f = sides[key]
            lines.append(f"{n:>8} {name:<12} {f['pearson']:8.3f} {f['mmrv']:6.3f} "
                         f"{f['mmrv_task_mean']:8.3f} {100 * f['mean_abs_gap']:5.1f} "
                         f"{100 * f['episode_agreement']:5.1f}%")
    lines.append('gap in points; agree: episodes whose two outcomes agree. No world model '
                 'read from a camera can expect to beat the twin.')
    return '\n'.join(lines)


def write(result: dict, out: str | Path) -> Path:
    """Write ``result`` as ``floor.json`` under ``out``; return its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / 'floor.json'
    path.write_text(json.dumps(summary.finite(result), indent=1))
    return path


def load(path: str | Path) -> dict:
    """Read a ``floor.json`` (or the directory holding it) written by :func:`write`."""
    path = Path(path)
    path = path / 'floor.json' if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f'no noise floor at {path}: run `wm-ros eval floor '
                                '--real-from EVALUATION --out DIR` and pass that DIR')
    return json.loads(path.read_text())


def check_suite(result: dict, evaluation: dict) -> None:
    """Raise ValueError unless ``result`` was measured on ``evaluation``'s episodes."""
    def keys(rows):
        return {(r['policy'], r['task'], r['k'], r['seed']) for r in rows}
    if keys(result.get('records', [])) != keys(evaluation.get('episodes', [])):
        raise ValueError('the noise floor was measured on the suite of '
                         f"{result.get('real_from')}, not on this evaluation's episodes: "
                         'run `wm-ros eval floor --real-from` on this evaluation')
