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
``python tools/bench_threads.py``: free-slot training steps per thread setting, alone and
beside busy processes, side by side in one run.

Each setting trains in a fresh process (no ``OMP_NUM_THREADS``, so ``default`` is torch's
own choice): ``default``, ``1``, ``2`` and ``auto`` (``threads: 0``, the rule of
:mod:`wm_ros.model.threads`, read when the process starts). The same settings run again
beside ``--busy`` Python busy loops this script starts and stops itself. Printed: seconds
per step (median of the timed steps, after ``--warmup``), and each one's ratio to
``threads=1`` measured in the same condition. The host's load average before each
condition says how alone "alone" was.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ('default', '1', '2', 'auto')


def worker(data: str, setting: str, config: str, steps: int, warmup: int, cap_s: float) -> dict:
    """Time free-slot training steps in this process; return its figures."""
    import numpy as np
    import torch

    from wm_ros.model import free_slots
    from wm_ros.model.free_slots_train import Tracks, unroll_loss
    from wm_ros.model.latent_train import load_label_free
    from wm_ros.model.threads import set_training_threads
    if setting == 'auto':
        set_training_threads(0)
    elif setting != 'default':
        set_training_threads(int(setting))
    threads = torch.get_num_threads()
    cfg = free_slots.load_config(config)
    episodes, _ = load_label_free([data], cfg)
    tracks = Tracks(episodes, cfg, workers=1)
    model = free_slots.FreeSlotsModel(cfg).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(0)
    times, start = [], time.perf_counter()
    for step in range(warmup + steps):
        t0 = time.perf_counter()
        loss = unroll_loss(model, tracks, tracks.sample(cfg.batch_size, rng))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= warmup:
            times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > cap_s and times:
            break
    return {'threads': threads, 's_per_step': float(np.median(times)), 'steps': len(times)}


def measure(data: Path, setting: str, args) -> dict:
    """Run :func:`worker` for ``setting`` in a fresh process; return its figures."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')}
    env['PYTHONPATH'] = str(ROOT)
    out = subprocess.run([sys.executable, __file__, '--worker', setting, '--data', str(data),
                          '--config', args.config, '--steps', str(args.steps),
                          '--warmup', str(args.warmup), '--cap-s', str(args.cap_s)],
                         env=env, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def condition(data: Path, busy: int, args) -> dict:
    """Measure every setting beside ``busy`` busy loops (started and stopped here)."""
    loops = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(busy)]
    try:
        time.sleep(2.0 if busy else 0.0)
        load = os.getloadavg()[0]
        return {'load': load, **{s: measure(data, s, args) for s in SETTINGS}}
    finally:
        for p in loops:
            p.kill()
            p.wait()


def table(results: dict) -> str:
    """Return the Markdown table: s/step (threads used) and ratio to threads=1, per condition."""
    head = '| setting | ' + ' | '.join(
        f'{name} (load {r["load"]:.1f}): s/step (threads) | / threads=1'
        for name, r in results.items()) + ' |'
    lines = [head, '|---|' + '---|---|' * len(results)]
    for s in SETTINGS:
        cells = []
        for r in results.values():
            one = r['1']['s_per_step']
            cells += [f'{r[s]["s_per_step"]:.3f} ({r[s]["threads"]})',
                      f'{r[s]["s_per_step"] / one:.2f}']
        lines.append(f'| {s} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    """Collect a little data, then time every setting alone and beside busy loops."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--config', default='default', help='free_slots.yaml section')
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--cap-s', type=float, default=60.0, help='max seconds per setting')
    p.add_argument('--busy', type=int, nargs='+', default=[1], help='busy loops beside')
    p.add_argument('--episodes', type=int, default=6)
    p.add_argument('--worker', default='', help=argparse.SUPPRESS)
    p.add_argument('--data', default='', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.data, args.worker, args.config, args.steps, args.warmup,
                                args.cap_s)))
        return 0
    from wm_ros.episodes.collect import collect
    with tempfile.TemporaryDirectory() as tmp:
        collect(tmp, args.episodes, seed=3, max_steps=60, progress=False)
        results = {'alone': condition(Path(tmp), 0, args)}
        for n in args.busy:
            results[f'beside {n} busy'] = condition(Path(tmp), n, args)
    print(f'cores: {len(os.sched_getaffinity(0))}; config: {args.config}')
    print(table(results))
    print(json.dumps(results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
