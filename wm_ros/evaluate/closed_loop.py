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
``seed``) gives a real first frame. Every pixel policy (:mod:`wm_ros.policy.degraded`)
runs from it on the tabletop (``TabletopEnv``, the "real robot"; until success or its step
limit) and in imagination: the first frames of a family x policy are encoded as one batch,
and each step the batch is decoded, each row's own policy instance acts on its own row's
frame (with the true scene and task, as on the robot), the batch is stepped, and each row
is judged by its :class:`~wm_ros.episodes.imagined_env.TaskJudge` on the imagined objects.
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

Tabletop episodes run in a pool of ``workers`` processes (one runtime thread each); the
result does not depend on the number of workers. Writes ``closed_loop.json`` and
``closed_loop.md``.
"""

from __future__ import annotations

from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
import json
import multiprocessing
from pathlib import Path
import time
import zlib

import numpy as np
from tqdm import tqdm

from wm_ros.evaluate.metrics import bootstrap_ci, mmrv, pearson, spearman
from wm_ros.interfaces import Observation
from wm_ros.plan.detector import DEFAULT_DETECTOR, DetectedObjects, with_readout
from wm_ros.policy.degraded import make_policy, POLICIES
from wm_ros.runtime.base import WorldModelRuntime
from wm_ros.reward.task_judge import TaskJudge
from wm_ros.sim.scene import Scene, SceneError
from wm_ros.sim.tasks import check_family, FAMILIES, Task

CAUSES = ('misread', 'timeout', 'hallucination')
BOARD_HALF = 0.25     # m, the tabletop's (TabletopConfig.board_half)
JITTER_M = 0.001      # physics replay: sigma of the block moves of the jittered start


@dataclass
class RealEpisode:
    """A tabletop episode: first ``image`` uint8[S,S,3], ``ee`` [2], actions [T,2], end [N,2]."""

    family: str
    k: int
    policy: str
    seed: int
    image: np.ndarray
    ee: np.ndarray
    scene: Scene
    task: Task
    actions: np.ndarray
    final_xy: np.ndarray
    success: bool
    seconds: float
    decided: int = 0             # actions up to the first success (or the step limit)
    final_success: bool = False  # the verdict after the settle steps (the replay's target)
    physics_from_read: bool | None = None   # tabletop replay from the read start (None: off)
    physics_jitter: bool | None = None      # tabletop replay from the true start + 1 mm


def episode_seed(seed: int, family: str, k: int) -> int:
    """Return the tabletop seed of episode ``k`` of ``family`` (fixed for ``seed``)."""
    return int(np.random.SeedSequence([seed, FAMILIES.index(family), k]).generate_state(1)[0])


def policy_seed(seed: int, family: str, k: int, policy: str) -> int:
    """Return the seed of ``policy``'s random stream in that episode (robot and imagination)."""
    key = [seed, FAMILIES.index(family), k, zlib.crc32(policy.encode())]
    return int(np.random.SeedSequence(key).generate_state(1)[0])


class _Robot:
    """The tabletop and the policies' perception runtime of one process."""

    def __init__(self, model: str, backend: str, max_steps: int, max_steps_long: int,
                 settle: int = 0, detector: str = '', physics_replay: bool = False):
        from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
        self.settle, self.physics_replay = settle, physics_replay
        self.runtime = _runtime(model, backend, detector)
        rt = self.runtime
        self.env = TabletopEnv(TabletopConfig(
            image_size=rt.image_size, control_hz=rt.control_hz, max_speed=rt.max_speed,
            board_half=BOARD_HALF, max_steps=max_steps, max_steps_long=max_steps_long))

    def run(self, family: str, k: int, policy: str, seed: int, pseed: int) -> RealEpisode:
        start = time.perf_counter()
        obs, info = self.env.reset(seed=seed, options={'task': family})
        image, ee = obs['image'], obs['ee_xy']
        actor = make_policy(policy, self.runtime, pseed, BOARD_HALF)
        actor.set_task(self.env.scene, self.env.task)
        actions, done = [], False
        while not done:
            a = np.asarray(actor.act(Observation.from_step(obs, info)), np.float32)
            obs, _, terminated, truncated, info = self.env.step(a)
            actions.append(a)
            done = terminated or truncated
        success, decided = bool(info['success']), len(actions)
        for _ in range(self.settle if success else 0):   # the policy acts on past success
            a = np.asarray(actor.act(Observation.from_step(obs, info)), np.float32)
            obs, _, _, _, info = self.env.step(a)
            actions.append(a)
        scene, task, final_xy = self.env.scene, self.env.task, self.env.block_states()[:, :2]
        physics = (None, None)
        if self.physics_replay:
            rng = np.random.default_rng(seed)
            physics = (self.replay_on_tabletop(read_scene(self.runtime, image, ee, scene),
                                               task, actions),
                       self.replay_on_tabletop(scene.jittered(rng, JITTER_M), task, actions))
        return RealEpisode(family, k, policy, seed, image, ee, scene, task, np.stack(actions),
                           final_xy, success, time.perf_counter() - start, decided,
                           bool(info['success']), *physics)

    def replay_on_tabletop(self, scene: Scene, task: Task, actions: list) -> bool | None:
        """Return the tabletop's verdict after ``actions`` from ``scene`` (None: invalid)."""
        try:
            _, info = self.env.reset(options={'scene': scene, 'task': task})
        except SceneError:                # blocks read overlapping: no valid start
            return None
        for a in actions:
            _, _, _, _, info = self.env.step(a)
        return bool(info['success'])


