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
``wm-ros eval planner``: the hierarchical planner against flat MPC and a flat learned policy.

For each suite and episode k a fixed tabletop seed gives a scene and instruction; every
method runs from it on the tabletop (the "real robot", physics success check) until the
instruction holds, the method gives up, or the step limit (``max_steps_long`` for every
suite here, 400 by default, as the tabletop's long tasks):

* ``hierarchical``: :class:`~wm_ros.plan.planner.HierarchicalPlanner` (sub-goals + MPC);
* ``flat_mpc``: the same planner with ``hierarchical: false`` (MPC on each whole task);
* ``policy:NAME``: a policy-zoo policy acting on the instruction and frames (``best``
  picks the zoo policy with the highest stored real success on that suite's families).

Suites: the long families ``group_by_colour`` and ``make_line`` (the tabletop's own
instructions) and ``two_step``: a block_to_region scene with "push A to the R, then put
B next to C" (both must hold at the end). Episodes run in ``workers`` processes.
Writes ``planner.json`` (every episode) and ``planner.md``.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from functools import lru_cache
import json
import multiprocessing
from pathlib import Path
import time

import numpy as np

from wm_ros.evaluate.metrics import bootstrap_ci
from wm_ros.sim.tasks import NEXT_TO, Task

SUITES = ('group_by_colour', 'make_line', 'two_step')
METHODS = ('hierarchical', 'flat_mpc', 'policy:best')
BOARD_HALF = 0.25


def suite_seed(seed: int, suite: str, k: int) -> int:
    """Return the tabletop seed of episode ``k`` of ``suite`` (fixed for ``seed``)."""
    return int(np.random.SeedSequence([seed, SUITES.index(suite), k]).generate_state(1)[0])


def two_step(scene, first: Task) -> list[Task]:
    """Return [first, "put B next to C"] for two blocks of ``scene`` not named by ``first``."""
    others = [n for n in scene.names if n not in first.blocks]
    xy = {b.name: np.array([b.x, b.y]) for b in scene.blocks}
    for i, b in enumerate(others):
        for c in others[i + 1:]:
            if np.linalg.norm(xy[b] - xy[c]) > NEXT_TO:
                text = f'put the {b} next to the {c}'
                return [first, Task('block_to_block', text, (b, c))]
    raise ValueError('no pair of free blocks to put next to each other')


def best_policy(families: tuple[str, ...]) -> str:
    """Return the zoo policy with the highest stored real success over ``families``."""
    from wm_ros.policy.zoo import models_dir
    best, score = '', -1.0
    for path in sorted(models_dir().glob('*/policy.json')):
        name, meta = path.parent.name, json.loads(path.read_text())
        fam = (meta.get('real_success') or {}).get('families', {})
        s = np.mean([fam.get(f, {}).get('success_pct', 0.0) for f in families])
        if s > score:
            best, score = name, s
    return best


def load_judge(path: str):
    """
    Return the reward model at ``path`` for the planner (None for '').

    Torch then runs on one thread, like the planner's runtime: the planner shares the
    host with the tabletop or the robot's other processes, and an oversubscribed torch is
    many times slower than a single thread.
    """
    if not path:
        return None
    import torch
    from wm_ros.reward.classifier import SuccessClassifier
    torch.set_num_threads(1)
    return SuccessClassifier.load(path)


class TabletopRunner:
    """The tabletop and the world-model runtime of one process."""

    def __init__(self, model: str, backend: str, planner_section: str, max_steps: int,
                 detector: str = '', judge: str = ''):
        from wm_ros.plan import detector as block_detector
        from wm_ros.plan.planner import load_config
        from wm_ros.runtime import load_runtime
        from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
        self.runtime = load_runtime(model, backend, threads=1)
        self.detector = block_detector.load(detector) if detector else None
        self.judge = load_judge(judge)
        rt = self.runtime
        self.config = load_config(planner_section)
        self.max_steps = max_steps
        self.env = TabletopEnv(TabletopConfig(
            image_size=rt.image_size, control_hz=rt.control_hz, max_speed=rt.max_speed,
            board_half=BOARD_HALF, max_steps=max_steps, max_steps_long=max_steps))

    def reset(self, suite: str, seed: int, instruction: str = ''
              ) -> tuple[dict, list[Task], str]:
        """Start an episode; ``instruction`` replaces the suite's (its tasks then unknown)."""
        family = 'block_to_region' if suite == 'two_step' else suite
        obs, _ = self.env.reset(seed=seed, options={'task': family})
        tasks = two_step(self.env.scene, self.env.task) if suite == 'two_step' \
            else [self.env.task]
        if instruction:
            return obs, [], instruction
        return obs, tasks, ', then '.join(t.instruction for t in tasks)

    def solved(self, tasks: list[Task]) -> bool:
        """Return whether every task holds on the physics state (False for none)."""
        xy = self.env.block_states()[:, :2]
        return bool(tasks) and all(t.success(self.env.scene, xy, BOARD_HALF) for t in tasks)

    def run(self, suite: str, k: int, method: str, seed: int, instruction: str = '',
            recorder=None) -> dict:
        """Run one episode; ``recorder(obs, planner)`` is called after every step."""
        from wm_ros.interfaces import Observation
        from wm_ros.plan.planner import HierarchicalPlanner, PlanRefused
        start = time.perf_counter()
        obs, tasks, instruction = self.reset(suite, seed, instruction)
        record = {'suite': suite, 'k': k, 'method': method, 'seed': seed,
                  'instruction': instruction, 'subgoals': [], 'message': ''}
        planner = policy = None
        if method in ('hierarchical', 'flat_mpc'):
            cfg = replace(self.config, hierarchical=method == 'hierarchical',
                          video=recorder is not None)
            planner = HierarchicalPlanner(self.runtime, cfg, detector=self.detector,
                                          judge=self.judge)
            try:
                record['subgoals'] = [s.text for s in planner.start(
                    instruction, obs['image'], obs['ee_xy'])]
            except PlanRefused as exc:
                record['message'] = f'refused: {exc}'
        else:
            from wm_ros.policy.zoo import load_policy
            policy = load_policy(method.split(':', 1)[1])
            policy.set_task(self.env.scene, tasks[0])
        steps, success = 0, self.solved(tasks)
        while not success and steps < self.max_steps and not record['message']:
            if planner is not None:
                a = planner.act(obs['image'], obs['ee_xy'])
                if planner.done or planner.failed:
                    record['message'] = planner.status()['message']
            else:
                a = policy.act(Observation(obs['image'], obs['ee_xy'], instruction, steps))
            obs, _, _, _, _ = self.env.step(np.asarray(a, np.float32))
            steps += 1
            success = self.solved(tasks)
            if recorder is not None:
                recorder(obs, planner)
        if planner is not None and not tasks:     # a free instruction: the planner's verdict
            success = planner.done
        record.update(success=bool(success), steps=steps, seconds=time.perf_counter() - start)
        if planner is not None:
            record.update(plans=planner.plans, plan_ms_median=1000 * float(
                np.median(planner.plan_seconds)) if planner.plan_seconds else 0.0,
                retries=planner.retries, rejudged=planner.rejudged, judged=planner.judged)
        return record


@lru_cache(maxsize=1)
def _runner(*args) -> TabletopRunner:
    return TabletopRunner(*args)


def _run(runner_args: tuple, job: tuple) -> dict:
    return _runner(*runner_args).run(*job)


def evaluate(model: str, backend: str = 'onnxruntime', suites=SUITES, methods=METHODS,
             episodes: int = 25, seed: int = 2000, max_steps: int = 400,
             planner_section: str = 'default', workers: int = 2, detector: str = '',
             judge: str = '') -> dict:
    """
    Run every method on every suite's episodes; return the report dict.

    ``detector``: read blocks with this detector directory instead of the model's read-out;
    ``judge``: a reward model directory that re-ranks the planner's candidates.
    """
    for s in suites:
        if s not in SUITES:
            raise ValueError(f'unknown suite {s!r}; choose from {list(SUITES)}')
    resolved = []
    for m in methods:
        if m == 'policy:best':
            m = 'policy:' + best_policy(('group_by_colour', 'make_line', 'block_to_region',
                                         'block_to_block'))
        elif m not in ('hierarchical', 'flat_mpc') and not m.startswith('policy:'):
            raise ValueError(f'unknown method {m!r}; choose hierarchical, flat_mpc, '
                             'policy:NAME or policy:best')
        resolved.append(m)
    args = (str(model), backend, planner_section, max_steps, str(detector or ''),
            str(judge or ''))
    jobs = [(s, k, m, suite_seed(seed, s, k)) for s in suites for m in resolved
            for k in range(episodes)]
    start = time.perf_counter()
    if workers > 0:
        with ProcessPoolExecutor(workers,
                                 mp_context=multiprocessing.get_context('spawn')) as pool:
            records = list(pool.map(_run, [args] * len(jobs), jobs))
    else:
        records = [_run(args, j) for j in jobs]
    cells = []
    for s in suites:
        for m in resolved:
            rows = [r for r in records if r['suite'] == s and r['method'] == m]
            ok = np.array([r['success'] for r in rows], float)
            cells.append({'suite': s, 'method': m, 'n': len(rows),
                          'success_pct': 100 * float(ok.mean()),
                          'ci_pct': [100 * v for v in bootstrap_ci(ok, seed=seed)],
                          'steps_mean': float(np.mean([r['steps'] for r in rows])),
                          'plan_ms_median': float(np.median([r.get('plan_ms_median', 0.0)
                                                             for r in rows]))})
    return {'config': {'model': str(model), 'backend': backend, 'suites': list(suites),
                       'methods': resolved, 'episodes': episodes, 'seed': seed,
                       'max_steps': max_steps, 'planner': planner_section,
                       'workers': workers, 'detector': str(detector or ''),
                       'judge': str(judge or '')},
            'cells': cells, 'wall_s': round(time.perf_counter() - start, 1),
            'episodes': records}


def table(report: dict) -> str:
    """Return the Markdown table: one row per suite x method."""
    lines = ['| suite | method | n | success % (95 % CI) | steps (mean) | plan ms (median) |',
             '|---|---|---|---|---|---|']
    for c in report['cells']:
        lines.append(f"| {c['suite']} | {c['method']} | {c['n']} | {c['success_pct']:.0f} "
                     f"({c['ci_pct'][0]:.0f}-{c['ci_pct'][1]:.0f}) | {c['steps_mean']:.0f} | "
                     f"{c['plan_ms_median']:.0f} |")
    return '\n'.join(lines)


def write(report: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``planner.json`` and ``planner.md`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    c = report['config']
    head = (f"# Planner evaluation\n\nModel `{c['model']}` ({c['backend']}), planner config "
            f"`{c['planner']}`, {c['episodes']} episodes per suite from seed {c['seed']}, "
            f"step limit {c['max_steps']}; {report['wall_s']} s wall.\n\n")
    (out / 'planner.json').write_text(json.dumps(report, indent=1))
    (out / 'planner.md').write_text(head + table(report) + '\n')
    return out / 'planner.json', out / 'planner.md'
