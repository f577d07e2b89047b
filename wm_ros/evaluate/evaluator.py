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

* **Tabletop** ("real robot"): each policy runs from that scene until the physics says
  success or the step limit; the oracle's verdict is the real outcome. The reward model also
  judges the real frames (success = the first frame it scores at or above its threshold),
  which measures the judge on real rollouts. Episodes run in a pool of ``workers``
  processes (all cores); the result does not depend on the number of workers.
* **Imagination**: all episodes of a policy (every family) start as one batch from the same
  first frames (``runtime.encode``). Each step the batch is decoded, the policy acts on
  the decoded frames (``act_batch``: one forward pass for the batch), the world model
  steps, and the reward model scores the new frames; a row stops once the score has
  reached the threshold on ``hold`` frames in a row (success; 1: the first such frame) or
  at the family's step limit (``judge='state'``: the first time the imagined-state judge
  says success; both verdicts are always recorded). Over hundreds of steps a judge with a
  1 % false-positive rate per frame would pass some frame of most failed rollouts;
  asking for a few frames in a row guards against one misjudged (or hallucinated) frame.
  The evaluator talks to the world model only through the runtime contract (encode /
  step / decode), so any model family works; where the family can read objects out
  (``ObjectReadout``) the imagined-state judge runs beside the reward model as a second
  judge and as the reference for the reward model's errors on imagined frames.

``view='redrawn'`` splits a gap into its two model causes: on the tabletop each policy
then sees the model's redraw of the camera frame (encode, decode) instead of the frame,
while the physics moves the blocks. Real success under the redrawn view minus real success
under the camera is what the drawing costs the policy; imagined minus redrawn is what the
imagined dynamics (and the judge) add.

Output per policy x family cell: real and imagined success with bootstrap 95 % intervals,
the gap; over the cells Pearson, Spearman, MMRV (SIMPLER) and the mean absolute gap; the
reward model's confusion on real rollouts (against the oracle) and on imagined ones
(against the imagined-state judge). OOD edits (:mod:`wm_ros.evaluate.ood`) reuse the same
episodes. Policies are zoo names or directories (:func:`wm_ros.policy.zoo.load_policy`)
or the perception-expert variants of :mod:`wm_ros.policy.degraded`.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
import json
import multiprocessing
import os
from pathlib import Path
import time

import numpy as np

from wm_ros.interfaces import BatchPolicy, Observation
from wm_ros.sim.scene import Scene
from wm_ros.sim.tasks import check_family, Task

BOARD_HALF = 0.25          # m, the tabletop's
TASKS = ('block_to_region', 'block_to_block', 'separate', 'group_by_colour')
VIEWS = ('camera', 'redrawn')


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate; ``tiny`` for tests."""

    # the acceptance suite: six behaviour-cloned policies and two modular ones (learned
    # perception, scripted controller), real success from about 10 to 95 %
    policies: tuple[str, ...] = ('bc_full', 'bc_expert', 'colour_only', 'bc_noisy', 'bc_200',
                                 'bc_50', 'expert', 'slow')
    tasks: tuple[str, ...] = TASKS
    episodes: int = 25
    seed: int = 5000                   # tabletop seeds derive from it; never used in training
    max_steps: int = 120
    max_steps_long: int = 400
    workers: int = 0                   # tabletop processes; 0 = one per core
    strip_frames: int = 8              # frames per rollout strip (episode 0 of every cell)
    judge: str = 'reward'              # what ends an imagined episode: 'reward' or 'state'
    hold: int = 1                      # imagined frames in a row the reward model must pass
    view: str = 'camera'               # what tabletop policies see: 'camera' or 'redrawn'
    jitter_m: float = 0.0              # tabletop starts: every block moved by N(0, this) m

    def __post_init__(self):
        if not self.jitter_m >= 0:
            raise ValueError(f'jitter_m is a standard deviation in metres, >= 0; got '
                             f'{self.jitter_m}')
        if self.view not in VIEWS:
            raise ValueError(f'view must be one of {list(VIEWS)} (what the tabletop policies '
                             f'see), got {self.view!r}')
        if self.hold < 1:
            raise ValueError(f'hold is a number of frames in a row, >= 1; got {self.hold}')
        if self.judge not in ('reward', 'state'):
            raise ValueError(f"judge must be 'reward' (the reward model on the imagined "
                             f"frames) or 'state' (the imagined objects), got {self.judge!r}")

    @classmethod
    def tiny(cls, policies: tuple[str, ...]) -> 'EvalConfig':
        """Two families, two episodes, short limits: seconds, for tests."""
        return cls(policies=policies, tasks=('block_to_region', 'separate'), episodes=2,
                   max_steps=12, max_steps_long=12, workers=1, strip_frames=4)


@dataclass
class Start:
    """One evaluation episode's start: the same for every policy."""

    task_family: str
    k: int
    seed: int
    scene: Scene
    task: Task
    image: np.ndarray          # uint8[S, S, 3]
    ee: np.ndarray             # float32[2]


