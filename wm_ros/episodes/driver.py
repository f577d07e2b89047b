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
The one episode driver: a batch policy in a batched environment, from starts, to the end.

``run_episodes(env, policy, starts, limits, judging, ...)`` resets ``env`` and ``policy``
to ``starts`` and steps every running row until it ends, then returns one
:class:`~wm_ros.episodes.env.EpisodeResult` per start, in order. Each step the policy acts
once on the running rows, the environment steps them, the reward model (``judging``)
scores their new frames in one call, and a row ends on the first of:

* a verdict that ends episodes: the environment's own success (``stop_on_success``: the
  physics oracle on the tabletop, the imagined-state judge in imagination) or the reward
  model passing ``judging.hold`` frames in a row (``judging.ends``); then ``limits.settle``
  more steps with the policy still acting;
* its step limit (``limits``: per task family);
* the environment ending it (``done``).

A row that has ended is never stepped or shown to the policy again, so batches shrink as
rows finish (what keeps a large imagined batch fast). ``judging.at_end`` instead scores
each episode's frames once when it ends (the verdict on real frames, which must not end
a tabletop episode). ``on_step(t, observations, actions, success, infos)`` is called after
every step with the rows just stepped; ``on_episode(row, result)`` when a row ends (it may
add to ``result.info``). ``clock`` adds up the seconds spent per part: ``policy`` and
``reward_model`` here, the environment's own parts (``world_model``, ``state_judge``)
where it shares the clock.