def read_scene(runtime, image: np.ndarray, ee: np.ndarray, scene: Scene) -> Scene:
    """
    Return ``scene`` with each block at the pose the model reads off ``image``.

    A block goes to the nearest slot read as its kind; a block read as no slot keeps its
    true pose (the replay then starts from the true pose for it).
    """
    objects = runtime.objects(runtime.encode(image[None], np.asarray(ee, np.float32)[None]))
    names = objects.names(0)
    blocks = []
    for b in scene.blocks:
        slots = [j for j, n in enumerate(names) if objects.present[0, j] and n == b.name]
        if slots:
            j = min(slots, key=lambda j: np.hypot(*(objects.pos[0, j] - (b.x, b.y))))
            b = replace(b, x=float(objects.pos[0, j, 0]), y=float(objects.pos[0, j, 1]),
                        yaw=float(objects.yaw[0, j]))
        blocks.append(b)
    return replace(scene, blocks=tuple(blocks))


def _runtime(model: str, backend: str, detector: str = ''):
    """
    Load ``model``; a family without an object read-out reads blocks with ``detector``.

    The policies perceive and the judge reads the imagined blocks through it (default: the
    shipped supervised model's read-out used on frames, :mod:`wm_ros.plan.detector`).
    """
    from wm_ros.runtime import load_runtime
    return with_readout(load_runtime(model, backend, threads=1), detector)


@lru_cache(maxsize=1)
def _robot(model: str, backend: str, max_steps: int, max_steps_long: int, settle: int,
           detector: str = '', physics_replay: bool = False) -> _Robot:
    return _Robot(model, backend, max_steps, max_steps_long, settle, detector, physics_replay)


def _run_real(robot_args: tuple, job: tuple) -> RealEpisode:
    return _robot(*robot_args).run(*job)


def imagine(runtime: WorldModelRuntime, episodes: list[RealEpisode], policy: str,
            seeds: list[int], limit: int) -> list[dict]:
    """Roll ``policy`` in imagination from each episode's first frame, batched; see above."""
    b = len(episodes)
    state, judges, reports = _start(runtime, episodes)
    actors = []
    for e, s in zip(episodes, seeds):
        actors.append(make_policy(policy, runtime, s, BOARD_HALF))
        actors[-1].set_task(e.scene, e.task)
    success, steps = np.zeros(b, bool), np.zeros(b, int)
    for t in range(limit):
        active = np.flatnonzero(~success)
        if not len(active):
            break
        images, ee = runtime.decode(state.select(active))
        actions = np.zeros((b, 1, 2), np.float32)
        for i, row in enumerate(active):
            obs = Observation(images[i], ee[i].astype(np.float32),
                              episodes[row].task.instruction, t)
            actions[row, 0] = actors[row].act(obs)
        state = runtime.step(state, actions)
        objects = runtime.objects(state)
        for row in active:
            steps[row] = t + 1
            success[row] = judges[row].judge(objects, row)['success']
    return [{'success': bool(s), 'steps': int(n), 'first_frame': r}
            for s, n, r in zip(success, steps, reports)]


def _start(runtime: WorldModelRuntime, episodes: list[RealEpisode]) -> tuple:
    """Encode the first frames as one batch; return the state, judges and their reports."""
    state = runtime.encode(np.stack([e.image for e in episodes]),
                           np.stack([e.ee for e in episodes]))
    judges = [TaskJudge(e.task, runtime.kinds, BOARD_HALF) for e in episodes]
    objects = runtime.objects(state)
    return state, judges, [judge.start(objects, row) for row, judge in enumerate(judges)]


