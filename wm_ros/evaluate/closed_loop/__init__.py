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
``wm-ros eval closed-loop``: whether success in imagination predicts success on the robot.

Protocol: for every task family and episode k, a fixed tabletop seed (derived from
``seed``) gives a real first frame. Every pixel policy (:mod:`wm_ros.policy.degraded` by
default; any perceiving kind of :mod:`wm_ros.policy.registry`, e.g. ``expert_sideways``)
runs from it on the tabletop (``TabletopEnv``, the "real robot"; until success or its step
limit) and in imagination: the first frames of a family x policy are encoded as one batch,
and each step the batch is decoded, each row's own policy instance acts on its own row's
frame (with the true scene and task, as on the robot), the batch is stepped, and each row
is judged by its :class:`~wm_ros.reward.task_judge.TaskJudge` on the imagined objects.
A row that succeeds stops (zero action, outcome frozen), as the tabletop episode ends at
success. Separately, the tabletop's recorded actions are replayed open loop in imagination
from the same first frame: the replay *agrees* when the judge's verdict at the last
replayed step equals the real verdict at that step.

Replay protocol: a tabletop episode that succeeds goes on for ``settle`` more steps with
the policy still acting (the expert pushes on toward its target, past the threshold), and
the replay covers those steps too; success rates use the first success as before. Without
it the real block always stops exactly at the success threshold, so an imagined error of
a few millimetres flips the verdict half the time: the report also gives the agreement
judged at the real episode's first-success step (``replay_agreement_at_success``, the
protocol before ``settle``) and at any replayed step.

What open-loop replay can reach at all (``physics_replay``): the same real actions are
replayed on the tabletop itself, once from the scene as the model reads it off the first
frame (each named block moved to the pose the read-out gives it, a few tenths of a
millimetre off) and once from the true scene with every block moved by N(0, 1 mm). Pushing
is sensitive to where contact starts: if the physics engine, from the start the model
perceives, reproduces the real outcome in only part of the episodes, no learned dynamics
can do better from that start, and the replay target is bounded by it.

Each episode where imagination and the robot disagree gets one cause: ``misread`` (at the
first frame the judge found a named block missing or read as another kind), else
``timeout`` (real success, imagined failure) or ``hallucination`` (imagined success, real
failure). Per policy x family cell: success on both (bootstrap 95 % intervals), the gap
(imagined - real, points), replay agreement and causes; over the cells: Pearson,
Spearman, MMRV (:func:`~wm_ros.evaluate.metrics.mmrv`) and the mean absolute gap.

Every episode, on the tabletop or imagined, runs through the one episode driver
(:mod:`wm_ros.episodes`): :mod:`.tabletop` holds the tabletop side (chunks of episodes in
a pool of ``workers`` processes, one runtime thread each; the result does not depend on
the number of workers), :mod:`.imagination` the imagined side, :mod:`.report` the
figures. Tabletop seeds come from :func:`~wm_ros.episodes.seeds.episode_seed`, the
policies' own random streams from :func:`~wm_ros.episodes.seeds.policy_seed`. Writes
``closed_loop.json`` and ``closed_loop.md``.
"""

from __future__ import annotations

import time

from tqdm import tqdm

from wm_ros.episodes.env import Limits
from wm_ros.episodes.seeds import episode_seed, policy_seed
from wm_ros.evaluate.closed_loop.imagination import imagine, replay
from wm_ros.evaluate.closed_loop.report import CAUSES, summarise, table, write
from wm_ros.evaluate.closed_loop.tabletop import (JITTER_M, load_perception, RealEpisode,
                                                  RealWorld, run_real, sample,
                                                  tabletop_config)
from wm_ros.plan.detector import DEFAULT_DETECTOR, DetectedObjects
from wm_ros.policy import registry
from wm_ros.policy.degraded import POLICIES
from wm_ros.sim.tasks import check_family, FAMILIES

__all__ = ['CAUSES', 'cause', 'episode_seed', 'evaluate', 'FAMILIES', 'policy_seed',
           'POLICIES', 'summarise', 'table', 'write']


def cause(real: bool, imagined: bool, first_frame: dict) -> str:
    """Return why imagination and the robot disagree ('' when they agree)."""
    if real == imagined:
        return ''
    if first_frame:
        return 'misread'
    return 'timeout' if real else 'hallucination'


def _check(families, policies, episodes: int, settle: int) -> None:
    """Refuse a bad request before any episode runs."""
    for family in families:
        check_family(family)
    for policy in policies:
        if policy not in registry.PERCEIVING:
            raise ValueError(f'unknown policy {policy!r}; choose from '
                             f'{list(registry.PERCEIVING)}')
    if episodes < 1:
        raise ValueError(f'need at least 1 episode per family, got {episodes}')
    if settle < 0:
        raise ValueError(f'settle must be >= 0 steps, got {settle}')


def _record(e: RealEpisode, imagined: dict, replayed: tuple) -> dict:
    """Return one episode's JSON-ready record."""
    return {
        'family': e.start.task_family, 'policy': e.policy, 'k': e.start.k,
        'seed': e.start.seed, 'instruction': e.start.task.instruction,
        'real_success': e.success, 'real_final_success': e.final_success,
        'real_steps': e.decided, 'settle_steps': len(e.actions) - e.decided,
        'real_s': round(e.seconds, 3),
        'imagined_success': imagined['success'], 'imagined_steps': imagined['steps'],
        'replay_success': replayed[0], 'replay_success_any': replayed[1],
        'replay_end_error_cm': round(replayed[2], 2), 'replay_success_at_success': replayed[3],
        'physics_replay_from_read': e.physics_from_read,
        'physics_replay_jitter': e.physics_jitter,
        'first_frame': imagined['first_frame'],
        'cause': cause(e.success, imagined['success'], imagined['first_frame'])}


