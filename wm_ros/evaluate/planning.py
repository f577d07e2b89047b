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

from dataclasses import replace
from functools import lru_cache
import json
from pathlib import Path
import time

import numpy as np

from wm_ros.episodes.driver import run_episodes
from wm_ros.episodes.env import Limits, Start
from wm_ros.episodes.pool import map_chunks
from wm_ros.episodes.seeds import episode_seed
from wm_ros.episodes.tabletop import Tabletops
from wm_ros.evaluate.metrics import bootstrap_ci
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
from wm_ros.sim.tasks import NEXT_TO, Task

SUITES = ('group_by_colour', 'make_line', 'two_step')
METHODS = ('hierarchical', 'flat_mpc', 'policy:best')
BOARD_HALF = 0.25


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


class PlannerPolicy:
    """The hierarchical planner as a one-row batched policy; it gives up when done or failed."""

    def __init__(self, planner):
        self.planner = planner
        self.message = ''

    def reset(self, episodes) -> None:
        """Nothing: the planner was started on the first frame (``planner.start``)."""

    def act(self, observations) -> np.ndarray:
        """Return the planner's action for the frame; note its message once it stops."""
        a = self.planner.act(observations.image[0], observations.ee_xy[0])
        if self.planner.done or self.planner.failed:
            self.message = self.planner.status()['message']
        return np.asarray(a, np.float32)[None]

    def gave_up(self) -> bool:
        """Return whether the planner has stopped (done or failed)."""
        return bool(self.message)


class Instructed:
    """The inner policy reads ``instruction`` (a suite's whole task) on every row."""

    def __init__(self, inner, instruction: str):
        self.inner, self.instruction = inner, instruction

    def reset(self, episodes) -> None:
        """Start the inner policy."""
        self.inner.reset(episodes)

    def act(self, observations) -> np.ndarray:
        """Return the inner policy's actions for the frames read with ``instruction``."""
        return self.inner.act(replace(observations,
                                      instructions=(self.instruction,) * len(observations)))


class Solving:
    """
    Tabletops whose success is every task of the run holding (``two_step``: both).

    A row also ends (``done``) when ``gave_up()`` says the method stopped on its own.
    """

    can_judge = True

    def __init__(self, tabletops: Tabletops, tasks: list[Task], gave_up=None):
        self.tabletops, self.tasks, self.gave_up = tabletops, tasks, gave_up
        self.scene = None

    def reset(self, starts):
        """Start the rows (one scene: the run's)."""
        self.scene = starts[0].scene
        return self.tabletops.reset(starts)

    def step(self, actions: np.ndarray, rows=None):
        """Step, then judge every task on the physics state."""
        observations, done, _, infos = self.tabletops.step(actions, rows)
        success = np.array([solved(self.tasks, self.scene, info['block_xy']) for info in infos])
        if self.gave_up is not None and self.gave_up():
            done = np.ones_like(done)
        return observations, done, success, infos

    def close(self) -> None:
        """Free the tabletops."""
        self.tabletops.close()


def solved(tasks: list[Task], scene, block_xy: np.ndarray) -> bool:
    """Return whether every task holds for blocks at ``block_xy`` (False for none)."""
    return bool(tasks) and all(t.success(scene, block_xy, BOARD_HALF) for t in tasks)


class TabletopRunner:
    """The tabletop and the world-model runtime of one process; episodes through the driver."""

    def __init__(self, model: str, backend: str, planner_section: str, max_steps: int,
                 detector: str = '', judge: str = ''):
        from wm_ros.plan import detector as block_detector
        from wm_ros.plan.planner import load_config
        from wm_ros.runtime import load_runtime
        self.runtime = load_runtime(model, backend, threads=1)
        self.detector = block_detector.load(detector) if detector else None
        self.judge = load_judge(judge)
        rt = self.runtime
        self.config = load_config(planner_section)
        self.max_steps = max_steps
        self.tabletops = Tabletops(TabletopConfig(
            image_size=rt.image_size, control_hz=rt.control_hz, max_speed=rt.max_speed,
            board_half=BOARD_HALF, max_steps=max_steps, max_steps_long=max_steps))
        self.tabletops.envs.append(TabletopEnv(self.tabletops.config))

    @property
    def env(self) -> TabletopEnv:
        """Return the tabletop the episodes run on."""
        return self.tabletops.envs[0]

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
        return solved(tasks, self.env.scene, self.env.block_states()[:, :2])

    def run(self, suite: str, k: int, method: str, seed: int, instruction: str = '',
            recorder=None) -> dict:
        """Run one episode; ``recorder(obs, planner)`` is called after every step."""
        start = time.perf_counter()
        obs, tasks, instruction = self.reset(suite, seed, instruction)
        record = {'suite': suite, 'k': k, 'method': method, 'seed': seed,
                  'instruction': instruction, 'subgoals': [], 'message': ''}
        first = Start(self.env.task.family, k, seed, self.env.scene, self.env.task,
                      obs['image'], obs['ee_xy'])
        policy, planner = self._method(method, first, instruction, record, recorder)
        success, steps = self.solved(tasks), 0
        if not success and not record['message']:      # refused: nothing moves
            result, = run_episodes(
                Solving(self.tabletops, tasks, policy.gave_up if planner else None), policy,
                [first], Limits(self.max_steps, self.max_steps),
                on_step=_recording(recorder, planner))
            success, steps = result.success, result.steps
            if planner is not None:
                record['message'] = policy.message
        if planner is not None and not tasks:     # a free instruction: the planner's verdict
            success = planner.done
        record.update(success=bool(success), steps=steps, seconds=time.perf_counter() - start)
        if planner is not None:
            record.update(plans=planner.plans, plan_ms_median=1000 * float(
                np.median(planner.plan_seconds)) if planner.plan_seconds else 0.0,
                retries=planner.retries, rejudged=planner.rejudged, judged=planner.judged)
        return record

    def _method(self, method: str, first: Start, instruction: str, record: dict, recorder):
        """Return the method's policy and its planner (None for a learned policy)."""
        if method not in ('hierarchical', 'flat_mpc'):
            from wm_ros.policy import registry
            return Instructed(registry.make(method.split(':', 1)[1]), instruction), None
        from wm_ros.plan.planner import HierarchicalPlanner, PlanRefused
        cfg = replace(self.config, hierarchical=method == 'hierarchical',
                      video=recorder is not None)
        planner = HierarchicalPlanner(self.runtime, cfg, detector=self.detector,
                                      judge=self.judge)
        try:
            record['subgoals'] = [s.text for s in planner.start(
                instruction, first.image, first.ee)]
        except PlanRefused as exc:
            record['message'] = f'refused: {exc}'
        return PlannerPolicy(planner), planner


def _recording(recorder, planner):
    """Return the driver's ``on_step`` that hands each new frame to ``recorder``."""
    if recorder is None:
        return None

    def on_step(t, observations, actions, success, infos):
        recorder({'image': observations.image[0], 'ee_xy': observations.ee_xy[0]}, planner)
    return on_step


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
    jobs = [(s, k, m, episode_seed(seed, s, k)) for s in suites for m in resolved
            for k in range(episodes)]
    start = time.perf_counter()
    records = map_chunks(_run, [(args, j) for j in jobs], workers)
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