def replay(runtime: WorldModelRuntime, episodes: list[RealEpisode]) -> list[tuple]:
    """
    Replay each episode's real actions open loop, batched.

    Return per episode: the judge's verdict at its last step, success at any step, the
    median distance (cm) of the task's blocks (all blocks for group/line) from where they
    really ended, at the last step, and the verdict at the real first-success step.
    """
    state, judges, _ = _start(runtime, episodes)
    length = np.array([len(e.actions) for e in episodes])
    actions = np.zeros((len(episodes), length.max(), 2), np.float32)
    for row, e in enumerate(episodes):
        actions[row, :len(e.actions)] = e.actions
    decided = np.array([e.decided or len(e.actions) for e in episodes])
    last, ever = np.zeros(len(episodes), bool), np.zeros(len(episodes), bool)
    at_success = np.zeros(len(episodes), bool)
    error = np.full(len(episodes), np.nan)
    for t, s in enumerate(runtime.rollout(state, actions), 1):
        objects = runtime.objects(s)
        for row in np.flatnonzero(length >= t):
            verdict = judges[row].judge(objects, row)
            ever[row] |= verdict['success']
            if decided[row] == t:
                at_success[row] = verdict['success']
            if length[row] == t:
                last[row] = verdict['success']
                error[row] = _end_error(episodes[row], judges[row].names, verdict)
    return [(bool(a), bool(b), float(c), bool(d))
            for a, b, c, d in zip(last, ever, error, at_success)]


def _end_error(e: RealEpisode, names: list[str], verdict: dict) -> float:
    """Median distance (cm) of the imagined task blocks from their real final positions."""
    wanted = e.task.blocks or tuple(e.scene.names)
    xy = verdict.get('block_xy', np.zeros((0, 2)))
    d = [np.linalg.norm(xy[i] - e.final_xy[e.scene.index(n)])
         for i, n in enumerate(names[:len(xy)]) if n in wanted]
    return 100 * float(np.median(d)) if d else float('nan')


def cause(real: bool, imagined: bool, first_frame: dict) -> str:
    """Return why imagination and the robot disagree ('' when they agree)."""
    if real == imagined:
        return ''
    if first_frame:
        return 'misread'
    return 'timeout' if real else 'hallucination'


def evaluate(model: str, backend: str = 'onnxruntime', families=FAMILIES, policies=POLICIES,
             episodes: int = 20, seed: int = 1000, max_steps: int = 120,
             max_steps_long: int = 400, workers: int = 2, progress: bool = True,
             settle: int = 10, detector: str = '', physics_replay: bool = True) -> dict:
    """
    Run the closed-loop trust check (module docstring); return the report dict.

    ``detector``: how blocks are read for a family without an object read-out (see
    :func:`_runtime`); a family with one uses its own unless a detector is named.
    ``physics_replay``: also replay every episode on the tabletop from the read and the
    jittered start (two more tabletop runs per episode).
    """
    for family in families:
        check_family(family)
    for policy in policies:
        if policy not in POLICIES:
            raise ValueError(f'unknown policy {policy!r}; choose from {list(POLICIES)}')
    if episodes < 1:
        raise ValueError(f'need at least 1 episode per family, got {episodes}')
    if settle < 0:
        raise ValueError(f'settle must be >= 0 steps, got {settle}')
    runtime = _runtime(model, backend, detector)
    start = time.perf_counter()
    robot_args = (str(model), backend, max_steps, max_steps_long, settle, str(detector or ''),
                  bool(physics_replay))
    groups = [(f, p) for f in families for p in policies]
    pool = None
    if workers > 0:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context('spawn'))
    try:
        pending: dict[tuple, list] = {}
        for f, p in groups:
            jobs = [(f, k, p, episode_seed(seed, f, k), policy_seed(seed, f, k, p))
                    for k in range(episodes)]
            pending[f, p] = [pool.submit(_run_real, robot_args, j) if pool else j for j in jobs]
        records, timing = [], {'imagine_s': 0.0, 'replay_s': 0.0, 'imagined_steps': 0}
        for f, p in tqdm(groups, desc='closed-loop', unit='cell', disable=not progress):
            real = [j.result() if isinstance(j, Future) else _run_real(robot_args, j)
                    for j in pending.pop((f, p))]
            t0 = time.perf_counter()
            limit = max_steps_long if real[0].task.long_horizon else max_steps
            imagined = imagine(runtime, real, p, [policy_seed(seed, f, e.k, p) for e in real],
                               limit)
            t1 = time.perf_counter()
            replayed = replay(runtime, real)
            timing['imagine_s'] += t1 - t0
            timing['replay_s'] += time.perf_counter() - t1
            for e, im, rp in zip(real, imagined, replayed):
                timing['imagined_steps'] += im['steps']
                records.append({
                    'family': f, 'policy': p, 'k': e.k, 'seed': e.seed,
                    'instruction': e.task.instruction, 'real_success': e.success,
                    'real_final_success': e.final_success,
                    'real_steps': e.decided, 'settle_steps': len(e.actions) - e.decided,
                    'real_s': round(e.seconds, 3),
                    'imagined_success': im['success'], 'imagined_steps': im['steps'],
                    'replay_success': rp[0], 'replay_success_any': rp[1],
                    'replay_end_error_cm': round(rp[2], 2), 'replay_success_at_success': rp[3],
                    'physics_replay_from_read': e.physics_from_read,
                    'physics_replay_jitter': e.physics_jitter,
                    'first_frame': im['first_frame'],
                    'cause': cause(e.success, im['success'], im['first_frame'])})
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
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


