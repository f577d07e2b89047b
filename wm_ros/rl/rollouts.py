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
Groups of imagined rollouts through the one episode driver, judged and weighted.

:class:`Imagination` is the world the rollouts run in: a world-model runtime behind
:class:`~wm_ros.episodes.imagination.ImaginationEnv` (the runtime contract only, any
family), run by :func:`~wm_ros.episodes.driver.run_episodes` like every other episode.
Success is sparse: the imagined-state judge where the model reads objects out
(``ObjectReadout``) and every start names a task family, else the reward model
(:class:`~wm_ros.episodes.driver.Judging`, its verdict ends the row). ``shaping`` adds
the reward model's probability on the last frame.

Rollouts the world model is unsure of are dropped (weight 0) before they reach the
update, so the policy cannot learn to exploit what the model hallucinates:

* with the ``Uncertainty`` capability (the object-slot family's ensemble spread): a
  rollout whose largest per-step spread passes ``max_uncertainty`` (m);
* otherwise (``perturb``): every rollout's executed actions are replayed open loop from a
  perturbed copy of its start (frame noise, pusher jitter; RAW-Dream's disagreement under
  noise), through the same driver over a thin wrapper that ends each replayed row a few
  steps after its original length; a rollout is dropped when the replay's verdict
  differs (:func:`disagreement`) or more than ``max_disagreement`` of its frame's pixels
  change (:func:`changed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from wm_ros.episodes.driver import Judging, PartClock, run_episodes
from wm_ros.episodes.env import Limits, Start
from wm_ros.episodes.imagination import ImaginationEnv
from wm_ros.policy.replay import Replay
from wm_ros.rl.actor import Sampling
from wm_ros.rl.config import RLConfig
from wm_ros.runtime.base import ObjectReadout, Uncertainty
from wm_ros.sim.tasks import UNKNOWN


@dataclass
class Batch:
    """One update's rollouts: N = starts x group rows (see :func:`collect`)."""

    trajectories: list[dict]        # Sampling.trajectory of each row
    instructions: list[str]
    families: list[str]
    group: np.ndarray               # int[N]: the start frame each row came from
    success: np.ndarray             # bool[N]: the sparse verdict
    prob: np.ndarray                # float[N]: reward model P(success) on the last frame
    weight: np.ndarray              # float[N]: 0 for a rollout the model is unsure of
    steps: np.ndarray               # int[N]
    dropped: dict                   # why rollouts were dropped: {'uncertain': n, ...}

    def returns(self, shaping: float) -> np.ndarray:
        """Return float[N]: success + ``shaping`` x P(success)."""
        return self.success.astype(np.float64) + shaping * np.nan_to_num(self.prob)


class Imagination:
    """A world model (and a reward model) as the place rollouts run (module docstring)."""

    def __init__(self, runtime, reward=None, cfg: RLConfig | None = None,
                 board_half: float = 0.25):
        self.runtime, self.reward, self.half = runtime, reward, board_half
        self.cfg = cfg or RLConfig()
        self.limits = Limits(self.cfg.max_steps, self.cfg.max_steps_long)
        self.reads_objects = isinstance(runtime, ObjectReadout)
        self.sure = isinstance(runtime, Uncertainty)
        self.clock = PartClock()        # seconds per part (policy, world model, judges)

    def judge_for(self, starts: Sequence[Start]) -> str:
        """Return who judges ``starts``: ``'state'`` or ``'reward'`` (ValueError: nobody)."""
        if self.reads_objects and all(s.task.family != UNKNOWN for s in starts):
            return 'state'
        if self.reward is None:
            raise ValueError('no judge of success: the world model reads out no objects (or '
                             'a start names no task family), and no reward model was given; '
                             'pass --reward DIR (e.g. wm_ros/models/reward)')
        return 'reward'

    def episodes(self, policy, starts: Sequence[Start], on_step=None, caps=None):
        """Run ``policy`` from ``starts`` through the driver; ``caps``: per-row step caps."""
        env = ImaginationEnv(self.runtime, self.half, self.clock)
        if caps is not None:
            env = Capped(env, caps)
        judging = (Judging(self.reward, hold=1, ends=True)
                   if self.judge_for(starts) == 'reward' else None)
        return run_episodes(env, policy, starts, self.limits, judging, stop_on_success=True,
                            on_step=on_step, clock=self.clock)


class Capped:
    """A batched env whose row ``r`` ends (``done``) after ``caps[r]`` steps."""

    def __init__(self, env, caps: Sequence[int]):
        self.env, self.caps = env, np.asarray(caps, np.int64)
        self.can_judge = env.can_judge

    def reset(self, starts):
        """Reset the wrapped env."""
        return self.env.reset(starts)

    def step(self, actions, rows):
        """Step the wrapped env; a row at its cap is done."""
        observations, done, success, infos = self.env.step(actions, rows)
        return (observations, done | (observations.t >= self.caps[np.asarray(rows)]),
                success, infos)


class _Watch:
    """``on_step`` of a run: each row's last frame (up to a cap) and largest uncertainty."""

    def __init__(self, n: int, caps=None):
        self.last: dict[int, tuple[int, np.ndarray]] = {}
        self.unsure = np.zeros(n)
        self.caps = caps

    def __call__(self, t, observations, actions, success, infos) -> None:
        for i, r in enumerate(observations.rows):
            if self.caps is None or t <= self.caps[r]:
                self.last[int(r)] = (t, observations.image[i])
            self.unsure[r] = max(self.unsure[r], infos[i].get('uncertainty', 0.0))


def collect(world: Imagination, sampler: Sampling, starts: Sequence[Start],
            rng: np.random.Generator) -> Batch:
    """Run ``world.cfg.group`` rollouts from each of ``starts``; judge and weight them."""
    cfg = world.cfg
    rows = [s for s in starts for _ in range(cfg.group)]     # one encode per start
    watch = _Watch(len(rows))
    results = world.episodes(sampler, rows, watch)
    trajectories = [sampler.trajectory(r) for r in range(len(rows))]
    for r, trajectory in enumerate(trajectories):
        trajectory['final'] = watch.last[r][1]
    prob = np.full(len(rows), np.nan)
    if world.reward is not None and cfg.shaping > 0:
        finals = np.stack([t['final'] for t in trajectories])
        with world.clock('reward_model'):
            prob = np.asarray(world.reward.score(finals, [s.task.goal_text for s in rows]),
                              np.float64)
    success = np.array([r.success for r in results])
    weight, dropped = np.ones(len(rows)), {'uncertain': 0, 'disagree': 0}
    if world.sure:
        unsure = watch.unsure > cfg.max_uncertainty
        weight[unsure], dropped['uncertain'] = 0.0, int(unsure.sum())
    elif cfg.perturb:
        disagree = disagreement(world, rows, trajectories, success, rng)
        weight[disagree], dropped['disagree'] = 0.0, int(disagree.sum())
    return Batch(trajectories, [s.task.instruction for s in rows],
                 [s.task_family for s in rows], np.repeat(np.arange(len(starts)), cfg.group),
                 success, prob, weight, np.array([r.steps for r in results]), dropped)


def perturbed(start: Start, rng: np.random.Generator, cfg: RLConfig) -> Start:
    """Return a copy of ``start`` with a noisy first frame and a jittered pusher."""
    noise = rng.integers(-int(cfg.perturb_px), int(cfg.perturb_px) + 1, start.image.shape)
    image = np.clip(start.image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    ee = (np.asarray(start.ee, np.float32)
          + rng.normal(0.0, cfg.perturb_ee, 2).astype(np.float32))
    return replace(start, image=image, ee=ee)


def changed(a: np.ndarray, b: np.ndarray, level: int = 48) -> float:
    """Return the fraction of pixels of two frames uint8[S,S,3] that differ by > ``level``."""
    return float((np.abs(a.astype(np.int16) - b.astype(np.int16)).max(-1) > level).mean())


def disagreement(world: Imagination, rows: Sequence[Start], trajectories: list[dict],
                 success: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """
    Return bool[N]: rollouts whose replay from a perturbed start disagrees with them.

    A success at step T is confirmed by a replayed success by T + slack, a failure by no
    replayed success before T - slack (slack: a fifth of T, at least 2 steps), since a
    rollout that ends on its success ends just over the line; the frames are compared at
    the last step both reached, up to T.
    """
    cfg = world.cfg
    steps = np.array([len(t['actions']) for t in trajectories])
    slack = np.maximum(2, steps // 5)
    watch = _Watch(len(rows), steps)
    again = world.episodes(Replay([t['executed'] for t in trajectories]),
                           [perturbed(s, rng, cfg) for s in rows], watch, caps=steps + slack)
    out = np.zeros(len(rows), bool)
    for r, trajectory in enumerate(trajectories):
        t, frame = watch.last[r]
        ref = trajectory['final'] if t >= steps[r] else trajectory['images'][t]
        diff = changed(frame, ref)
        won = again[r].success
        agree = (won and again[r].steps <= steps[r] + slack[r] if success[r]
                 else not (won and again[r].steps < steps[r] - slack[r]))
        out[r] = not agree or diff > cfg.max_disagreement
    return out