Chunks of episodes run in worker processes through the same function
(:func:`wm_ros.episodes.tabletop.run_on_tabletop`, :mod:`wm_ros.episodes.pool`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
import time

import numpy as np

from wm_ros.episodes.env import BatchEnv, EpisodeResult, Limits, Start
from wm_ros.policy.base import Policy


class PartClock:
    """Seconds an episode loop spends per part: ``with clock('policy'): ...``."""

    PARTS = ('policy', 'world_model', 'reward_model', 'state_judge')

    def __init__(self):
        self.seconds = dict.fromkeys(self.PARTS, 0.0)

    @contextmanager
    def __call__(self, part: str):
        """Add the seconds the ``with`` block takes to ``part``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - t0


@dataclass(frozen=True)
class Judging:
    """
    A reward model (``score(images, texts) -> P(success)``) judging the episodes' frames.

    Each row's frame passes at or above ``threshold`` (default: the model's own, else
    0.5); the verdict is ``hold`` passed frames in a row. ``ends``: the verdict ends the
    episode (else it is recorded only). ``at_end``: score each episode's frames (after
    the first) in one call when it ends instead, passed if any frame passes.
    """

    model: object
    hold: int = 1
    ends: bool = True
    at_end: bool = False
    threshold: float | None = None

    def __post_init__(self):
        if self.hold < 1:
            raise ValueError(f'hold is a number of frames in a row, >= 1; got {self.hold}')
        if self.at_end and self.ends:
            raise ValueError('a verdict on the finished episode cannot end it: at_end needs '
                             'ends=False')

    @property
    def cutoff(self) -> float:
        """Return the score at or above which a frame passes."""
        if self.threshold is not None:
            return float(self.threshold)
        return float(getattr(self.model, 'threshold', 0.5))   # a model without its own

    def verdict_on(self, frames: np.ndarray, text: str) -> bool:
        """Return whether any of ``frames`` uint8[T,S,S,3] passes (one call)."""
        if not len(frames):
            return False
        return bool(np.any(self.model.score(frames, [text] * len(frames)) >= self.cutoff))


def run_episodes(env: BatchEnv, policy: Policy, starts: Sequence[Start],
                 limits: Limits | None = None, judging: Judging | None = None,
                 stop_on_success: bool = True, keep_frames: Collection[int] = (),
                 on_step: Callable | None = None, on_episode: Callable | None = None,
                 clock: PartClock | None = None) -> list[EpisodeResult]:
    """Run one episode per start to its end (module docstring); return them in order."""
    clock = clock or PartClock()
    tally = _Tally(starts, limits or Limits(), judging, stop_on_success, env.can_judge,
                   set(keep_frames))
    observations, infos = env.reset(starts)
    policy.reset(starts)
    tally.begin(observations, infos)
    running, t = np.arange(len(starts)), 0
    while len(running):
        t0 = time.perf_counter()
        with clock('policy'):
            actions = np.nan_to_num(np.asarray(policy.act(observations), np.float32))
        observations, done, success, infos = env.step(actions, running)
        t += 1
        scores = None
        if judging is not None and not judging.at_end:
            with clock('reward_model'):
                scores = judging.model.score(observations.image,
                                             [tally.goals[r] for r in running])
        finished = tally.update(t, running, observations, done, success, scores, infos,
                                time.perf_counter() - t0)
        if on_step is not None:
            on_step(t, observations, actions, success, infos)
        for r in running[finished]:
            tally.finish(r, on_episode)
        if finished.any():
            keep = ~finished
            running, observations = running[keep], observations.select(keep)
    return tally.results


class _Tally:
    """Per-row bookkeeping of :func:`run_episodes`: verdicts, steps, frames, results."""

    def __init__(self, starts, limits: Limits, judging: Judging | None, stop_on_success: bool,
                 can_judge: bool, keep: set[int]):
        b = len(starts)
        self.limits, self.judging, self.stop_on_success = limits, judging, stop_on_success
        self.can_judge, self.keep = can_judge, keep
        self.goals = [s.task.goal_text for s in starts]      # what a judge reads
        self.limit = np.array([limits.steps(s.task) for s in starts], np.int64)
        self.total, self.decided = np.zeros(b, np.int64), np.zeros(b, np.int64)
        self.settle_left = np.full(b, -1, np.int64)          # -1: not decided yet
        self.env_any, self.final = np.zeros(b, bool), np.zeros(b, bool)
        self.judged, self.passed, self.longest = np.zeros(b, bool), np.zeros(b, np.int64), \
            np.zeros(b, np.int64)
        self.seconds = np.zeros(b)
        self.frames: dict[int, list] = {}
        self.infos: list[dict] = [{} for _ in range(b)]
        self.start_infos: list[dict] = [{} for _ in range(b)]
        self.results: list[EpisodeResult | None] = [None] * b

    def begin(self, observations, infos: list[dict]) -> None:
        """Record the first frames (of the rows that keep or need them) and infos."""
        every = self.judging is not None and self.judging.at_end
        for i, r in enumerate(observations.rows):
            if every or r in self.keep:
                self.frames[r] = [observations.image[i]]
        self.start_infos = list(infos)

    def update(self, t, running, observations, done, success, scores, infos, dt) -> np.ndarray:
        """Record step ``t`` of the rows ``running``; return which of them have ended."""
        rows, ok = running, np.asarray(success, bool)
        self.total[rows], self.seconds[rows] = t, self.seconds[rows] + dt / len(rows)
        self.env_any[rows] |= ok
        self.final[rows] = ok
        for i, r in enumerate(rows):
            self.infos[r] = infos[i]
        if scores is not None:
            passed = np.where(np.asarray(scores) >= self.judging.cutoff, self.passed[rows] + 1, 0)
            self.passed[rows] = passed
            self.longest[rows] = np.maximum(self.longest[rows], passed)
            self.judged[rows] |= passed >= self.judging.hold
        if self.frames:
            for i, r in enumerate(rows):
                if r in self.frames:
                    self.frames[r].append(observations.image[i])
        settling = self.settle_left[rows] >= 0            # decided at an earlier step
        self.settle_left[rows[settling]] -= 1
        verdict = self._verdicts(rows)
        decide = ~settling & (verdict | (t >= self.limit[rows]))
        self.decided[rows[decide]] = t
        self.settle_left[rows[decide]] = np.where(verdict[decide], self.limits.settle, 0)
        return (self.settle_left[rows] == 0) | np.asarray(done, bool)

    def _verdicts(self, rows) -> np.ndarray:
        """Return whether a verdict that ends episodes has passed, for each of ``rows``."""
        out = self.env_any[rows] if self.stop_on_success else np.zeros(len(rows), bool)
        if self.judging is not None and self.judging.ends:
            out = out | self.judged[rows]
        return out

    def finish(self, r: int, on_episode: Callable | None) -> None:
        """Build row ``r``'s result (judging its frames if asked) and report it."""
        if self.settle_left[r] < 0:                      # ended by the environment
            self.decided[r] = self.total[r]
        enders = self.stop_on_success or (self.judging is not None and self.judging.ends)
        frames = np.stack(self.frames.pop(r)) if r in self.frames else None
        judged = None
        if self.judging is not None:
            judged = bool(self.judged[r]) if not self.judging.at_end else \
                self.judging.verdict_on(frames[1:], self.goals[r])
        result = EpisodeResult(
            bool(self._verdicts([r])[0]) if enders else bool(self.env_any[r]),
            int(self.decided[r]),
            int(self.total[r] - self.decided[r]),
            bool(self.env_any[r]) if self.can_judge else None, bool(self.final[r]), judged,
            int(self.longest[r]), float(self.seconds[r]),
            frames if r in self.keep else None, dict(self.infos[r]),
            dict(self.start_infos[r]) if r < len(self.start_infos) else {})
        if on_episode is not None:
            on_episode(int(r), result)
        self.results[r] = result
