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
``python tools/bench_pusht.py``: PushT beside the tabletop, and the PushT expert's success.

1. Step rate, side by side in one run: :class:`~wm_ros.sim.pusht.PushTEnv` and
   :class:`~wm_ros.sim.tabletop.TabletopEnv` at the same camera size, in alternating
   rounds (``--rounds`` of ``-n`` calls each), physics only (``advance``) and step+render
   (``step``): median and p95 ms per call, steps/s, and PushT's ratio to the tabletop.
2. ``--episodes`` fresh PushT episodes (suite seed ``--seed``, starts from the seed rule;
   seed 0 and the tests' seeds were used to tune the expert, so pick another) of each
   ``--policies`` through the episode driver at PushT's 300-step limit: successes by
   PushT's own verdict (coverage > 0.95) with a 95 % Wilson interval, steps to success,
   final coverage, and seconds per episode.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault('MUJOCO_GL', 'egl')

import numpy as np  # noqa: E402

from wm_ros.bench import stats  # noqa: E402
from wm_ros.episodes.pusht import run_pusht  # noqa: E402
from wm_ros.sim.pusht import PushTConfig, PushTEnv  # noqa: E402
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv  # noqa: E402


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Return the 95 % Wilson score interval of ``successes`` out of ``n``."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _timed(env, call: str, actions: np.ndarray) -> np.ndarray:
    out = np.empty(len(actions))
    fn = getattr(env, call)
    for i, a in enumerate(actions):
        t = time.perf_counter()
        fn(a)
        out[i] = time.perf_counter() - t
    return out * 1e3


def step_rates(image_size: int, n: int, rounds: int) -> None:
    """Print physics-only and step+render costs of both robots, measured in turns."""
    envs = {'tabletop': TabletopEnv(TabletopConfig(image_size=image_size, task='separate')),
            'pusht': PushTEnv(PushTConfig(image_size=image_size))}
    times = {(r, c): [] for r in envs for c in ('advance', 'step')}
    rng = np.random.default_rng(0)
    for k in range(rounds):
        for name, env in envs.items():
            env.reset(seed=k)
            for call in ('advance', 'step'):
                times[name, call].append(_timed(env, call, rng.uniform(-0.2, 0.2, (n, 2))))
    print(f'step rate, {image_size}x{image_size} camera, {rounds} rounds x {n} calls, '
          f'one process, CPU cores: {os.cpu_count()}, load average before: '
          f'{os.getloadavg()[0]:.1f}')
    for call, label in (('advance', 'physics only'), ('step', 'step+render')):
        med = {}
        for name in envs:
            ms = np.concatenate(times[name, call])
            med[name] = float(np.median(ms))
            print(f'  {name:>8} {label:>12}: {stats(ms)}')
        print(f'  {"":>8} {label:>12}: PushT / tabletop = {med["pusht"] / med["tabletop"]:.2f}x '
              'time per call')
    for env in envs.values():
        env.close()


def success(policy: str, episodes: int, seed: int) -> None:
    """Print ``policy``'s success on ``episodes`` fresh PushT starts of suite ``seed``."""
    t = time.perf_counter()
    results = run_pusht(policy, episodes, seed)
    seconds = time.perf_counter() - t
    wins = [r for r in results if r.success]
    lo, hi = wilson(len(wins), len(results))
    steps = np.median([r.steps for r in wins]) if wins else float('nan')
    cover = np.median([r.info['coverage'] for r in results])
    print(f'  {policy:>13}: {len(wins)}/{len(results)} = {len(wins) / len(results):.0%} '
          f'(95 % Wilson {lo:.0%}-{hi:.0%}); median steps to success {steps:.0f}; median '
          f'final coverage {cover:.3f}; {seconds / len(results):.1f} s per episode')


def main() -> None:
    """Run both parts with the command line's settings."""
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('-n', type=int, default=200, help='calls per round and robot')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--image-size', type=int, default=64)
    ap.add_argument('--episodes', type=int, default=50)
    ap.add_argument('--seed', type=int, default=2027)
    ap.add_argument('--policies', default='pusht_expert,pusht_noisy')
    args = ap.parse_args()
    step_rates(args.image_size, args.n, args.rounds)
    print(f'PushT success, {args.episodes} fresh episodes of suite seed {args.seed}, '
          '300-step limit, PushT\'s verdict (coverage > 0.95)')
    for policy in args.policies.split(','):
        success(policy, args.episodes, args.seed)


if __name__ == '__main__':
    main()
