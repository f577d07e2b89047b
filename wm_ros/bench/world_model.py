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
``wm-ros bench world-model``: the world model next to the tabletop, in one run.

Prints, for the torch and the ONNX Runtime backend (same machine, same model, measured one
after the other in this process so neither competes with the other for cores):

* step latency at batch 1 (latent step, and step + decode = one imagined camera frame);
* decoded-frame throughput (step + decode) at batch 1, 16, 64, 256;
* latent-only steps/s at batch 256 (what a planner uses: no pixels);
* the ORT/torch throughput ratio per batch;
* the tabletop's step+render frames/s using every core (``wm_ros.bench.sim``) and the
  world model's throughput ratio to it for the same number of frames;
* with ``baseline`` (another model directory, e.g. the previously shipped one), the same
  figures of that model measured in the same run, interleaved per backend, and the
  ratios new / baseline, so "nothing slower" is a side-by-side measurement.
"""

from __future__ import annotations

import os
from pathlib import Path
import time

import numpy as np

from wm_ros.bench import stats
from wm_ros.runtime import load_runtime

BATCHES = (1, 16, 64, 256)


def _frames(size: int, n: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return ``n`` real tabletop first frames and pusher positions at ``size``."""
    from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
    env = TabletopEnv(TabletopConfig(image_size=size, task='separate'))
    frames, ee = [], []
    for k in range(n):
        obs, _ = env.reset(seed=seed + k)
        frames.append(obs['image'])
        ee.append(obs['ee_xy'])
    env.close()
    return np.stack(frames), np.stack(ee)


def _state(runtime, batch: int, frames: tuple[np.ndarray, np.ndarray]):
    """Encode a batch of real frames (so the slots hold real blocks)."""
    idx = np.arange(batch) % len(frames[0])
    return runtime.encode(frames[0][idx], frames[1][idx])


def _time(fn, seconds: float = 1.0, min_calls: int = 5) -> np.ndarray:
    fn()                                           # warm up (allocations, ORT arenas)
    out, start = [], time.perf_counter()
    while len(out) < min_calls or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return np.array(out) * 1e3


def measure_backend(runtime, frames, seconds: float = 1.0) -> dict:
    """Return latency (ms) and throughput figures of one runtime."""
    rng = np.random.default_rng(0)
    res: dict = {}
    for batch in BATCHES:
        state = _state(runtime, batch, frames)
        action = rng.uniform(-0.2, 0.2, (batch, 2)).astype(np.float32)

        def frame(state=state, action=action):
            runtime.decode(runtime.step(state, action))
        ms = _time(frame, seconds)
        res[f'frame_ms_b{batch}'] = ms
        res[f'fps_b{batch}'] = batch * 1e3 / float(np.median(ms))
        if batch in (1, 256):
            ms = _time(lambda state=state, action=action: runtime.step(state, action), seconds)
            res[f'latent_ms_b{batch}'] = ms
            res[f'latent_steps_b{batch}'] = batch * 1e3 / float(np.median(ms))
    return res


def compare(model: str | Path, baseline: str | Path, seconds: float = 1.0,
            rounds: int = 3) -> dict:
    """Measure ``model`` and ``baseline`` in turns (``rounds`` each); print new/baseline."""
    size = load_runtime(model, 'torch').image_size
    frames = _frames(size)
    keys = ('frame_ms_b1', 'fps_b64', 'latent_steps_b256')
    out: dict = {}
    print(f'model {model} vs baseline {baseline}, {rounds} interleaved rounds of {seconds} s')
    print('   backend     | figure            | model    | baseline | model/baseline')
    for backend in ('torch', 'onnxruntime'):
        runs: dict = {'model': [], 'baseline': []}
        runtimes = {name: load_runtime(path, backend, threads=1) if backend == 'onnxruntime'
                    else load_runtime(path, backend)
                    for name, path in (('model', model), ('baseline', baseline))}
        for _ in range(rounds):
            for name, runtime in runtimes.items():
                runs[name].append(measure_backend(runtime, frames, seconds))
        for key in keys:
            med = {n: float(np.median([np.median(r[key]) for r in v])) for n, v in runs.items()}
            out[f'{backend}_{key}'] = med
            ratio = med['model'] / med['baseline']
            print(f'   {backend:11s} | {key:17s} | {med["model"]:8.2f} | {med["baseline"]:8.2f} '
                  f'| {ratio:6.3f}{" (lower is faster)" if "_ms_" in key else ""}')
    return out