@dataclass
class Rollout:
    """One rollout's outcome; ``frames`` uint8[T+1, S, S, 3] kept for strips only."""

    success: bool
    judged: bool               # the reward model's verdict on the same frames
    reference: bool | None     # the second judge (imagined-state), if any
    steps: int
    seconds: float = 0.0
    frames: np.ndarray | None = field(default=None, repr=False)
    passed_run: int = 0        # imagined: the most frames in a row the reward model passed


def episode_seed(seed: int, family: str, k: int) -> int:
    """Return the tabletop seed of episode ``k`` of ``family`` (fixed for ``seed``)."""
    key = [seed, sum(map(ord, family)), k]
    return int(np.random.SeedSequence(key).generate_state(1)[0])


def starts(config: EvalConfig, image_size: int) -> list[Start]:
    """Sample every (family, k) start on a tabletop: scene, task, first frame."""
    from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
    env = TabletopEnv(TabletopConfig(image_size=image_size, board_half=BOARD_HALF))
    out = []
    try:
        for family in config.tasks:
            for k in range(config.episodes):
                s = episode_seed(config.seed, family, k)
                obs, _ = env.reset(seed=s, options={'task': family})
                out.append(Start(family, k, s, env.scene, env.task, obs['image'],
                                 obs['ee_xy']))
    finally:
        env.close()
    return out


# ------------------------------------------------------------------ policies
def resolve_policy(name: str, runtime=None, seed: int = 0):
    """Return a policy for ``name``: a zoo name or directory, or a degraded expert."""
    from wm_ros.policy.degraded import make_policy, POLICIES
    if name in POLICIES:
        if runtime is None:
            raise ValueError(f'policy {name!r} reads objects with a world model; pass runtime')
        return make_policy(name, runtime, seed, BOARD_HALF)
    from wm_ros.policy.zoo import load_policy
    return load_policy(name)


class PolicySource:
    """
    ``source(name, seed)`` returns policy ``name`` for one episode (``wm-ros collect --policies``).

    Zoo policies load once and are shared (``reset`` restarts them); the perceiving experts
    of :data:`~wm_ros.policy.degraded.POLICIES` are built per episode with its seed and read
    blocks through ``model``, loaded on first use.
    """

    def __init__(self, model: str | Path, backend: str = 'onnxruntime'):
        self.model, self.backend = str(model), backend
        self._runtime = None
        self._zoo: dict = {}

    def __call__(self, name: str, seed: int):
        from wm_ros.policy.degraded import POLICIES
        if name in POLICIES:
            if self._runtime is None:
                from wm_ros.runtime import load_runtime
                self._runtime = load_runtime(self.model, self.backend, threads=1)
            return resolve_policy(name, self._runtime, seed)
        if name not in self._zoo:
            self._zoo[name] = resolve_policy(name)
        return self._zoo[name]


