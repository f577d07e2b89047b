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
``wm-ros bench planner``: planning time per executed action, side by side with the tabletop.

For each backend (ONNX Runtime, torch) in the same run: the hierarchical planner
(``config/plan.yaml`` section) drives tabletop episodes (``group_by_colour`` scenes, fixed
seeds) for ``actions`` executed actions each; every ``act`` (encode the frame, track the
blocks, and when its queue is empty plan with the sampling solver) is timed, and so is
every tabletop step (physics + camera). Also the world model's latent steps per second at
batch 256 (the solver's batch shape), and the imagined steps the planner evaluated per
second of planning. Prints median and p95 per action, and their ratio to a tabletop step.
"""

from __future__ import annotations

import time

import numpy as np


def _latent_rate(runtime, state, batch: int = 256, horizon: int = 12, rounds: int = 3
                 ) -> float:
    big = state.select(np.zeros(batch, int))
    actions = np.random.default_rng(0).uniform(-0.2, 0.2, (batch, horizon, 2)).astype(
        np.float32)
    best = np.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in runtime.rollout(big, actions):
            pass
        best = min(best, time.perf_counter() - t0)
    return batch * horizon / best


def measure(model: str, backend: str, section: str = 'default', episodes: int = 3,
            actions: int = 60, threads: int = 1) -> dict:
    """Return per-action timings of the planner and the tabletop for one backend."""
    from wm_ros.plan.planner import HierarchicalPlanner, load_config
    from wm_ros.runtime import load_runtime
    from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
    runtime = load_runtime(model, backend, threads=threads)
    config = load_config(section, video=False)
    env = TabletopEnv(TabletopConfig(image_size=runtime.image_size,
                                     control_hz=runtime.control_hz))
    act_s, sim_s, plan_s, evaluated = [], [], [], 0
    try:
        for k in range(episodes):
            obs, _ = env.reset(seed=100 + k, options={'task': 'group_by_colour'})
            planner = HierarchicalPlanner(runtime, config)
            planner.start(env.task.instruction, obs['image'], obs['ee_xy'])
            for _ in range(actions):
                t0 = time.perf_counter()
                a = planner.act(obs['image'], obs['ee_xy'])
                t1 = time.perf_counter()
                obs, _, _, _, _ = env.step(a)
                sim_s.append(time.perf_counter() - t1)
                act_s.append(t1 - t0)
                if planner.done or planner.failed:
                    break
            plan_s += planner.plan_seconds
            evaluated += planner.solver.evaluated * config.solver.horizon
        state = runtime.encode(obs['image'], obs['ee_xy'])
        latent = _latent_rate(runtime, state, 256, config.solver.horizon)
    finally:
        env.close()
    act, sim = np.array(act_s) * 1000, np.array(sim_s) * 1000
    return {'backend': backend, 'threads': threads, 'actions': len(act),
            'act_ms_median': float(np.median(act)), 'act_ms_p95': float(np.percentile(act, 95)),
            'plan_ms_median': float(np.median(plan_s) * 1000), 'plans': len(plan_s),
            'planned_steps_per_s': evaluated / max(sum(plan_s), 1e-9),
            'latent_steps_per_s_b256': latent, 'tabletop_ms_median': float(np.median(sim))}


def main(model: str, section: str = 'default', episodes: int = 3, actions: int = 60,
         threads: int = 1) -> list[dict]:
    """Measure both backends in one run and print them side by side."""
    rows = [measure(model, b, section, episodes, actions, threads)
            for b in ('onnxruntime', 'torch')]
    print(f'planner `{section}`, {episodes} group_by_colour episodes x up to {actions} '
          f'actions, {threads} thread(s) per runtime')
    print('| backend | per action median / p95 ms | per plan median ms | imagined steps/s '
          'while planning | latent steps/s b256 | tabletop step ms | action / tabletop step |')
    print('|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['backend']} | {r['act_ms_median']:.1f} / {r['act_ms_p95']:.1f} | "
              f"{r['plan_ms_median']:.0f} | {r['planned_steps_per_s']:,.0f} | "
              f"{r['latent_steps_per_s_b256']:,.0f} | {r['tabletop_ms_median']:.1f} | "
              f"{r['act_ms_median'] / r['tabletop_ms_median']:.1f}x |")
    ort, pt = rows
    print('ONNX Runtime / torch per action (median): '
          f"{ort['act_ms_median'] / pt['act_ms_median']:.2f}")
    return rows
