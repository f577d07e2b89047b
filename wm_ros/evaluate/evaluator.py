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
``wm-ros evaluate``: policies judged in imagination by the reward model, against the robot.

Protocol (WorldGym-style, closed loop). For every task family and episode k a fixed
tabletop seed gives a scene, a task and a real first frame, the same for every policy.
Every episode runs through the one episode driver (:mod:`wm_ros.episodes`); the suite's
episodes are :mod:`wm_ros.evaluate.rollouts`.

* **Tabletop** ("real robot"): each policy runs from that scene until the physics says
  success or the step limit; the oracle's verdict is the real outcome. The reward model also
  judges the real frames (success = the first frame it scores at or above its threshold),
  which measures the judge on real rollouts. Episodes run in a pool of ``workers``
  processes (all cores); the result does not depend on the number of workers.
* **Imagination**: all episodes of every policy (every family) start as one batch from the
  same first frames (``runtime.encode``). Each step each policy acts on its own rows of
  the decoded frames (a learned policy: one forward pass for its rows), the world model
  steps, and the reward model scores the new frames; a row stops once the score has
  reached the threshold on ``hold`` frames in a row (success; 1: the first such frame) or
  at the family's step limit (``judge='state'``: the first time the imagined-state judge
  says success; both verdicts are always recorded). Over hundreds of steps a judge with a
  1 % false-positive rate per frame would pass some frame of most failed rollouts;
  asking for a few frames in a row guards against one misjudged (or hallucinated) frame.
  The world model is reached only through the runtime contract (encode / step / decode),
  so any model family works; where the family can read objects out (``ObjectReadout``)
  the imagined-state judge runs beside the reward model as a second judge and as the
  reference for the reward model's errors on imagined frames.

``view='redrawn'`` splits a gap into its two model causes: on the tabletop each policy
then sees the model's redraw of the camera frame (encode, decode) instead of the frame,
while the physics moves the blocks. Real success under the redrawn view minus real success
under the camera is what the drawing costs the policy; imagined minus redrawn is what the
imagined dynamics (and the judge) add.

