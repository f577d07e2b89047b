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
``wm-ros eval planner --robot pusht --goal-image``: goal-image planning on PushT itself.

Each episode starts from gym-pusht's own start for its seed (seeds from the seed rule,
:func:`~wm_ros.episodes.seeds.episode_seed`, family ``pusht``; ``wm-ros collect`` draws
its seeds from another generator, and the report lists every seed used) and runs in
closed loop on PushT (:class:`~wm_ros.episodes.pusht.PushTs` through the one episode
driver) with the
:class:`~wm_ros.plan.goal_planner.GoalPolicy`: receding-horizon CEM in the world model
toward the goal image. Success is PushT's own: the T covers more than 95 % of its goal,
at any step within ``max_steps`` (the episode ends there, as gym-pusht's does).

The goal image is PushT's goal state rendered: the T placed on its goal
(:func:`~wm_ros.sim.pusht.goal_state`), drawn by PushT's own renderer, with the pusher
at ``views`` places on a ring around it (:func:`goal_images`); the cost is the distance to
the nearest of them, so the pusher may end anywhere, as PushT's success does not look at it.

Reported: success with its 95 % Wilson interval, the time per planned action (planning
seconds over control actions; DINO-WM reports about 53 s per plan on a GPU) and per plan,
the final and best coverage.
"""

from __future__ import annotations

from functools import lru_cache
import json
import os
from pathlib import Path
import time

import numpy as np

from wm_ros.episodes.driver import run_episodes
from wm_ros.episodes.env import Start
from wm_ros.episodes.seeds import episode_seed
from wm_ros.evaluate.metrics import wilson
from wm_ros.sim.pusht import goal_state, PushTConfig, PushTEnv, wrap
from wm_ros.sim.tasks import PUSHT, PUSHT_TASK

RING_M = 0.11          # pusher ring around the goal T's centroid in the goal images (m)
PUBLISHED = (('DINO-WM', 90, '53 s per plan'), ('PLDM', 78, ''), ('LeWM', 96, ''))


def goal_images(config: PushTConfig, views: int = 8, ring: float = RING_M
                ) -> tuple[np.ndarray, np.ndarray]:
    """
    Return PushT's goal rendered: ``(images uint8[G,S,S,3], ee float32[G,2])``.

    The T on its goal pose, the pusher at ``views`` places on a circle of ``ring`` m
    around the T's centroid (clear of the T), each checked to show PushT's success.
    """
    goal = goal_state(config)
    env = PushTEnv(config)
    images, ees = [], []
    try:
        for a in np.linspace(0.0, 2 * np.pi, views, endpoint=False):
            ee = goal[:2] + ring * np.array([np.cos(a), np.sin(a)])
            obs, info = env.reset(options={'state': [*ee, *goal]})
            if not info['success']:
                raise RuntimeError(f'the goal state rendered with the pusher at {ee} does not '
                                   f'show success (coverage {info["coverage"]:.3f})')
            images.append(obs['image'])
            ees.append(obs['ee_xy'])
    finally:
        env.close()
    return np.stack(images), np.stack(ees).astype(np.float32)


class PushTGoalRunner:
    """One process's world model, goal images and PushT; runs chunks of episodes."""

    def __init__(self, model: str, backend: str, section: str, max_steps: int, views: int,
                 end_on: str = 'coverage'):
        from wm_ros.plan.goal_planner import load_config
        from wm_ros.runtime import load_runtime
        self.runtime = load_runtime(model, backend, threads=1)
        rt = self.runtime
        self.config = load_config(section)
        self.pusht = PushTConfig(image_size=rt.image_size, control_hz=rt.control_hz,
                                 max_speed=rt.max_speed, max_steps=max_steps)
        self.goal = goal_images(self.pusht, views)
        self.end_on = end_on

    def run(self, starts: list, tasks: list | None = None) -> list[dict]:
        """
        Run ``starts`` in lockstep on PushT with the goal policy; one record each.

        ``tasks`` (:class:`~wm_ros.evaluate.pusht_goals.GoalTask`, one per start): start
        states and goals an expert reached; default PushT's own starts and goal.
        """
        from wm_ros.evaluate.pusht_goals import GoalTasks, own_tasks
        from wm_ros.plan.goal_planner import GoalPolicy
        if tasks:
            goals = {t.k: (t.image[None], t.goal_ee[None]) for t in tasks}
        else:
            tasks = own_tasks(starts, self.pusht)
            goals = {t.k: self.goal for t in tasks}
        envs = GoalTasks(self.pusht, tasks, self.end_on)
        by_k = {t.k: t for t in tasks}
        policy = GoalPolicy(self.runtime, self.config, lambda e: goals[e.k])
        records = [{} for _ in starts]
        seen = [{'covered': -1, 'published': -1, 'best_coverage': 0.0} for _ in starts]

        def on_step(t, observations, actions, success, infos) -> None:
            for row, info in zip(observations.rows, infos):
                s = seen[row]
                s['best_coverage'] = max(s['best_coverage'], info['coverage'])
                for key in ('covered', 'published'):
                    if info[key] and s[key] < 0:
                        s[key] = t + 1

        def on_episode(row: int, result) -> None:
            records[row] = _record(starts[row], result, policy.rows[row],
                                   by_k[starts[row].k].goal, seen[row])
        try:
            run_episodes(envs, policy, starts, envs.limits, on_step=on_step,
                         on_episode=on_episode)
        finally:
            envs.close()
        return records


def _record(start, result, planner, goal: np.ndarray, seen: dict) -> dict:
    """Return one episode's record: both verdicts, errors and the planner's time."""
    info, first = result.info, result.start_info
    return {
        'k': start.k, 'seed': start.seed, 'success': bool(result.success),
        'steps': int(result.steps), 'coverage': float(info['coverage']),
        'covered_any': seen['covered'] > 0, 'covered_step': seen['covered'],
        'published_any': seen['published'] > 0, 'published_step': seen['published'],
        'published_final': bool(info['published']),
        'published_units_final': float(info['published_units']),
        'start_published_units': float(first['published_units']),
        'start_coverage': float(first['coverage']),
        'best_coverage': float(seen['best_coverage']),
        'start_t_error_m': float(np.linalg.norm(first['block_xy'][0] - goal[:2])),
        'final_t_error_m': float(np.linalg.norm(info['block_xy'][0] - goal[:2])),
        'final_yaw_error_deg': float(np.degrees(np.abs(wrap(info['block_yaw'][0]
                                                            - goal[2])))),
        'plans': len(planner.plan_seconds), 'actions': planner.actions,
        'plan_s': float(np.sum(planner.plan_seconds)), 'seconds': result.seconds}


@lru_cache(maxsize=1)
def _runner(*args) -> PushTGoalRunner:
    return PushTGoalRunner(*args)


def _run(runner_args: tuple, starts: list, tasks: list | None) -> list[dict]:
    return _runner(*runner_args).run(starts, tasks)


def evaluate(model: str, backend: str = 'torch', episodes: int = 50, seed: int = 4000,
             max_steps: int = 300, section: str = 'default', workers: int = 1,
             chunk: int = 5, views: int = 8, goal_steps: int = 0,
             end_on: str = 'coverage') -> dict:
    """
    Run ``episodes`` PushT episodes with the goal-image planner; return the report dict.

    ``goal_steps`` > 0: toward the state the expert reached that many steps after each
    start instead (:mod:`wm_ros.evaluate.pusht_goals`, the published planners' protocol).
    """
    from wm_ros.episodes.pool import map_chunks
    from wm_ros.evaluate.pusht_goals import expert_tasks
    t0 = time.perf_counter()
    tasks = None
    if goal_steps:
        from wm_ros.runtime.registry import model_metadata
        size = int(model_metadata(model)['image_size'])       # the model's camera
        tasks = expert_tasks(episodes, seed, goal_steps, PushTConfig(image_size=size))
        starts = [Start(PUSHT, t.k, t.seed, None, PUSHT_TASK) for t in tasks]
    else:
        starts = [Start(PUSHT, k, episode_seed(seed, PUSHT, k), None, PUSHT_TASK)
                  for k in range(episodes)]
    args = (str(model), backend, section, max_steps, views, end_on)
    chunks = [(args, starts[i:i + chunk], tasks[i:i + chunk] if tasks else None)
              for i in range(0, episodes, chunk)]
    records = [r for part in map_chunks(_run, chunks, workers) for r in part]
    return summarise(records, {'model': str(model), 'backend': backend, 'episodes': episodes,
                               'seed': seed, 'max_steps': max_steps, 'planner': section,
                               'workers': workers, 'goal_views': views,
                               'goal_steps': goal_steps, 'end_on': end_on,
                               'host_load': os.getloadavg()}, time.perf_counter() - t0)


def summarise(records: list[dict], config: dict, wall_s: float) -> dict:
    """Return the report: both verdicts with Wilson intervals, time per action, errors."""
    n = len(records)

    def rate(key: str) -> dict:
        k = sum(bool(r[key]) for r in records)
        lo, hi = wilson(k, n)
        return {'k': int(k), 'pct': 100.0 * k / max(n, 1), 'wilson_pct': [100 * lo, 100 * hi]}

    def over(key: str, how=np.mean, scale: float = 1.0) -> float:
        return scale * float(how([r[key] for r in records])) if n else 0.0

    def total(key: str) -> float:
        return float(sum(r[key] for r in records))
    ended = rate('success')
    return {'config': config, 'n': n, 'successes': ended['k'], 'success_pct': ended['pct'],
            'wilson_pct': ended['wilson_pct'], 'coverage_any': rate('covered_any'),
            'published_any': rate('published_any'),
            'published_final': rate('published_final'),
            's_per_action': total('plan_s') / max(total('actions'), 1),
            's_per_plan': total('plan_s') / max(total('plans'), 1),
            'steps_mean': over('steps'), 'coverage_mean': over('coverage'),
            'start_coverage_mean': over('start_coverage'),
            'best_coverage_mean': over('best_coverage'),
            'start_t_error_cm_median': over('start_t_error_m', np.median, 100.0),
            't_error_cm_median': over('final_t_error_m', np.median, 100.0),
            'yaw_error_deg_median': over('final_yaw_error_deg', np.median),
            'wall_s': round(wall_s, 1), 'episodes': records}


def _pct(rate: dict) -> str:
    return f"{rate['pct']:.0f} ({rate['wilson_pct'][0]:.0f}-{rate['wilson_pct'][1]:.0f})"


def table(report: dict) -> str:
    """Return the Markdown table: this planner beside the published PushT figures."""
    r = report
    k = r['config'].get('goal_steps', 0)
    goal = f'expert +{k} steps' if k else "PushT's goal"
    lines = ['| planner | goal | n | PushT coverage > 95 %, any step: % (95 % Wilson) | '
             'published (DINO-WM eval_state), any step | published, last step | '
             's per planned action | s per plan | start / final / best coverage | '
             'T error cm start / end, yaw deg (median) |',
             '|---|---|---|---|---|---|---|---|---|---|',
             f"| goal-image CEM, this model | {goal} | {r['n']} | {_pct(r['coverage_any'])} | "
             f"{_pct(r['published_any'])} | {_pct(r['published_final'])} | "
             f"{r['s_per_action']:.3f} | {r['s_per_plan']:.3f} | "
             f"{r['start_coverage_mean']:.2f} / {r['coverage_mean']:.2f} / "
             f"{r['best_coverage_mean']:.2f} | {r['start_t_error_cm_median']:.1f} / "
             f"{r['t_error_cm_median']:.1f}, {r['yaw_error_deg_median']:.0f} |"]
    for name, pct, speed in PUBLISHED:
        lines.append(f'| {name} (published) | their protocol: expert +25 steps | | | {pct} | '
                     f'| | {speed} | | |')
    return '\n'.join(lines)


def write(report: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``pusht_planner.json`` and ``pusht_planner.md`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    c = report['config']
    goal = f"expert +{c['goal_steps']} steps" if c.get('goal_steps') else 'PushT'
    head = (f"# Goal-image planning on PushT\n\nModel `{c['model']}` ({c['backend']}), "
            f"planner config `{c['planner']}`, {c['episodes']} episodes from seed "
            f"{c['seed']}, step limit {c['max_steps']}, goal {goal}, episodes end on the "
            f"{c.get('end_on', 'coverage')} verdict; {report['wall_s']} s wall, host load "
            f"{c.get('host_load', '')}.\n\nPublished criterion: DINO-WM's eval_state, "
            '|(pusher x, y, T x, y) - goal| < 20 of 512 workspace units (1.95 cm) and T angle '
            "within 20 degrees (toward PushT's own goal: the T's x, y only).\n\n")
    (out / 'pusht_planner.json').write_text(json.dumps(report, indent=1))
    (out / 'pusht_planner.md').write_text(head + table(report) + '\n')
    return out / 'pusht_planner.json', out / 'pusht_planner.md'
