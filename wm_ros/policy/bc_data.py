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
Demonstrations for behaviour cloning: which episodes, which frames, which action labels.

:func:`select` picks episodes by behaviour, family and outcome, then a fixed random subset
of a given size; :func:`frames` turns them into training arrays. Frames after the first
success are dropped (the tabletop ends an episode at success, so a policy never sees
them). Labels are the recorded actions, or, with ``relabel``, what the scripted expert
would have done in each recorded state (its controller replayed along the episode's
pusher and block positions, as DART/DAgger label off-expert states): a noisy episode then
teaches how to recover from the states noise leads to, instead of copying the noise. The
same replay gives every frame's sub-goal (which block is pushed where), an auxiliary
target that teaches the network to find the named blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wm_ros.policy.expert import ExpertController
from wm_ros.sim.dataset import Episode, iter_episodes


@dataclass
class Frames:
    """
    Training arrays of N frames.

    images uint8[N,S,S,3], ee float32[N,2] (m), actions float32[N,2] (m/s), ``goal``
    float32[N,4]: the expert's current sub-goal (pushed block xy, its target xy; m, NaN
    where it has none), ``instruction`` int[N] indexing ``instructions``, ``episode``
    int[N] (for splits).
    """

    images: np.ndarray
    ee: np.ndarray
    actions: np.ndarray
    goal: np.ndarray
    instruction: np.ndarray
    episode: np.ndarray
    instructions: list[str]

    def __len__(self) -> int:
        return len(self.actions)

    def subset(self, mask: np.ndarray) -> 'Frames':
        """Return the frames where ``mask`` is true."""
        return Frames(self.images[mask], self.ee[mask], self.actions[mask], self.goal[mask],
                      self.instruction[mask], self.episode[mask], self.instructions)


def load(data_dirs) -> list[Episode]:
    """Return every episode under the shard directories ``data_dirs`` (in order)."""
    dirs = [data_dirs] if isinstance(data_dirs, (str, Path)) else list(data_dirs)
    if not dirs:
        raise ValueError('no data directories given; pass e.g. --data data/train1 data/train2')
    return [ep for d in dirs for ep in iter_episodes(d)]


def select(episodes: list[Episode], behaviours, families, successful_only: bool,
           count: int = 0, seed: int = 0) -> list[Episode]:
    """Return the episodes that qualify; ``count`` > 0 keeps a fixed random subset of that size."""
    chosen = [ep for ep in episodes if ep.behaviour in behaviours and ep.task.family in families
              and (ep.success.any() or not successful_only)]
    if not chosen:
        raise ValueError(f'no episode in the data is of behaviour {list(behaviours)}, family '
                         f'{list(families)}{" and successful" if successful_only else ""}; '
                         'collect some with `wm-ros collect`')
    if 0 < count < len(chosen):
        keep = np.sort(np.random.default_rng(seed).permutation(len(chosen))[:count])
        chosen = [chosen[i] for i in keep]
    return chosen


def expert_labels(ep: Episode, board_half: float = 0.25,
                  max_speed: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """
    Replay the scripted expert along ``ep``'s recorded states.

    Return (actions float32[T, 2] (m/s), goal float32[T, 4]): its action in each state and
    its sub-goal there (block xy, target xy; NaN when it has none).
    """
    ctrl = ExpertController(ep.scene, ep.task, board_half, max_speed, 1.0 / ep.dt)
    actions = np.zeros((len(ep), 2), np.float32)
    goal = np.full((len(ep), 4), np.nan, np.float32)
    for t in range(len(ep)):
        xy = ep.block_states[t, :, :2].astype(np.float64)
        actions[t] = ctrl.act(ep.ee_xy[t], xy)
        if ctrl.plan:
            g = ctrl.plan[0]
            goal[t] = *xy[g.block], *g.goal(xy)
    return actions, goal


def frames(episodes: list[Episode], relabel: bool = False, board_half: float = 0.25,
           max_speed: float = 0.2) -> Frames:
    """Return the training :class:`Frames` of ``episodes`` (module docstring)."""
    parts = {k: [] for k in ('images', 'ee', 'actions', 'goal', 'instruction', 'episode')}
    index: dict[str, int] = {}
    for k, ep in enumerate(episodes):
        done = np.flatnonzero(ep.success)
        end = int(done[0]) if len(done) else len(ep)       # states before success
        if end == 0:
            continue
        labels, goal = expert_labels(ep, board_half, max_speed)
        parts['images'].append(ep.images[:end])
        parts['ee'].append(ep.ee_xy[:end])
        parts['actions'].append((labels if relabel else ep.actions)[:end])
        parts['goal'].append(goal[:end])
        i = index.setdefault(ep.instruction, len(index))
        parts['instruction'].append(np.full(end, i))
        parts['episode'].append(np.full(end, k))
    if not parts['images']:
        raise ValueError('the chosen episodes have no frame before success')
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    return Frames(arrays['images'], arrays['ee'].astype(np.float32),
                  np.clip(arrays['actions'], -max_speed, max_speed).astype(np.float32),
                  arrays['goal'], arrays['instruction'], arrays['episode'], list(index))
