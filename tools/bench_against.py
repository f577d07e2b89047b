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
``python tools/bench_against.py REV``: ``wm-ros bench evaluate`` and ``wm-ros bench world-model``
for this working tree and for commit ``REV``, interleaved in one run, with their ratios.

A change is "nothing slower" when every ratio (this tree / REV) is within the spread of the
rounds. ``REV`` is checked out into a temporary git worktree and run with the same virtual
environment (``PYTHONPATH`` points at it), so both use the same libraries and models.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RUN = 'import sys; from wm_ros.cli import main; sys.exit(main(sys.argv[1:]))'
FIGURES = {'evaluate': ('tabletop_s', 'imagine_s'),
           'world-model': ('torch_fps_b64', 'onnxruntime_fps_b64', 'torch_latent_b256',
                           'onnxruntime_latent_b256')}


def bench(tree: Path, what: str, args: list[str]) -> dict:
    """Run ``wm-ros bench WHAT --json`` from ``tree``; return its figures."""
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS='1')
    out = subprocess.run([sys.executable, '-c', RUN, 'bench', what, '--json', *args], cwd=tree,
                         env=env, capture_output=True, text=True, check=True).stdout
    rows = json.loads(out.strip().splitlines()[-1])
    if what == 'world-model':        # the world model's throughputs, as both versions name them
        rows = {f'{b}_{k}': rows[f'{b}_{key}'] for b in ('torch', 'onnxruntime')
                for k, key in (('fps_b64', 'fps_b64'), ('latent_b256', 'latent_steps_b256'))}
    return rows


def main(argv=None) -> int:
    """Run both benchmarks ``--rounds`` times, alternating the trees; print the ratios."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('rev', help='commit to compare against, e.g. the one before a change')
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--policies', default='bc_full,expert')
    p.add_argument('--episodes', default='4')
    p.add_argument('--only', choices=tuple(FIGURES), help='run one of the two benchmarks')
    a = p.parse_args(argv)
    figures = {a.only: FIGURES[a.only]} if a.only else FIGURES
    args = {'evaluate': ['--policies', a.policies, '--episodes', a.episodes], 'world-model': []}
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / 'rev'
        subprocess.run(['git', '-C', str(ROOT), 'worktree', 'add', '--detach', str(old), a.rev],
                       check=True, capture_output=True)
        try:
            runs = {(w, t): [] for w in figures for t in ('this', a.rev)}
            for r in range(a.rounds):
                for what in figures:
                    for name, tree in (('this', ROOT), (a.rev, old))[::1 if r % 2 == 0 else -1]:
                        runs[(what, name)].append(bench(tree, what, args[what]))
                        print(f'round {r + 1} {what} {name} done', flush=True)
        finally:
            subprocess.run(['git', '-C', str(ROOT), 'worktree', 'remove', '--force', str(old)],
                           check=False, capture_output=True)
    print(f'\n{"figure":32s} {"this tree":>12s} {a.rev[:10]:>12s} {"this/rev":>9s}  rounds')
    for what, keys in figures.items():
        for key in keys:
            mine = [r[key] for r in runs[(what, 'this')]]
            theirs = [r[key] for r in runs[(what, a.rev)]]
            ratio = np.median(mine) / np.median(theirs)
            print(f'{what + " " + key:32s} {np.median(mine):12.1f} {np.median(theirs):12.1f} '
                  f'{ratio:9.3f}  {[round(x, 1) for x in mine]} vs '
                  f'{[round(x, 1) for x in theirs]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