Output per policy x family cell: real and imagined success with bootstrap 95 % intervals,
the gap; over the cells Pearson, Spearman, MMRV (SIMPLER) and the mean absolute gap; the
reward model's confusion on real rollouts (against the oracle) and on imagined ones
(against the imagined-state judge). OOD edits (:mod:`wm_ros.evaluate.ood`) reuse the same
episodes. Policies are names of :mod:`wm_ros.policy.registry` (the zoo, the perceiving
experts) or policy directories.
"""

from __future__ import annotations

from dataclasses import asdict
import json
import os
from pathlib import Path
import time

from wm_ros.episodes.driver import PartClock
from wm_ros.episodes.env import EpisodeResult, Start
from wm_ros.evaluate.rollouts import (EvalConfig, imagination_policy, imagine_many,
                                      run_tabletop, starts)
from wm_ros.policy import registry
from wm_ros.sim.tasks import check_family

__all__ = ['EvalConfig', 'evaluate', 'reuse_real', 'run_tabletop', 'starts']


def reuse_real(path: str | Path, config: EvalConfig, reward: str,
               jobs: list[tuple[str, Start]]) -> list[EpisodeResult]:
    """
    Return the tabletop outcomes of ``jobs`` from an earlier ``evaluation.json``.

    The real side of the suite depends only on the policies, the starts, the step limits
    and the reward model, not on the world model: comparing model families on the same
    suite needs it once. Anything that differs is refused, naming it.
    """
    from wm_ros.evaluate.summary import evaluation_file
    path = evaluation_file(path)
    if not path.is_file():
        raise FileNotFoundError(f'no evaluation at {path} to take the real outcomes from')
    old = json.loads(path.read_text())
    # older evaluations had no view and no jitter
    was = {'view': 'camera', 'jitter_m': 0.0, **old.get('config', {})}
    for key in ('seed', 'max_steps', 'max_steps_long', 'view', 'jitter_m'):
        if was.get(key) != getattr(config, key):
            raise ValueError(f'{path} ran with {key}={was.get(key)}, this run has '
                             f'{getattr(config, key)}: its real outcomes do not apply')
    if Path(str(was.get('reward'))).resolve() != Path(reward).resolve():
        raise ValueError(f'{path} judged real frames with reward model {was.get("reward")}, '
                         f'this run uses {reward}')
    index = {(e['policy'], e['task'], e['k'], e['seed']): e for e in old.get('episodes', [])}
    out = []
    for policy, start in jobs:
        e = index.get((policy, start.task_family, start.k, start.seed))
        if e is None:
            raise ValueError(f'{path} has no real outcome for {policy} on {start.task_family} '
                             f'episode {start.k}: run the tabletop (omit --real-from)')
        out.append(EpisodeResult(e['real'], e['real_steps'], judged=e['real_judged'],
                                 seconds=e['real_s']))
    return out


def _check(config: EvalConfig, model: str, runtime, ood_edits: tuple[str, ...]) -> None:
    """Refuse a bad request before any model other than ``runtime`` loads."""
    from wm_ros.runtime.base import ObjectReadout
    for family in config.tasks:
        check_family(family)
    if config.episodes < 1:
        raise ValueError(f'need at least 1 episode per task, got {config.episodes}')
    for name in config.policies:
        registry.check(name)
    if config.judge == 'state' and not isinstance(runtime, ObjectReadout):
        raise ValueError(f"{model}: judge 'state' reads objects out of the imagined state; "
                         f'{type(runtime).__name__} cannot (no ObjectReadout): use judge '
                         "'reward'")
    if ood_edits:
        from wm_ros.evaluate.edits import parse_edit
        for name in ood_edits:
            parse_edit(name)


def evaluate(config: EvalConfig, model: str, reward: str, backend: str = 'onnxruntime',
             ood_edits: tuple[str, ...] = (), progress: bool = True,
             real_from: str | Path | None = None) -> dict:
    """
    Run the suite (module docstring); return the evaluation dict (see ``summary``).

    ``real_from``: take the tabletop outcomes from that earlier evaluation (same starts,
    limits and reward model) and run only the imagination, to compare model families.
    """
    from wm_ros.evaluate import summary
    from wm_ros.reward import load_reward
    from wm_ros.runtime import load_runtime
    cores = os.cpu_count() or 1
    workers = config.workers or cores
    runtime = load_runtime(model, backend, threads=cores)
    _check(config, model, runtime, ood_edits)
    judge = load_reward(reward)
    group = starts(config, runtime.image_size)
    policies = imagination_policy(runtime, list(config.policies), len(group))   # fail early
    t0 = time.perf_counter()
    jobs = [(p, s) for p in config.policies for s in group]
    keep = {i for i, (_, s) in enumerate(jobs) if s.k == 0}
    real = reuse_real(real_from, config, reward, jobs) if real_from else \
        run_tabletop(jobs, model, reward, runtime.image_size, config, workers, keep)
    t1 = time.perf_counter()
    clock = PartClock()
    imagined = [r for per_policy in imagine_many(
        runtime, judge, list(config.policies), group, config,
        {i for i, s in enumerate(group) if s.k == 0}, clock, policies) for r in per_policy]
    t2 = time.perf_counter()
    records = [summary.record(p, s, r, m) for (p, s), r, m in zip(jobs, real, imagined)]
    timing = {'tabletop_s': t1 - t0, 'imagine_s': t2 - t1, 'workers': workers,
              'real_from': str(real_from) if real_from else None,
              'imagine_threads': cores, 'tabletop_steps': sum(r.steps for r in real),
              'imagined_steps': sum(m.steps for m in imagined),
              'imagine_parts_s': {k: clock.seconds[k] for k in PartClock.PARTS}}
    result = summary.summarise(records, dict(asdict(config), model=str(model),
                                             reward=str(reward), backend=backend,
                                             judge=type(judge).__name__), timing)
    result['_rollouts'] = [(p, s, r, m) for (p, s), r, m in zip(jobs, real, imagined)
                           if s.k == 0]
    if ood_edits:
        from wm_ros.evaluate.ood import run_ood
        result.update(run_ood(ood_edits, config, records, group, runtime, judge, model,
                              reward, workers))
    return result
