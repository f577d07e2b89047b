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
Out-of-distribution tests: the same episodes with one edit, on the tabletop and in imagination.

Each edit (:mod:`wm_ros.evaluate.edits`) is applied twice to every start of the OOD task
families: to the tabletop's scene and task (the robot runs the edited scene) and to the
first frame only, as image editing would, for the world model. Per policy and edit, over
those families: real and imagined success before and after, the changes, and whether
their signs agree; agreement counts only pairs whose real change exceeds 10 points (a
smaller real change is within the noise of 25 episodes per family).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from wm_ros.episodes.env import Start
from wm_ros.evaluate import edits as edit_ops
from wm_ros.evaluate.rollouts import EvalConfig, imagine, run_tabletop

OOD_TASKS = ('block_to_region', 'block_to_block')
MIN_CHANGE = 0.10


def edit_start(start: Start, edit, seed: int) -> tuple[Start, Start]:
    """Return (the tabletop's start with the edited scene, the world model's edited frame)."""
    rng = np.random.default_rng([seed, start.seed])
    scene, task = edit_ops.apply_scene(start.scene, start.task, edit, rng)
    image = edit_ops.apply_frame(start.image, start.scene, scene)
    real = replace(start, scene=scene, task=task)
    return real, replace(real, image=image)


def run_ood(names: tuple[str, ...], config: EvalConfig, base: list[dict], group: list[Start],
            runtime, judge, model: str, reward: str, workers: int) -> dict:
    """Run every edit in ``names`` for every policy; return ``{'ood', 'ood_summary'}``."""
    parsed = [edit_ops.parse_edit(n) for n in names]          # unknown edit: fail first
    tasks = [t for t in config.tasks if t in OOD_TASKS] or list(config.tasks[:1])
    chosen = [s for s in group if s.task_family in tasks]
    rows = []
    for name, edit in zip(names, parsed):
        pairs = [edit_start(s, edit, config.seed) for s in chosen]
        jobs = [(p, real) for p in config.policies for real, _ in pairs]
        real = run_tabletop(jobs, model, reward, runtime.image_size, config, workers)
        for i, policy in enumerate(config.policies):
            imagined = imagine(runtime, judge, policy, [m for _, m in pairs], config)
            real_edit = np.mean([r.success for r in real[i * len(pairs):(i + 1) * len(pairs)]])
            before = [r for r in base if r['policy'] == policy and r['task'] in tasks]
            rows.append(_row(policy, name, tasks, before, float(real_edit),
                             float(np.mean([m.success for m in imagined]))))
    scored = [r for r in rows if r['agree'] is not None]
    return {'ood': rows, 'ood_summary': {
        'pairs': len(scored), 'agree': sum(r['agree'] for r in scored),
        'rate': sum(r['agree'] for r in scored) / len(scored) if scored else float('nan'),
        'tasks': tasks, 'min_change': MIN_CHANGE}}


def _row(policy: str, edit: str, tasks: list[str], before: list[dict], real_edit: float,
         imagined_edit: float) -> dict:
    real_base = float(np.mean([r['real'] for r in before]))
    imagined_base = float(np.mean([r['imagined'] for r in before]))
    real_change, imagined_change = real_edit - real_base, imagined_edit - imagined_base
    agree = None
    if abs(real_change) > MIN_CHANGE:
        agree = bool(np.sign(real_change) == np.sign(imagined_change))
    return {'policy': policy, 'edit': edit, 'task': '+'.join(tasks), 'n': len(before),
            'real_base': real_base, 'real_edit': real_edit, 'imagined_base': imagined_base,
            'imagined_edit': imagined_edit, 'real_change': real_change,
            'imagined_change': imagined_change, 'agree': agree}


def table(result: dict) -> str:
    """Return the Markdown table of the OOD rows and the agreement line."""
    lines = ['| policy | edit | real % before -> after | imagined % before -> after | '
             'signs agree |', '|---|---|---|---|---|']
    for r in result['ood']:
        mark = {None: f'(|real change| <= {100 * MIN_CHANGE:.0f})', True: 'yes',
                False: 'NO'}[r['agree']]
        lines.append(f"| {r['policy']} | {r['edit']} | {100 * r['real_base']:.0f} -> "
                     f"{100 * r['real_edit']:.0f} | {100 * r['imagined_base']:.0f} -> "
                     f"{100 * r['imagined_edit']:.0f} | {mark} |")
    s = result['ood_summary']
    lines += ['', f"Sign of the success change agrees for {s['agree']} of {s['pairs']} "
              f'(policy, edit) pairs with a real change over {100 * MIN_CHANGE:.0f} points.']
    return '\n'.join(lines)
