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
``wm-ros bench rl``: where the time of ``wm-ros rl`` goes, and the acceptance run's clock.

Reads the seconds per part that every update of a run records in ``rl.json`` (``--run
DIR``), or first runs a short training itself (``wm-ros rl`` in a subprocess, section
``--config`` of ``config/rl.yaml``, ``--updates`` updates, a start pool just large enough,
one held-out start, whose evaluation warms the policy up before the first update) and
reads those. Prints side by side: seconds per part (policy forward, world model, reward
model, state judge, update, the rest), each per imagined step and as a share of the
whole; imagined steps per second (rollouts alone, and with the update); and the projected
wall clock of the acceptance run, the ``default`` config, against the goal of one hour
per policy on 2 cores.

Projection: an update of the default config runs ``starts x group`` rollouts. Their steps
are the measured mean steps per rollout where the measured run had the default's step
limits and families, else every rollout is taken to run to its step limit (an upper
bound, said so). Rollout seconds scale with steps (the rest, trajectories and advantages,
with them); update seconds with trained steps x epochs, trained steps being the measured
kept fraction of the steps. The held-out evaluations (before, every ``eval_every``
updates, after) add their episodes at the rollouts' rate.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
import subprocess
import sys
import tempfile

GOAL_S = 3600.0          # issue 28: at most one hour per policy on 2 cores
PARTS = ('policy', 'world_model', 'reward_model', 'state_judge', 'update')


def measured(run: dict) -> dict:
    """Return a run's totals: updates, rollouts, steps, trained steps, seconds per part."""
    history = run['history']
    parts = {p: sum(h.get('part_seconds', {}).get(p, 0.0) for h in history) for p in PARTS}
    total = sum(h['seconds'] for h in history)
    parts['other'] = max(total - sum(parts.values()), 0.0)
    return {'updates': len(history), 'rollouts': sum(h['rollouts'] for h in history),
            'steps': sum(h['steps'] for h in history),
            'trained_steps': sum(h['trained_steps'] for h in history),
            'epochs': int(run['config'].get('epochs', 1)), 'seconds': total, 'parts': parts}


def _limit(cfg, family: str) -> int:
    from wm_ros.sim.tasks import LONG_HORIZON
    return cfg.max_steps_long if family in LONG_HORIZON else cfg.max_steps


def projection(m: dict, run: dict, families: list[str], target) -> dict:
    """Return the projected seconds of a run of config ``target`` at ``m``'s rates."""
    cfg = run['config']
    same = (cfg.get('max_steps') == target.max_steps and set(families) == set(target.families)
            and cfg.get('max_steps_long') == target.max_steps_long)
    per_rollout = (m['steps'] / max(m['rollouts'], 1) if same else
                   sum(_limit(target, f) for f in target.families) / len(target.families))
    rollout_s = m['seconds'] - m['parts']['update']
    per_step = rollout_s / max(m['steps'], 1)
    kept = m['trained_steps'] / max(m['steps'], 1)
    per_trained = m['parts']['update'] / max(m['trained_steps'] * m['epochs'], 1)
    steps = target.starts * target.group * per_rollout
    update_s = steps * per_step + steps * kept * target.epochs * per_trained
    evaluations = 2 + (target.updates // target.eval_every if target.eval_every else 0)
    eval_s = evaluations * target.eval_starts * per_rollout * per_step
    total = target.updates * update_s + eval_s
    return {'steps_per_rollout': round(per_rollout, 1),
            'steps_basis': 'measured' if same else 'upper bound: every rollout to its limit',
            'steps_per_update': round(steps), 'kept_fraction': round(kept, 3),
            'update_s': round(update_s, 1), 'eval_s': round(eval_s, 1),
            'updates': target.updates, 'total_s': round(total, 1),
            'goal_s': GOAL_S, 'vs_goal': round(total / GOAL_S, 2),
            'update_cost_known': m['trained_steps'] > 0}


def train(config: str, policy: str, model: str, reward: str | None, updates: int,
          families: list[str], out: Path) -> Path:
    """Run a short ``wm-ros rl`` into ``out`` (a subprocess); return ``out``."""
    from wm_ros.rl.config import load_config
    cfg = load_config(config)
    pool = math.ceil(cfg.starts / len(families or cfg.families))
    cmd = [sys.executable, '-m', 'wm_ros.cli', 'rl', '--policy', policy, '--model', model,
           '--config', config, '--quiet', '--out', str(out), '--set', f'updates={updates}',
           'eval_starts=1', f'pool={pool}']      # one held-out start: its evaluation before
    # the first update loads the language encoder and warms the runtime (else: policy time)
    cmd += ['--reward', reward] if reward else []
    cmd += ['--families', *families] if families else []
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ['no message'])[-1]
        raise RuntimeError(f'the short training run failed ({said})')
    return out