def _frames_or_blank(size: int) -> tuple[tuple[np.ndarray, np.ndarray], bool]:
    """Return real tabletop frames and True, or one blank frame and False without EGL."""
    try:
        return _frames(size), True
    except Exception as exc:  # noqa: BLE001 - e.g. no EGL on a headless GPU host
        print(f'tabletop unavailable ({type(exc).__name__}: {exc}); encoding blank frames, '
              'no tabletop comparison')
        return (np.full((1, size, size, 3), 200, np.uint8), np.zeros((1, 2), np.float32)), False


def _print_backend(label: str, r: dict) -> None:
    """Print one backend's latencies and throughputs."""
    print(f'-- {label}')
    print(f'   latent step   b1: {stats(r["latent_ms_b1"])}')
    print(f'   step+decode   b1: {stats(r["frame_ms_b1"])}')
    for b in BATCHES:
        print(f'   decoded frames/s b{b:<3}: {r[f"fps_b{b}"]:10.0f}')
    print(f'   latent steps/s b256: {r["latent_steps_b256"]:10.0f}')


def _versus_tabletop(size: int, sim_frames: int, t: dict, o: dict) -> dict:
    """Measure the tabletop on every core; print and return the world model's ratios to it."""
    from wm_ros.bench.sim import measure, parallel_fps
    sim = measure(size, n=200)
    sim_fps = parallel_fps(size, sim_frames)
    rows = {'tabletop_step_render_ms': float(np.median(sim['step'])),
            'tabletop_parallel_fps': sim_fps}
    print(f'-- tabletop {size}x{size} step+render: {stats(sim["step"])}; '
          f'{os.cpu_count()} processes: {sim_fps:.0f} frames/s')
    print('   batch | torch fps | ORT fps | ORT/torch | best WM / tabletop (all cores)')
    for b in BATCHES:
        best = max(t[f'fps_b{b}'], o[f'fps_b{b}'])
        print(f'   {b:5d} | {t[f"fps_b{b}"]:9.0f} | {o[f"fps_b{b}"]:7.0f} | '
              f'{o[f"fps_b{b}"] / t[f"fps_b{b}"]:9.2f} | {best / sim_fps:8.1f}x')
        rows[f'ratio_wm_tabletop_b{b}'] = best / sim_fps
    wm_ms = min(np.median(t['frame_ms_b1']), np.median(o['frame_ms_b1']))
    print(f'   batch-1 imagined frame vs tabletop step+render: {wm_ms:.3f} ms vs '
          f'{rows["tabletop_step_render_ms"]:.3f} ms '
          f'({rows["tabletop_step_render_ms"] / wm_ms:.1f}x)')
    print(f'   latent steps/s b256: torch {t["latent_steps_b256"]:.0f}, '
          f'ORT {o["latent_steps_b256"]:.0f} (goal 100000); decoded frames/s b64: '
          f'{max(t["fps_b64"], o["fps_b64"]):.0f} (goal 5000)')
    return rows


def main(model: str | Path, onnx: str | Path | None = None, seconds: float = 1.0,
         sim_frames: int = 1000, device: str = 'cpu', baseline: str | Path | None = None
         ) -> dict:
    """Run the benchmark, print the table and return the figures."""
    if baseline:
        return compare(model, baseline, seconds)
    onnx = Path(onnx) if onnx else Path(model) / 'onnx'
    print(f'world-model benchmark, CPU cores: {os.cpu_count()}, model {model}, torch on '
          f'{device}')
    results = {}
    size = load_runtime(model, 'torch').image_size
    frames, tabletop = _frames_or_blank(size)
    for backend, path in (('torch', model), ('onnxruntime', onnx)):
        runtime = load_runtime(path, backend, **({'device': device} if backend == 'torch'
                                                 else {}))
        label = (f'torch {device}' if backend == 'torch'
                 else f'onnxruntime {runtime.providers[0]}')
        results[backend] = measure_backend(runtime, frames, seconds)
        _print_backend(label, results[backend])
    t, o = results['torch'], results['onnxruntime']
    if not tabletop:
        for b in BATCHES:
            tb, ob = t[f'fps_b{b}'], o[f'fps_b{b}']
            print(f'   batch {b:3d}: torch {tb:9.0f} fps, ORT {ob:9.0f} fps, ORT/torch '
                  f'{ob / tb:.2f}')
        return {f'{k}_{n}': float(np.median(v)) for k, r in results.items() for n, v in r.items()}
    rows = _versus_tabletop(size, sim_frames, t, o)
    for backend, r in results.items():
        for key, value in r.items():
            rows[f'{backend}_{key}'] = (float(np.median(value)) if isinstance(value, np.ndarray)
                                        else float(value))
    return rows