def _cell(rows: list[dict], seed: int) -> dict:
    real = np.array([r['real_success'] for r in rows], float)
    imag = np.array([r['imagined_success'] for r in rows], float)
    agree = np.array([r['replay_success'] == r['real_final_success'] for r in rows], float)
    agree_any = np.array([r['replay_success_any'] == r['real_success'] for r in rows], float)
    agree_first = np.array([r['replay_success_at_success'] == r['real_success'] for r in rows],
                           float)
    causes = [r['cause'] for r in rows]
    pct = [100 * real.mean(), 100 * imag.mean()]
    return {
        'n': len(rows), 'real_pct': pct[0], 'imagined_pct': pct[1], 'gap_pts': pct[1] - pct[0],
        'real_ci_pct': [100 * v for v in bootstrap_ci(real, seed=seed)],
        'imagined_ci_pct': [100 * v for v in bootstrap_ci(imag, seed=seed)],
        'gap_ci_pts': [100 * v for v in bootstrap_ci(imag - real, seed=seed)],
        'replay_agreement': float(agree.mean()),
        'replay_agreement_any': float(agree_any.mean()),
        'replay_agreement_at_success': float(agree_first.mean()),
        'replay_end_error_cm': _nanmedian([r['replay_end_error_cm'] for r in rows]),
        'physics_replay_from_read': _agreement(rows, 'physics_replay_from_read'),
        'physics_replay_jitter': _agreement(rows, 'physics_replay_jitter'),
        'disagreements': int((real != imag).sum()),
        'causes': {c: causes.count(c) for c in CAUSES},
        'first_frame_misread': sum(bool(r['first_frame']) for r in rows),
        'real_steps_mean': float(np.mean([r['real_steps'] for r in rows])),
        'imagined_steps_mean': float(np.mean([r['imagined_steps'] for r in rows])),
    }


def _agreement(rows: list[dict], key: str) -> float:
    """Share of ``rows`` whose tabletop replay ``key`` gives the real final verdict (NaN: none)."""
    done = [r[key] == r['real_final_success'] for r in rows if r.get(key) is not None]
    return float(np.mean(done)) if done else float('nan')


def _nanmedian(values) -> float:
    v = np.asarray(values, float)
    return float(np.median(v[np.isfinite(v)])) if np.isfinite(v).any() else float('nan')


def summarise(records: list[dict], config: dict, timing: dict, seed: int = 0) -> dict:
    """Return the report: per-cell and per-policy figures, overall statistics, episodes."""
    cells, per_policy = [], []
    for p in config['policies']:
        for f in config['families']:
            rows = [r for r in records if r['policy'] == p and r['family'] == f]
            cells.append({'policy': p, 'family': f, **_cell(rows, seed)})
        per_policy.append({'policy': p, 'family': 'all',
                           **_cell([r for r in records if r['policy'] == p], seed)})
    real = np.array([c['real_pct'] for c in cells]) / 100
    imag = np.array([c['imagined_pct'] for c in cells]) / 100
    per_family = {f: mmrv(*(np.array([[c['real_pct'], c['imagined_pct']] for c in cells
                                      if c['family'] == f]).T / 100))
                  for f in config['families']}
    overall = {
        'cells': len(cells), 'pearson': pearson(real, imag), 'spearman': spearman(real, imag),
        'mmrv': mmrv(real, imag), 'mean_abs_gap_pts': float(100 * np.abs(imag - real).mean()),
        'mmrv_per_family': per_family,
        'mmrv_mean_over_families': float(np.mean(list(per_family.values()))),
        **_cell(records, seed)}
    return {'config': config, 'overall': overall, 'cells': cells, 'per_policy': per_policy,
            'timing': {k: round(v, 2) if isinstance(v, float) else v for k, v in timing.items()},
            'episodes': records}


