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
``wm-ros bench sim``: what one step of the reference robot costs on this machine.

Prints, side by side from one run: physics only (one control period of substeps), render
only, and step+render at 64x64 and 128x128 (and 64x64 with shadows, to show why they are
off by default), each as median and p95 milliseconds and steps/s; then the throughput of
step+render at 64x64 with one worker process per core, which is the tabletop's best
frames/s and the baseline the world model's throughput is compared with.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
import multiprocessing
import os
import time

import numpy as np

from wm_ros.bench import stats
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv


def _timed(fn, n: int) -> np.ndarray:
    out = np.empty(n)
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out[i] = time.perf_counter() - t
    return out * 1e3


def measure(image_size: int = 64, shadows: bool = False, n: int = 300, seed: int = 0
            ) -> dict[str, np.ndarray]:
    """Return per-call milliseconds for ``physics``, ``render`` and ``step`` (both)."""
    env = TabletopEnv(TabletopConfig(image_size=image_size, shadows=shadows, task='separate'))
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).uniform(-0.2, 0.2, (n, 2))
    try:
        return {'physics': _timed(lambda i: env.advance(actions[i]), n),
                'render': _timed(lambda i: env.render(), n),
                'step': _timed(lambda i: env.step(actions[i]), n)}
    finally:
        env.close()


def _worker(args) -> int:
    image_size, n, seed = args
    env = TabletopEnv(TabletopConfig(image_size=image_size, task='separate'))
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).uniform(-0.2, 0.2, (n, 2))
    for a in actions:
        env.step(a)
    env.close()
    return n


def parallel_fps(image_size: int = 64, n: int = 1000, workers: int | None = None) -> float:
    """Return step+render frames/s with ``workers`` processes (default: one per core)."""
    workers = workers or os.cpu_count() or 1
    ctx = multiprocessing.get_context('spawn')    # EGL contexts do not survive fork
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        list(pool.map(_worker, [(image_size, 5, 0)] * workers))  # warm up EGL and imports
        t = time.perf_counter()
        frames = sum(pool.map(_worker, [(image_size, n, k) for k in range(workers)]))
        return frames / (time.perf_counter() - t)


def main(n: int = 300) -> dict:
    """Run the benchmark, print the table and return the medians."""
    rows = {}
    print(f'tabletop benchmark, {n} calls each, CPU cores: {os.cpu_count()}')
    for size, shadows in ((64, False), (128, False), (64, True)):
        res = measure(size, shadows, n)
        label = f'{size}x{size}{" shadows" if shadows else ""}'
        for part in ('physics', 'render', 'step'):
            name = {'physics': 'physics step', 'render': 'render', 'step': 'step+render'}[part]
            print(f'{label:>16} {name:>13}: {stats(res[part])}')
            rows[f'{label} {name}'] = float(np.median(res[part]))
    fps = parallel_fps(64)
    print(f'{"64x64":>16} step+render, {os.cpu_count()} processes: {fps:8.0f} frames/s')
    rows['64x64 parallel frames/s'] = fps
    base = rows['64x64 step+render']
    print(f'shadows cost {rows["64x64 shadows step+render"] / base:.1f}x per 64x64 step; '
          f'render is {rows["64x64 render"] / base:.0%} of a 64x64 step')
    return rows