def report(m: dict, p: dict, source: str) -> None:
    """Print the parts side by side, the rates and the projection."""
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print(f"{source}: {m['updates']} updates, {m['rollouts']} rollouts, {m['steps']} imagined "
          f"steps, {m['trained_steps']} trained; load average {load:.1f} on "
          f'{os.cpu_count()} cores')
    print(f"{'part':<13}{'seconds':>9}{'ms/step':>9}{'share':>7}")
    for part, s in {**m['parts'], 'total': m['seconds']}.items():
        print(f"{part:<13}{s:9.2f}{1000 * s / max(m['steps'], 1):9.3f}"
              f"{100 * s / max(m['seconds'], 1e-9):6.0f}%")
    rollout_s = m['seconds'] - m['parts']['update']
    print(f"imagined steps/s: {m['steps'] / max(rollout_s, 1e-9):.0f} in the rollouts, "
          f"{m['steps'] / max(m['seconds'], 1e-9):.0f} with the update")
    print(f"acceptance run (config default): {p['updates']} updates x {p['steps_per_update']} "
          f"steps ({p['steps_per_rollout']} per rollout, {p['steps_basis']}; kept "
          f"{100 * p['kept_fraction']:.0f} %) = {p['update_s']:.1f} s per update, + "
          f"{p['eval_s']:.1f} s held-out evaluations")
    print(f"projected {p['total_s'] / 3600:.2f} h per policy against the goal of "
          f"{p['goal_s'] / 3600:.0f} h: {p['vs_goal']:.2f}x the goal"
          + ('' if p['update_cost_known'] else '; no step was trained in the measured run, '
             "so the update's cost is missing: measure more updates"))


def main(run: str | None = None, config: str = 'default', policy: str = 'bc_full',
         model: str = '', reward: str | None = None, updates: int = 1,
         families: list[str] | None = None) -> dict:
    """Measure (or read ``run``'s rl.json), print, and return the figures."""
    from wm_ros.evaluate.rl import families_of
    from wm_ros.rl.config import load_config
    families = list(families or [])
    with tempfile.TemporaryDirectory(prefix='bench_rl_') as tmp:
        path = Path(run) if run else train(config, policy, model, reward, updates, families,
                                           Path(tmp) / 'run')
        file = path / 'rl.json'
        try:
            doc = json.loads(file.read_text())
        except (OSError, ValueError):
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get('history'), list) \
                or not isinstance(doc.get('config'), dict):
            raise ValueError(f'{path} is not an RL run (no readable rl.json with a history); '
                             'give the --out directory of `wm-ros rl`, or no --run')
    m = measured(doc)
    named, configured = families_of(doc), list(doc['config'].get('families', []))
    # the held-out starts may show a few families only; a run's --families are not in config
    trained = families or (configured if set(named) <= set(configured) else named)
    p = projection(m, doc, trained, load_config('default'))
    report(m, p, f'{path}' if run else f'a short run of config {config} ({policy})')
    return {'measured': m, 'projection': p}