def _begin(policy, start: Start):
    if hasattr(policy, 'set_task'):
        policy.set_task(start.scene, start.task)
    policy.reset()


# ------------------------------------------------------------------ the tabletop
class _Robot:
    """A tabletop, the reward model and the policies of one worker process."""

    def __init__(self, model: str, reward: str, image_size: int, config: EvalConfig):
        import torch
        from wm_ros.reward import load_reward
        from wm_ros.runtime import load_runtime
        from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
        torch.set_num_threads(1)
        self.runtime = load_runtime(model, 'onnxruntime', threads=1)
        self.reward = load_reward(reward)
        self.config = config
        self.env = TabletopEnv(TabletopConfig(
            image_size=image_size, board_half=BOARD_HALF, control_hz=self.runtime.control_hz,
            max_speed=self.runtime.max_speed, max_steps=config.max_steps,
            max_steps_long=config.max_steps_long))
        self.policies: dict = {}

    def run(self, policy: str, start: Start) -> Rollout:
        t0 = time.perf_counter()
        if policy not in self.policies:
            self.policies[policy] = resolve_policy(policy, self.runtime, start.seed)
        actor = self.policies[policy]
        scene = start.scene
        if self.config.jitter_m:         # the same moves for every policy from this start
            scene = scene.jittered(np.random.default_rng(start.seed), self.config.jitter_m)
        obs, info = self.env.reset(seed=start.seed, options={'scene': scene, 'task': start.task})
        _begin(actor, start)
        frames, done = [obs['image']], False
        while not done:
            seen = Observation.from_step(obs, info)
            if self.config.view == 'redrawn':
                seen = redrawn(self.runtime, seen)
            a = np.asarray(actor.act(seen), np.float32)
            obs, _, terminated, truncated, info = self.env.step(np.nan_to_num(a))
            frames.append(obs['image'])
            done = terminated or truncated
        frames = np.stack(frames)
        judged = _judge_frames(self.reward, frames[1:], start.task.goal_text)
        return Rollout(bool(info['success']), judged, None, len(frames) - 1,
                       time.perf_counter() - t0, frames)


def redrawn(runtime, observation: Observation) -> Observation:
    """Return ``observation`` with its image replaced by the model's encode-decode of it."""
    state = runtime.encode(observation.image[None],
                           np.asarray(observation.ee_xy, np.float32)[None])
    images, _ = runtime.decode(state)
    return Observation(images[0], observation.ee_xy, observation.instruction, observation.t)


def _judge_frames(reward, frames: np.ndarray, instruction: str) -> bool:
    """Return whether the reward model scores any of ``frames`` at or above its threshold."""
    if not len(frames):
        return False
    p = reward.score(frames, [instruction] * len(frames))
    return bool(np.any(p >= _threshold(reward)))


def _threshold(reward) -> float:
    return float(getattr(reward, 'threshold', 0.5))


@lru_cache(maxsize=1)
def _robot(model: str, reward: str, image_size: int, config: EvalConfig) -> _Robot:
    return _Robot(model, reward, image_size, config)


def _run_real(args: tuple, job: tuple) -> Rollout:
    return _robot(*args).run(*job)


def run_tabletop(jobs: list[tuple[str, Start]], model: str, reward: str, image_size: int,
                 config: EvalConfig, workers: int) -> list[Rollout]:
    """Run ``(policy, start)`` jobs on the tabletop, in ``workers`` processes (0: here)."""
    args = (str(model), str(reward), image_size, config)
    if workers <= 0:
        return [_run_real(args, j) for j in jobs]
    ctx = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        return list(pool.map(_run_real, [args] * len(jobs), jobs, chunksize=4))