def _judge_in_imagination(runtime, real: list[list[RealEpisode]], limits: Limits,
                          progress: bool) -> tuple[list[dict], dict]:
    """Imagine and replay every group's episodes; return the records and the timing."""
    records, timing = [], {'imagine_s': 0.0, 'replay_s': 0.0, 'imagined_steps': 0}
    for group in tqdm(real, desc='closed-loop', unit='cell', disable=not progress):
        t0 = time.perf_counter()
        imagined = imagine(runtime, group, group[0].policy, limits)
        t1 = time.perf_counter()
        replayed = replay(runtime, group)
        timing['imagine_s'] += t1 - t0
        timing['replay_s'] += time.perf_counter() - t1
        for e, im, rp in zip(group, imagined, replayed):
            timing['imagined_steps'] += im['steps']
            records.append(_record(e, im, rp))
    return records, timing


def evaluate(model: str, backend: str = 'onnxruntime', families=FAMILIES, policies=POLICIES,
             episodes: int = 20, seed: int = 1000, max_steps: int = 120,
             max_steps_long: int = 400, workers: int = 2, progress: bool = True,
             settle: int = 10, detector: str = '', physics_replay: bool = True) -> dict:
    """
    Run the closed-loop trust check (module docstring); return the report dict.

    ``detector``: how blocks are read for a family without an object read-out (see
    :func:`~.tabletop.load_perception`); a family with one uses its own unless a detector
    is named. ``physics_replay``: also replay every episode on the tabletop from the read
    and the jittered start (two more tabletop runs per episode).
    """
    _check(families, policies, episodes, settle)
    runtime = load_perception(model, backend, detector)
    start = time.perf_counter()
    limits = Limits(max_steps, max_steps_long, settle)
    world = RealWorld(str(model), backend, limits, str(detector or ''), bool(physics_replay))
    config = tabletop_config(runtime, limits)
    jobs = [(p, [sample(config, f, k, episode_seed(seed, f, k), policy_seed(seed, f, k, p))
                 for k in range(episodes)]) for f in families for p in policies]
    real = run_real(world, jobs, workers)
    records, timing = _judge_in_imagination(runtime, real, limits, progress)
    timing['wall_s'] = time.perf_counter() - start
    timing['real_episode_s'] = sum(r['real_s'] for r in records)
    timing['real_steps'] = sum(r['real_steps'] for r in records)
    config = {'model': str(model), 'backend': backend, 'families': list(families),
              'policies': list(policies), 'episodes': episodes, 'seed': seed,
              'max_steps': max_steps, 'max_steps_long': max_steps_long, 'workers': workers,
              'settle': settle, 'physics_replay': bool(physics_replay),
              'physics_jitter_m': JITTER_M,
              'readout': str(detector or DEFAULT_DETECTOR) if isinstance(runtime, DetectedObjects)
              else "the model's own"}
    return summarise(records, config, timing, seed)
