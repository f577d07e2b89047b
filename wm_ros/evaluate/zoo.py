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

Episode ``k`` of ``family`` starts from tabletop seed
:func:`~wm_ros.episodes.seeds.episode_seed` ``(seed, family, k)`` (``seed`` 7000 by
default: the training data were collected from seeds 1 and 2, the held-out sets from 99
and 4242, so none of these episodes was trained on). An episode ends at success or at the
tabletop's step limit (120 steps; 400 for ``group_by_colour``).

The episodes run through the one episode driver (:func:`~wm_ros.episodes.tabletop.
run_on_tabletop`): consecutive episodes run in lockstep in chunks of ``chunk`` tabletops,
one batched ``act`` call per step for the whole chunk, the chunks in ``workers``
processes (1: in this process); the outcome does not depend on the number of workers.
Policies are registry names (:mod:`wm_ros.policy.registry`): zoo names, policy
directories, or ``state_expert`` (the scripted expert reading the true block positions:
the ceiling a pixel policy that imitates it could reach). An in-memory policy runs in this
process.
"""

from __future__ import annotations

from pathlib import Path
import time

import numpy as np

from wm_ros.episodes.driver import run_episodes
from wm_ros.episodes.env import Limits
from wm_ros.episodes.tabletop import run_on_tabletop, sample_starts, Tabletops, TabletopWorld
from wm_ros.policy.zoo import ZOO_FAMILIES

SEED = 7000


def run_starts(policy, starts: list, limits: Limits, workers: int = 0,
               chunk: int = 10) -> list:
    """
    Run ``policy`` from every start on the tabletop; return the driver's results in order.

    ``policy``: a registry name or directory (any ``workers``), or an in-memory policy (a
    batched :class:`~wm_ros.policy.base.Policy`, or a network with ``act_batch``), which
    runs here.
    """
    if isinstance(policy, (str, Path)):
        jobs = [(str(policy), s) for s in starts]
        return run_on_tabletop(TabletopWorld(limits=limits), jobs, workers, chunk)
    if workers > 0:
        raise ValueError('an in-memory policy runs in this process only: save it and pass '
                         'its directory to measure it with workers')
    import torch

    from wm_ros.policy.base import Batched
    from wm_ros.sim.tabletop import TabletopConfig
    torch.set_num_threads(1)
    actor = Batched(policy) if hasattr(policy, 'act_batch') else policy
    env = Tabletops(TabletopConfig(max_steps=limits.max_steps,
                                   max_steps_long=limits.max_steps_long))
    try:
        return [r for i in range(0, len(starts), chunk)
                for r in run_episodes(env, actor, starts[i:i + chunk], limits)]
    finally:
        env.close()


def measure(policy, families=ZOO_FAMILIES, episodes: int = 20, seed: int = SEED,
            workers: int = 1, chunk: int = 10, max_steps: int = 120,
            max_steps_long: int = 400) -> dict:
    """
    Return the real success of ``policy`` (a registry name, a directory or a policy).

    ``{'families': {family: {'success_pct', 'n', 'successes', 'steps_mean'}}, 'mean_pct',
    'episodes_per_family', 'seed', 'seconds', ...}``; ``mean_pct`` averages the families.
    """
    if episodes < 1:
        raise ValueError(f'need at least 1 episode per family, got {episodes}')
    start = time.perf_counter()
    starts = sample_starts(families, episodes, seed)
    results = run_starts(policy, starts, Limits(max_steps, max_steps_long),
                         workers if workers > 1 else 0, chunk)
    per_family: dict[str, list] = {f: [] for f in families}
    for s, r in zip(starts, results):
        per_family[s.task_family].append(r)
    out = {f: {'success_pct': round(100 * float(np.mean([r.success for r in rows])), 1),
               'n': len(rows), 'successes': sum(r.success for r in rows),
               'steps_mean': round(float(np.mean([r.steps for r in rows])), 1)}
           for f, rows in per_family.items()}
    return {'families': out,
            'mean_pct': round(float(np.mean([v['success_pct'] for v in out.values()])), 1),
            'episodes_per_family': episodes, 'seed': seed,
            'seeds': 'wm_ros.episodes.seeds.episode_seed(seed, family, k), k < episodes',
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
