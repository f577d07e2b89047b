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
(``group_by_colour`` scenes, fixed seeds) through the episode driver
(:func:`~wm_ros.episodes.driver.run_episodes` on
:class:`~wm_ros.episodes.tabletop.Tabletops`, the planner as
:class:`~wm_ros.evaluate.planning.PlannerPolicy`) for ``actions`` executed actions each,
or until the planner stops. The driver's clock times every ``act`` (encode the frame,
track the blocks, and when its queue is empty plan with the sampling solver: the
driver's ``policy`` part) and every tabletop step (physics + camera), read step by step
in its ``on_step`` callback. Also the world model's latent steps per second at batch 256
(the solver's batch shape), and the imagined steps the planner evaluated per second of
planning. Prints per action the mean (planning time spread over the actions it
executes), median and p95, and their ratio to a tabletop step.

Where the tabletop cannot run (a GPU host without EGL), ``--frames`` takes the episodes'
first frames saved by ``--save-frames`` on a host that has it: the planner then acts on
that frame throughout (the scene does not move, so it re-plans every ``execute`` actions,
the same work per plan as on the tabletop) and no tabletop column is printed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
import time

import numpy as np

from wm_ros.episodes.driver import PartClock, run_episodes
from wm_ros.episodes.env import Limits, Start
from wm_ros.policy.base import Observations

SEED = 100                    # episode k of the bench: tabletop seed SEED + k
TASK = 'group_by_colour'
PARTS = ('policy', 'tabletop')    # the driver's clock parts read per step


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


def bench_starts(episodes: int, image_size: int = 64, control_hz: float = 10.0
                 ) -> list[Start]:
    """Return the bench's starts: tabletop seed ``SEED + k``, a ``TASK`` scene, first frame."""
    from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
    env = TabletopEnv(TabletopConfig(image_size=image_size, control_hz=control_hz))
    out = []
    try:
        for k in range(episodes):
            obs, _ = env.reset(seed=SEED + k, options={'task': TASK})
            # no scene: the driver's tabletop resets from the seed, as this reset did
            out.append(Start(TASK, k, SEED + k, None, env.task, obs['image'], obs['ee_xy']))
    finally:
        env.close()
    return out


def save_frames(path: str | Path, episodes: int, image_size: int = 64,
                control_hz: float = 10.0) -> Path:
    """Write the first frames, pusher poses and instructions of the bench's episodes."""
    starts = bench_starts(episodes, image_size, control_hz)
    np.savez_compressed(path, images=np.stack([s.image for s in starts]),
                        ee=np.stack([s.ee for s in starts]),
                        instructions=np.array([s.task.instruction for s in starts]))
    return Path(path)


def saved_starts(path: str | Path, episodes: int) -> list[Start]:
    """Return the starts of the first ``episodes`` frames :func:`save_frames` wrote."""
    saved = np.load(path)
    return [Start.from_frame(saved['images'][k], saved['ee'][k],
                             str(saved['instructions'][k]), k=k)
            for k in range(min(episodes, len(saved['images'])))]


class Frozen:
    """Saved first frames standing in for the tabletop, a batched env: scenes never move."""

    can_judge = False

    def __init__(self):
        self.first: Observations | None = None

    def reset(self, starts):
        """Show each start's first frame."""
        self.first = Observations(np.stack([s.image for s in starts]),
                                  np.stack([s.ee for s in starts]).astype(np.float32),
                                  tuple(s.task.instruction for s in starts), 0,
                                  np.arange(len(starts)))
        return self.first, [{} for _ in starts]

    def step(self, actions, rows=None):
        """Show the rows' first frames again (the actions move nothing)."""
        rows = self.first.rows if rows is None else np.asarray(rows)
        seen = replace(self.first.select(rows), t=self.first.t + 1)
        self.first = replace(self.first, t=seen.t)
        return seen, np.zeros(len(rows), bool), np.zeros(len(rows), bool), [{} for _ in rows]

    def close(self) -> None:
        """Nothing to free."""


class Stopping:
    """
    A batched env whose steps the driver's clock times (part ``tabletop``).

    Every row is done once ``stopped()`` (the planner is done or failed).
    """

    def __init__(self, env, clock: PartClock, stopped):
        self.env, self.clock, self.stopped = env, clock, stopped
        self.can_judge = env.can_judge

    def reset(self, starts):
        """Reset the inner env."""
        return self.env.reset(starts)

    def step(self, actions, rows=None):
        """Step the inner env on the clock; every row is done once the planner stopped."""
        with self.clock('tabletop'):
            observations, done, success, infos = self.env.step(actions, rows)
        return observations, done | self.stopped(), success, infos

    def close(self) -> None:
        """Free the inner env."""
        self.env.close()


def _runtimes(device: str) -> list[tuple[str, dict]]:
    """Return ``(backend, load_runtime options)`` of each row for ``device``."""
    if device == 'cpu':
        return [('onnxruntime', {}), ('torch', {})]
    rows = [('torch', {'device': device}), ('torch', {'device': device, 'cuda_graphs': False})]
    import onnxruntime
    if 'CUDAExecutionProvider' in onnxruntime.get_available_providers():
        rows.append(('onnxruntime', {'providers': ['CUDAExecutionProvider']}))
    return rows


class Laps:
    """Each step's seconds per clock part (``parts[name]``), read in the driver's ``on_step``."""

    def __init__(self):
        self.parts: dict[str, list[float]] = {p: [] for p in PARTS}
        self.last: Observations | None = None
        self._seen = dict.fromkeys(PARTS, 0.0)

    def reader(self, clock: PartClock):
        """Return the ``on_step`` callback that records this step's share of ``clock``."""
        def on_step(t, observations, actions, success, infos):
            for part, laps in self.parts.items():
                now = clock.seconds.get(part, 0.0)
                laps.append(now - self._seen[part])
                self._seen[part] = now
            self.last = observations
        return on_step


def measure(model: str, backend: str, section: str = 'default', episodes: int = 3,
            actions: int = 60, threads: int = 1, frames: str | None = None,
            **options) -> dict:
    """Return per-action timings of the planner (and the tabletop) for one runtime."""
    from wm_ros.evaluate.planning import PlannerPolicy
    from wm_ros.plan.planner import HierarchicalPlanner, load_config
    from wm_ros.runtime import load_runtime
    runtime = load_runtime(model, backend, threads=threads, **options)
    config = load_config(section, video=False)
    if frames:
        starts, env = saved_starts(frames, episodes), Frozen()
    else:
        from wm_ros.episodes.tabletop import Tabletops
        from wm_ros.sim.tabletop import TabletopConfig
        starts = bench_starts(episodes, runtime.image_size, runtime.control_hz)
        env = Tabletops(TabletopConfig(image_size=runtime.image_size,
                                       control_hz=runtime.control_hz))
    clock, laps = PartClock(), Laps()
    plan_s, evaluated = [], 0
    try:
        for start in starts:
            planner = HierarchicalPlanner(runtime, config)
            planner.start(start.task.instruction, start.image, start.ee)
            policy = PlannerPolicy(planner)
            run_episodes(Stopping(env, clock, policy.gave_up), policy, [start],
                         Limits(actions, actions), stop_on_success=False,
                         on_step=laps.reader(clock), clock=clock)
            plan_s += planner.plan_seconds
            evaluated += planner.solver.evaluated * config.solver.horizon
        last = laps.last
        latent = _latent_rate(runtime, runtime.encode(last.image[0], last.ee_xy[0]), 256,
                              config.solver.horizon)
    finally:
        env.close()
    act, sim = np.array(laps.parts['policy']) * 1000, np.array(laps.parts['tabletop']) * 1000
    label = backend + ('' if options.get('cuda_graphs', True) or backend != 'torch'
                       else ' eager')
    return {'backend': label, 'device': options.get('device', 'cpu'), 'threads': threads,
            'actions': len(act), 'act_ms_mean': float(act.mean()),
            'act_ms_median': float(np.median(act)), 'act_ms_p95': float(np.percentile(act, 95)),
            'plan_ms_median': float(np.median(plan_s) * 1000), 'plans': len(plan_s),
            'planned_steps_per_s': evaluated / max(sum(plan_s), 1e-9),
            'latent_steps_per_s_b256': latent,
            'tabletop_ms_median': None if frames else float(np.median(sim))}


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