# ------------------------------------------------------------------ imagination
def imagine(runtime, reward, policy_name: str, group: list[Start], config: EvalConfig,
            keep: set[int] = frozenset()) -> list[Rollout]:
    """Roll ``policy_name`` out in imagination from every start of ``group`` as one batch."""
    return imagine_many(runtime, reward, [policy_name], group, config, keep)[0]


class PartClock:
    """Seconds an imagined loop spends per part: ``with clock('policy'): ...``."""

    PARTS = ('policy', 'world_model', 'reward_model', 'state_judge')

    def __init__(self):
        self.seconds = dict.fromkeys(self.PARTS, 0.0)

    @contextmanager
    def __call__(self, part: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[part] += time.perf_counter() - t0


def imagine_many(runtime, reward, policy_names: list[str], group: list[Start],
                 config: EvalConfig, keep: set[int] = frozenset(),
                 clock: PartClock | None = None) -> list[list[Rollout]]:
    """
    Roll every policy out from every start of ``group``, all as one batch.

    Rows are (policy, start) pairs. Each step the world model decodes and steps only the
    rows still running, each policy acts on its own rows (one ``act_batch`` call), and the
    reward model scores every running row at once: batches stay large, which is what makes
    imagination fast on a CPU. ``keep``: start indices whose frames are returned (strips);
    ``clock`` adds up the seconds spent in each part of the loop.
    Returns one list of rollouts per policy, in ``group`` order.
    """
    from wm_ros.runtime.base import ObjectReadout, State
    from wm_ros.reward.task_judge import TaskJudge
    n, b = len(group), len(policy_names) * len(group)
    rows_of, actors = [], []
    for name in policy_names:
        policy = resolve_policy(name, runtime)
        if isinstance(policy, BatchPolicy):
            policy.reset()
            rows_of.append((policy, True))
            actors += [policy] * n
        else:
            rows_of.append((None, False))
            for s in group:
                actor = resolve_policy(name, runtime, s.seed)
                _begin(actor, s)
                actors.append(actor)
    clock = clock or PartClock()
    starts_ = [group[r % n] for r in range(b)]
    instructions = [s.task.instruction for s in starts_]      # what the policies read
    goals = [s.task.goal_text for s in starts_]               # what the reward model reads
    limit = np.array([config.max_steps_long if s.task.long_horizon else config.max_steps
                      for s in starts_])
    first = runtime.encode(np.stack([s.image for s in group]), np.stack([s.ee for s in group]))
    state = State.concat([first] * len(policy_names))
    judges = None
    if isinstance(runtime, ObjectReadout):
        objects = runtime.objects(state)
        judges = [TaskJudge(s.task, runtime.kinds, BOARD_HALF) for s in starts_]
        for row, j in enumerate(judges):
            j.start(objects, row)
    images, ee = runtime.decode(state)
    kept = {row: [images[row]] for row in range(b) if row % n in keep}
    by_reward, by_state = np.zeros(b, bool), np.zeros(b, bool)
    steps, passed = np.zeros(b, int), np.zeros(b, int)   # passed: frames in a row >= threshold
    longest = np.zeros(b, int)
    active = np.arange(b)                       # the rows ``state`` holds, in order
    threshold = _threshold(reward)
    t = 0
    while len(active):
        with clock('policy'):
            act = _act(rows_of, actors, active, n, images, ee, instructions, t)
        with clock('world_model'):
            state = runtime.step(state, np.nan_to_num(act))
            images, ee = runtime.decode(state)
        t += 1
        with clock('reward_model'):
            score = reward.score(images, [goals[r] for r in active])
        with clock('state_judge'):
            objects = runtime.objects(state) if judges is not None else None
            verdicts = [judges[r].judge(objects, i)['success'] for i, r in enumerate(active)] \
                if judges is not None else None
        running = np.ones(len(active), bool)
        for i, r in enumerate(active):
            steps[r] = t
            passed[r] = passed[r] + 1 if score[i] >= threshold else 0
            longest[r] = max(longest[r], passed[r])
            by_reward[r] |= passed[r] >= config.hold
            if verdicts is not None:
                by_state[r] |= verdicts[i]
            primary = by_state[r] if config.judge == 'state' else by_reward[r]
            running[i] = not (primary or t >= limit[r])
            if r in kept:
                kept[r].append(images[i])
        if not running.all():                   # drop finished rows from the batch
            keep_i = np.flatnonzero(running)
            state, images, ee, active = (state.select(keep_i), images[keep_i], ee[keep_i],
                                         active[keep_i])
    success = by_state if config.judge == 'state' else by_reward
    out = [Rollout(bool(success[r]), bool(by_reward[r]),
                   bool(by_state[r]) if judges is not None else None, int(steps[r]),
                   frames=np.stack(kept[r]) if r in kept else None,
                   passed_run=int(longest[r])) for r in range(b)]
    return [out[p * n:(p + 1) * n] for p in range(len(policy_names))]


def _act(rows_of, actors, active, n, images, ee, instructions, t) -> np.ndarray:
    """Return the running rows' actions ``float32[R, 1, 2]``: one batch per batch policy."""
    act = np.zeros((len(active), 1, 2), np.float32)
    for p, (policy, batched) in enumerate(rows_of):
        mine = np.flatnonzero(active // n == p)
        if not len(mine):
            continue
        if batched:
            act[mine, 0] = policy.act_batch(images[mine], ee[mine].astype(np.float32),
                                            [instructions[active[i]] for i in mine])
        else:
            for i in mine:
                r = active[i]
                act[i, 0] = actors[r].act(Observation(images[i], ee[i].astype(np.float32),
                                                      instructions[r], t))
    return act


# ------------------------------------------------------------------ the suite
def reuse_real(path: str | Path, config: EvalConfig, reward: str,
               jobs: list[tuple[str, Start]]) -> list[Rollout]:
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
        out.append(Rollout(e['real'], e['real_judged'], None, e['real_steps'], e['real_s']))
    return out


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
    from wm_ros.runtime.base import ObjectReadout
    for family in config.tasks:
        check_family(family)
    if config.episodes < 1:
        raise ValueError(f'need at least 1 episode per task, got {config.episodes}')
    cores = os.cpu_count() or 1
    workers = config.workers or cores
    runtime = load_runtime(model, backend, threads=cores)
    if config.judge == 'state' and not isinstance(runtime, ObjectReadout):
        raise ValueError(f"{model}: judge 'state' reads objects out of the imagined state; "
                         f'{type(runtime).__name__} cannot (no ObjectReadout): use judge '
                         "'reward'")
    judge = load_reward(reward)
    for name in config.policies:                       # fail before any episode runs
        resolve_policy(name, runtime)
    if ood_edits:
        from wm_ros.evaluate.edits import parse_edit
        for name in ood_edits:
            parse_edit(name)
    group = starts(config, runtime.image_size)
    t0 = time.perf_counter()
    jobs = [(p, s) for p in config.policies for s in group]
    real = reuse_real(real_from, config, reward, jobs) if real_from else \
        run_tabletop(jobs, model, reward, runtime.image_size, config, workers)
    t1 = time.perf_counter()
    keep = {i for i, s in enumerate(group) if s.k == 0}
    clock = PartClock()
    imagined = [r for per_policy in imagine_many(runtime, judge, list(config.policies), group,
                                                 config, keep, clock) for r in per_policy]
    t2 = time.perf_counter()
    records = [summary.record(p, s, r, m) for (p, s), r, m in zip(jobs, real, imagined)]
    timing = {'tabletop_s': t1 - t0, 'imagine_s': t2 - t1, 'workers': workers,
              'real_from': str(real_from) if real_from else None,
              'imagine_threads': cores, 'tabletop_steps': sum(r.steps for r in real),
              'imagined_steps': sum(m.steps for m in imagined),
              'imagine_parts_s': dict(clock.seconds)}
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
