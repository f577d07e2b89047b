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
Real success of a policy: episodes on the tabletop (the reference robot) from fixed seeds.

Episode ``k`` of ``family`` starts from tabletop seed ``SeedSequence([seed, family index,
k])`` (``seed`` 7000 by default: the training data were collected from seeds 1 and 2, the
held-out sets from 99 and 4242, so none of these episodes was trained on). An episode ends
at success or at the tabletop's step limit (120 steps; 400 for ``group_by_colour``).

Episodes of one family run in lockstep in chunks of ``chunk`` tabletops, one
``act_batch`` call per step for the whole chunk. Chunks run in ``workers`` processes (1:
in this process); the outcome does not depend on the number of workers. ``'expert'``
measures the scripted expert (it reads the true block positions): the ceiling a pixel
policy that imitates it could reach.
"""

from __future__ import annotations

from concurrent.futures import Executor, ProcessPoolExecutor
import multiprocessing
from pathlib import Path
import time

import numpy as np

from wm_ros.sim.tasks import FAMILIES

SEED = 7000
ZOO_FAMILIES = ('block_to_region', 'block_to_block', 'separate', 'group_by_colour')


def episode_seed(seed: int, family: str, k: int) -> int:
    """Return the tabletop seed of episode ``k`` of ``family``."""
    return int(np.random.SeedSequence([seed, FAMILIES.index(family), k]).generate_state(1)[0])


def _actor(policy):
    """Return the policy to run: itself, a loaded directory, or ``'expert'``."""
    if policy == 'expert' or not isinstance(policy, (str, Path)):
        return policy
    from wm_ros.policy.zoo import load_policy
    return load_policy(policy)


def run_chunk(policy, family: str, seeds: list[int], max_steps: int = 120,
              max_steps_long: int = 400, threads: int = 1) -> list[dict]:
    """Run one episode per seed in lockstep; return ``{seed, success, steps, instruction}``."""
    import torch

    from wm_ros.policy.expert import ExpertPolicy
    from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
    torch.set_num_threads(threads)
    actor = _actor(policy)
    cfg = TabletopConfig(max_steps=max_steps, max_steps_long=max_steps_long)
    envs = [TabletopEnv(cfg) for _ in seeds]
    try:
        obs, rows = [], []
        for env, s in zip(envs, seeds):
            o, info = env.reset(seed=s, options={'task': family})
            obs.append(o)
            rows.append({'seed': s, 'success': bool(info['success']), 'steps': 0,
                         'instruction': env.task.instruction})
        experts = [ExpertPolicy(env) for env in envs] if actor == 'expert' else None
        active = [i for i, r in enumerate(rows) if not r['success']]
        while active:
            if experts is not None:
                from wm_ros.interfaces import Observation
                actions = [experts[i].act(Observation(obs[i]['image'], obs[i]['ee_xy'], '', 0))
                           for i in active]
            else:
                actions = actor.act_batch(np.stack([obs[i]['image'] for i in active]),
                                          np.stack([obs[i]['ee_xy'] for i in active]),
                                          [rows[i]['instruction'] for i in active])
            still = []
            for i, a in zip(active, actions):
                obs[i], _, terminated, truncated, info = envs[i].step(a)
                rows[i]['steps'] += 1
                rows[i]['success'] = bool(info['success'])
                if not (terminated or truncated):
                    still.append(i)
            active = still
        return rows
    finally:
        for env in envs:
            env.close()


def measure(policy, families=ZOO_FAMILIES, episodes: int = 20, seed: int = SEED,
            workers: int = 1, chunk: int = 10, max_steps: int = 120, max_steps_long: int = 400,
            pool: Executor | None = None) -> dict:
    """
    Return the real success of ``policy`` (a directory, a zoo name, a policy or 'expert').

    ``{'families': {family: {'success_pct', 'n', 'successes', 'steps_mean'}}, 'mean_pct',
    'episodes_per_family', 'seed', 'seconds', ...}``; ``mean_pct`` averages the families.
    """
    if episodes < 1:
        raise ValueError(f'need at least 1 episode per family, got {episodes}')
    if not isinstance(policy, (str, Path)) and (pool is not None or workers > 1):
        raise ValueError('an in-memory policy runs in this process only: save it and pass '
                         'its directory to measure it with workers')
    start = time.perf_counter()
    jobs = [(f, [episode_seed(seed, f, k) for k in range(i, min(i + chunk, episodes))])
            for f in families for i in range(0, episodes, chunk)]
    spec = str(policy) if isinstance(policy, (str, Path)) else policy
    own = None
    if pool is None and workers > 1:
        pool = own = ProcessPoolExecutor(workers,
                                         mp_context=multiprocessing.get_context('spawn'))
    try:
        if pool is None:
            spec = _actor(spec)
            results = [run_chunk(spec, f, s, max_steps, max_steps_long) for f, s in jobs]
        else:
            futures = [pool.submit(run_chunk, spec, f, s, max_steps, max_steps_long)
                       for f, s in jobs]
            results = [fut.result() for fut in futures]
    finally:
        if own is not None:
            own.shutdown(cancel_futures=True)
    per_family: dict[str, list] = {f: [] for f in families}
    for (f, _), rows in zip(jobs, results):
        per_family[f] += rows
    out = {f: {'success_pct': round(100 * float(np.mean([r['success'] for r in rows])), 1),
               'n': len(rows), 'successes': sum(r['success'] for r in rows),
               'steps_mean': round(float(np.mean([r['steps'] for r in rows])), 1)}
           for f, rows in per_family.items()}
    return {'families': out,
            'mean_pct': round(float(np.mean([v['success_pct'] for v in out.values()])), 1),
            'episodes_per_family': episodes, 'seed': seed,
            'seeds': 'SeedSequence([seed, FAMILIES.index(family), k]), k < episodes',
            'max_steps': max_steps, 'max_steps_long': max_steps_long,
            'seconds': round(time.perf_counter() - start, 1)}


def table(results: dict[str, dict]) -> str:
    """Return a Markdown table: one row per policy, real success % per family and mean."""
    families = list(next(iter(results.values()))['families']) if results else []
    lines = ['| policy | ' + ' | '.join(families) + ' | mean | episodes/family |',
             '|---|' + '---|' * (len(families) + 2)]
    for name, r in results.items():
        cells = ' | '.join(f"{r['families'][f]['success_pct']:.0f}" for f in families)
        lines.append(f"| {name} | {cells} | {r['mean_pct']:.1f} | {r['episodes_per_family']} |")
    return '\n'.join(lines)