def _ci(lo_hi) -> str:
    return f'{lo_hi[0]:.0f}-{lo_hi[1]:.0f}'


def table(report: dict) -> str:
    """Return the Markdown table: one row per policy x family, then per policy."""
    lines = ['| policy | family | n | real % (95 % CI) | imagined % (95 % CI) | gap pts '
             '(95 % CI) | replay agrees % (end / at success / any step) | replay end err cm '
             '| physics replay agrees % (read start / true start + 1 mm) | disagree '
             '| misread | timeout | hallucination |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for c in report['cells'] + report['per_policy'] + [dict(report['overall'], policy='all',
                                                            family='all')]:
        k = c['causes']
        lines.append(
            f"| {c['policy']} | {c['family']} | {c['n']} | {c['real_pct']:.0f} "
            f"({_ci(c['real_ci_pct'])}) | {c['imagined_pct']:.0f} ({_ci(c['imagined_ci_pct'])}) "
            f"| {c['gap_pts']:+.0f} ({c['gap_ci_pts'][0]:+.0f} to {c['gap_ci_pts'][1]:+.0f}) | "
            f"{100 * c['replay_agreement']:.0f} / {100 * c['replay_agreement_at_success']:.0f} "
            f"/ {100 * c['replay_agreement_any']:.0f} | "
            f"{c['replay_end_error_cm']:.1f} | {_pct(c['physics_replay_from_read'])} / "
            f"{_pct(c['physics_replay_jitter'])} | {c['disagreements']} | {k['misread']} | "
            f"{k['timeout']} | {k['hallucination']} |")
    o = report['overall']
    lines += ['', f"Over the {o['cells']} policy x family cells: Pearson {o['pearson']:.2f}, "
              f"Spearman {o['spearman']:.2f}, MMRV {o['mmrv']:.3f} (mean of per-family MMRV "
              f"over policies {o['mmrv_mean_over_families']:.3f}), mean |gap| "
              f"{o['mean_abs_gap_pts']:.1f} points; open-loop replay agrees with the robot in "
              f"{100 * o['replay_agreement']:.1f} % of {o['n']} episodes (judged at the last "
              f"replayed step, {report['config'].get('settle', 0)} steps after a real success; "
              f"{100 * o['replay_agreement_at_success']:.1f} % judged at the real "
              f"first-success step; {100 * o['replay_agreement_any']:.1f} % when success at any "
              'replayed step counts).']
    if np.isfinite(o['physics_replay_from_read']):
        lines += ['', 'The same actions replayed on the tabletop itself reproduce the real '
                  f"outcome in {_pct(o['physics_replay_from_read'])} % of episodes from the "
                  "model's read of the first frame and in "
                  f"{_pct(o['physics_replay_jitter'])} % from the true start with every block "
                  f"moved by {1000 * report['config']['physics_jitter_m']:.0f} mm (sigma): "
                  'what open-loop replay can reach from that start.']
    return '\n'.join(lines)


def _pct(x: float) -> str:
    return f'{100 * x:.0f}' if np.isfinite(x) else '-'


def _finite(x):
    """Return ``x`` with NaN/inf floats as None (strict JSON)."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return None if isinstance(x, float) and not np.isfinite(x) else x


def write(report: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``closed_loop.json`` and ``closed_loop.md`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    c, t = report['config'], report['timing']
    head = (f"# Closed-loop trust check\n\nModel `{c['model']}` ({c['backend']}), "
            f"{c['episodes']} episodes per family from seed {c['seed']}, step limit "
            f"{c['max_steps']} ({c['max_steps_long']} long-horizon), {c.get('settle', 0)} "
            f"settle steps after a real success, {c['workers']} tabletop workers; "
            f"{t['wall_s']} s wall.\n\n")
    (out / 'closed_loop.json').write_text(json.dumps(_finite(report), indent=1))
    (out / 'closed_loop.md').write_text(head + table(report) + '\n')
    return out / 'closed_loop.json', out / 'closed_loop.md'
