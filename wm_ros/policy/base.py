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
The batched policy protocol the episode driver runs, and adapters onto it.

A :class:`Policy` acts for B episodes at once: ``reset(episodes)`` gives it each row's
task (an :class:`EpisodeTask`: instruction, task spec, the true scene where known, the
seed of its own random stream), ``act(observations) -> float32[R, 2]`` returns the
actions (m/s) of the R rows still running, in the order of ``observations.rows``. Rows
that finished are not shown again. It never learns whether it runs on the tabletop or in
imagination: both send :class:`Observations`.

Policies come from :mod:`wm_ros.policy.registry` by name; the adapters here put the
single-row :class:`~wm_ros.interfaces.Policy` classes and the
:class:`~wm_ros.interfaces.BatchPolicy` networks behind the protocol:

* :class:`Batched`: one ``act_batch`` call for all rows (the learned policies);
* :class:`PerRow`: one single-row policy per episode, built by a factory from its task
  and seed (the perceiving experts: each keeps its own plan and noise);
* :class:`Grouped`: several policies side by side in one batch, each on its own rows
  (the evaluator runs every policy of a suite as one imagined batch);
* :class:`Redrawn`: the inner policy sees the world model's redraw of each frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import numpy as np

from wm_ros.interfaces import BatchPolicy, Observation
from wm_ros.sim.scene import Scene
from wm_ros.sim.tasks import Task


@dataclass(frozen=True)
class Observations:
    """
    What a batch policy sees of the running episodes (R rows).

    ``image`` uint8[R, H, W, 3], ``ee_xy`` float32[R, 2] (m), ``instructions`` (R, what
    the policy reads), ``t`` (control steps taken), ``rows`` int64[R] (each row's episode:
    its index in the list given to ``reset``) and, on a simulator only, ``block_xy`` (R
    arrays float32[N, 2]: the physics state, for scripted experts; None in imagination)
    and, where the simulator gives it (PushT), ``block_yaw`` (R arrays float32[N], rad).
    """

    image: np.ndarray
    ee_xy: np.ndarray
    instructions: tuple[str, ...]
    t: int
    rows: np.ndarray
    block_xy: tuple[np.ndarray, ...] | None = None
    block_yaw: tuple[np.ndarray, ...] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def select(self, keep) -> 'Observations':
        """Return the rows ``keep`` (a bool mask or an index array), in that order."""
        index = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep)
        return Observations(self.image[index], self.ee_xy[index],
                            tuple(self.instructions[i] for i in index), self.t,
                            self.rows[index],
                            None if self.block_xy is None
                            else tuple(self.block_xy[i] for i in index),
                            None if self.block_yaw is None
                            else tuple(self.block_yaw[i] for i in index))

    def one(self, i: int) -> Observation:
        """Return row ``i`` as the single-row :class:`~wm_ros.interfaces.Observation`."""
        return Observation(self.image[i], self.ee_xy[i], self.instructions[i], self.t)


class EpisodeTask(Protocol):
    """What a policy may read of an episode's start (``wm_ros.episodes.env.Start`` has it)."""

    task: Task                  # the task spec; ``task.instruction`` is what is read
    scene: Scene | None         # the true scene, where known (the tabletop's starts)
    policy_seed: int            # the seed of the policy's own random stream


@runtime_checkable
class Policy(Protocol):
    """Acts for a batch of episodes (see the module docstring)."""

    def reset(self, episodes: Sequence[EpisodeTask]) -> None:
        """Start one episode per entry of ``episodes`` (row i is ``episodes[i]``)."""

    def act(self, observations: Observations) -> np.ndarray:
        """Return float32[R, 2]: the action (m/s) of every row of ``observations``."""


class Batched:
    """A network acting on the whole batch at once (``act_batch``; learned policies)."""

    def __init__(self, policy: BatchPolicy):
        self.policy = policy

    def reset(self, episodes: Sequence[EpisodeTask]) -> None:
        """Nothing per episode: the network reads each row's instruction."""
        self.policy.reset()

    def act(self, observations: Observations) -> np.ndarray:
        """Return one ``act_batch`` call's actions for every row."""
        return np.asarray(self.policy.act_batch(observations.image, observations.ee_xy,
                                                list(observations.instructions)), np.float32)


class PerRow:
    """One single-row policy per episode: ``make(episode)`` builds it ready to act."""

    def __init__(self, make: Callable[[EpisodeTask], object]):
        self.make = make
        self.rows: list = []

    def reset(self, episodes: Sequence[EpisodeTask]) -> None:
        """Build a fresh policy for every episode."""
        self.rows = [self.make(e) for e in episodes]

    def act(self, observations: Observations) -> np.ndarray:
        """Ask each row's own policy about its own observation."""
        out = np.zeros((len(observations), 2), np.float32)
        for i, row in enumerate(observations.rows):
            out[i] = self.rows[row].act(observations.one(i))
        return out


class Grouped:
    """Several policies in one batch: ``parts`` = [(policy, rows)], rows in that order."""

    def __init__(self, parts: Sequence[tuple[Policy, int]]):
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [n for _, n in self.parts])

    def reset(self, episodes: Sequence[EpisodeTask]) -> None:
        """Give each policy its own consecutive rows."""
        if len(episodes) != self.offsets[-1]:
            raise ValueError(f'{len(episodes)} episodes for policies of {self.offsets[-1]} rows')
        for (policy, _), a, b in zip(self.parts, self.offsets, self.offsets[1:]):
            policy.reset(episodes[a:b])

    def act(self, observations: Observations) -> np.ndarray:
        """Return every row's action, each policy acting once on its own running rows."""
        out = np.zeros((len(observations), 2), np.float32)
        for (policy, _), a, b in zip(self.parts, self.offsets, self.offsets[1:]):
            mine = np.flatnonzero((observations.rows >= a) & (observations.rows < b))
            if len(mine):
                part = observations.select(mine)
                out[mine] = policy.act(replace(part, rows=part.rows - a))
        return out


class Redrawn:
    """The inner policy sees each frame as the world model redraws it (encode, decode)."""

    def __init__(self, inner: Policy, runtime):
        self.inner, self.runtime = inner, runtime

    def reset(self, episodes: Sequence[EpisodeTask]) -> None:
        """Start the inner policy."""
        self.inner.reset(episodes)

    def act(self, observations: Observations) -> np.ndarray:
        """Return the inner policy's actions for the redrawn frames (the same ``ee_xy``)."""
        return self.inner.act(replace(observations, image=redraw(
            self.runtime, observations.image, observations.ee_xy)))


def redraw(runtime, images: np.ndarray, ee_xy: np.ndarray) -> np.ndarray:
    """Return ``images`` uint8[R,S,S,3] as ``runtime`` draws them after encoding them."""
    out = np.empty_like(images)
    for i in range(len(images)):          # row by row: the drawing of a row is its own
        state = runtime.encode(images[i][None], np.asarray(ee_xy[i], np.float32)[None])
        out[i] = runtime.decode(state)[0][0]
    return out
