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

For each runtime in the same run (CPU: ONNX Runtime and torch; ``--device cuda``: torch
with CUDA graphs, torch eager, and ONNX Runtime when its CUDA provider is there): the
hierarchical planner (``config/plan.yaml`` section) drives tabletop episodes
(``group_by_colour`` scenes, fixed seeds) for ``actions`` executed actions each; every
``act`` (encode the frame, track the blocks, and when its queue is empty plan with the
sampling solver) is timed, and so is every tabletop step (physics + camera). Also the
world model's latent steps per second at batch 256 (the solver's batch shape), and the
imagined steps the planner evaluated per second of planning. Prints per action the mean
(planning time spread over the actions it executes), median and p95, and their ratio to a
tabletop step.

Where the tabletop cannot run (a GPU host without EGL), ``--frames`` takes the episodes'
first frames saved by ``--save-frames`` on a host that has it: the planner then acts on
that frame throughout (the scene does not move, so it re-plans every ``execute`` actions,
the same work per plan as on the tabletop) and no tabletop column is printed.
"""

from __future__ import annotations

from pathlib import Path
import time

import numpy as np

SEED = 100                    # episode k of the bench: tabletop seed SEED + k
TASK = 'group_by_colour'


def _latent_rate(runtime, state, batch: int = 256, horizon: int = 12, rounds: int = 3
                 ) -> float:
    big = state.select(np.zeros(batch, int))
    actions = np.random.default_rng(0).uniform(-0.2, 0.2, (batch, horizon, 2)).astype(
        np.float32)
    best = np.inf
    for _ in range(rounds + 1):             # the first round warms up (CUDA: graph capture)
        t0 = time.perf_counter()
        for _ in runtime.rollout(big, actions):
            pass
        best = min(best, time.perf_counter() - t0)
    return batch * horizon / best


def save_frames(path: str | Path, episodes: int, image_size: int = 64,
                control_hz: float = 10.0) -> Path:
    """Write the first frames, pusher poses and instructions of the bench's episodes."""
    from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
    env = TabletopEnv(TabletopConfig(image_size=image_size, control_hz=control_hz))
    images, ee, text = [], [], []
    try:
        for k in range(episodes):
            obs, _ = env.reset(seed=SEED + k, options={'task': TASK})
            images.append(obs['image'])
            ee.append(obs['ee_xy'])
            text.append(env.task.instruction)
    finally:
        env.close()
    np.savez_compressed(path, images=np.stack(images), ee=np.stack(ee),
                        instructions=np.array(text))
    return Path(path)


class _Frozen:
    """A saved first frame standing in for the tabletop (its scene never moves)."""

    def __init__(self, frames: dict, k: int):
        self.obs = {'image': frames['images'][k], 'ee_xy': frames['ee'][k]}
        self.instruction = str(frames['instructions'][k])

    def step(self, action):
        return self.obs, 0.0, False, False, {}


def _runtimes(device: str) -> list[tuple[str, dict]]:
    """Return ``(backend, load_runtime options)`` of each row for ``device``."""
    if device == 'cpu':
        return [('onnxruntime', {}), ('torch', {})]
    rows = [('torch', {'device': device}), ('torch', {'device': device, 'cuda_graphs': False})]
    import onnxruntime
    if 'CUDAExecutionProvider' in onnxruntime.get_available_providers():
        rows.append(('onnxruntime', {'providers': ['CUDAExecutionProvider']}))
    return rows


def measure(model: str, backend: str, section: str = 'default', episodes: int = 3,
            actions: int = 60, threads: int = 1, frames: str | None = None,
            **options) -> dict:
    """Return per-action timings of the planner (and the tabletop) for one runtime."""
    from wm_ros.plan.planner import HierarchicalPlanner, load_config
    from wm_ros.runtime import load_runtime
    runtime = load_runtime(model, backend, threads=threads, **options)
    config = load_config(section, video=False)
    saved = dict(np.load(frames)) if frames else None
    env = None
    if saved is None:
        from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
        env = TabletopEnv(TabletopConfig(image_size=runtime.image_size,
                                         control_hz=runtime.control_hz))
    act_s, sim_s, plan_s, evaluated = [], [], [], 0
    try:
        for k in range(min(episodes, len(saved['images'])) if saved else episodes):
            if saved:
                world = _Frozen(saved, k)
                obs, instruction = world.obs, world.instruction
            else:
                world = env
                obs, _ = env.reset(seed=SEED + k, options={'task': TASK})
                instruction = env.task.instruction
            planner = HierarchicalPlanner(runtime, config)
            planner.start(instruction, obs['image'], obs['ee_xy'])
            for _ in range(actions):
                t0 = time.perf_counter()
                a = planner.act(obs['image'], obs['ee_xy'])
                t1 = time.perf_counter()
                obs, _, _, _, _ = world.step(a)
                sim_s.append(time.perf_counter() - t1)
                act_s.append(t1 - t0)
                if planner.done or planner.failed:
                    break
            plan_s += planner.plan_seconds
            evaluated += planner.solver.evaluated * config.solver.horizon
        state = runtime.encode(obs['image'], obs['ee_xy'])
        latent = _latent_rate(runtime, state, 256, config.solver.horizon)
    finally:
        if env is not None:
            env.close()
    act, sim = np.array(act_s) * 1000, np.array(sim_s) * 1000
    label = backend + ('' if options.get('cuda_graphs', True) or backend != 'torch'
                       else ' eager')
    return {'backend': label, 'device': options.get('device', 'cpu'), 'threads': threads,
            'actions': len(act), 'act_ms_mean': float(act.mean()),
            'act_ms_median': float(np.median(act)), 'act_ms_p95': float(np.percentile(act, 95)),
            'plan_ms_median': float(np.median(plan_s) * 1000), 'plans': len(plan_s),
            'planned_steps_per_s': evaluated / max(sum(plan_s), 1e-9),
            'latent_steps_per_s_b256': latent,
            'tabletop_ms_median': None if saved else float(np.median(sim))}


def main(model: str, section: str = 'default', episodes: int = 3, actions: int = 60,
         threads: int = 1, device: str = 'cpu', frames: str | None = None) -> list[dict]:
    """Measure every runtime of ``device`` in one run and print them side by side."""
    rows = [measure(model, b, section, episodes, actions, threads, frames, **options)
            for b, options in _runtimes(device)]
    where = f'frames of {frames} (no tabletop)' if frames else 'the tabletop'
    print(f'planner `{section}` on {device}, {episodes} {TASK} episodes x up to {actions} '
          f'actions on {where}, {threads} CPU thread(s) per runtime')
    print('| runtime | per action mean / median / p95 ms | per plan median ms | imagined '
          'steps/s while planning | latent steps/s b256 | tabletop step ms | action (mean) / '
          'tabletop step |')
    print('|---|---|---|---|---|---|---|')
    for r in rows:
        sim = r['tabletop_ms_median']
        print(f"| {r['backend']} | {r['act_ms_mean']:.1f} / {r['act_ms_median']:.1f} / "
              f"{r['act_ms_p95']:.1f} | {r['plan_ms_median']:.1f} | "
              f"{r['planned_steps_per_s']:,.0f} | {r['latent_steps_per_s_b256']:,.0f} | "
              + (f"{sim:.1f} | {r['act_ms_mean'] / sim:.1f}x |" if sim else '- | - |'))
    first = rows[0]
    for other in rows[1:]:
        print(f"{first['backend']} / {other['backend']} per action (mean): "
              f"{first['act_ms_mean'] / other['act_ms_mean']:.2f}")
    return rows
