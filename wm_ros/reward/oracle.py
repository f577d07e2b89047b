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
``PhysicsOracle``: the tabletop's own success check, the ground truth of every reward model.

It reads block centres (metres, board frame), never pixels: ``judge(task, scene, xy)`` for
any state, ``judge_env(env)`` for a running :class:`~wm_ros.sim.tabletop.TabletopEnv`,
``labels(episode, task)`` for every frame of a recorded episode (``bool[T+1]``; for the
episode's own task it equals ``episode.success``). :func:`sample_task` draws another task
for a scene, so one frame can be labelled for several instructions (the learned classifier
trains on such relabelled frames to tie the words to the blocks they name);
:func:`task_vocabulary` lists every task the tabletop can phrase (its language).
"""

from __future__ import annotations

import numpy as np

from wm_ros.sim.scene import COLOURS, Scene, SHAPES
from wm_ros.sim.tasks import FAMILIES, PHRASINGS, REGIONS, Task

NAMING = ('block_to_region', 'block_to_block', 'separate')   # families that name blocks


class PhysicsOracle:
    """Judge tasks from the physics state (see the module docstring)."""

    def __init__(self, board_half: float = 0.25):
        if board_half <= 0:
            raise ValueError(f'board_half must be positive (metres), got {board_half}')
        self.board_half = float(board_half)

    def judge(self, task: Task, scene: Scene, block_xy: np.ndarray) -> bool:
        """Return whether ``task`` is solved with block centres ``block_xy`` float[N, 2]."""
        xy = np.asarray(block_xy, np.float64)
        if xy.shape != (len(scene.blocks), 2):
            raise ValueError(f'block_xy must be float[{len(scene.blocks)}, 2] (one x, y per '
                             f'block of the scene, metres), got shape {xy.shape}')
        return bool(task.success(scene, xy, self.board_half))

    def judge_env(self, env) -> bool:
        """Return whether ``env``'s (a TabletopEnv after reset) current task is solved."""
        if env.task is None:
            raise RuntimeError('the tabletop has no task yet: call env.reset() first')
        return self.judge(env.task, env.scene, env.block_states()[:, :2])

    def labels(self, episode, task: Task | None = None) -> np.ndarray:
        """Return bool[T+1]: ``task`` (default: the episode's own) solved at each frame."""
        task = task or episode.task
        states = np.asarray(episode.block_states)
        return np.array([self.judge(task, episode.scene, s[:, :2]) for s in states], bool)


def task_vocabulary(families: tuple[str, ...] = FAMILIES) -> list[Task]:
    """Return every task the tabletop can phrase: each template, block kind and region."""
    kinds = [f'{c} {s}' for c in COLOURS for s in SHAPES]
    out = []
    for family in families:
        for template in PHRASINGS[family]:
            if family == 'block_to_region':
                out += [Task(family, template.format(a=a, region=r), (a,), r)
                        for a in kinds for r in REGIONS]
            elif family in ('block_to_block', 'separate'):
                out += [Task(family, template.format(a=a, b=b), (a, b))
                        for a in kinds for b in kinds if a != b]
            else:
                out.append(Task(family, template))
    return out


def sample_task(scene: Scene, rng: np.random.Generator,
                families: tuple[str, ...] = NAMING) -> Task:
    """Return a random task of one of ``families`` over ``scene``'s blocks, in random words."""
    names = scene.names
    family = families[int(rng.integers(len(families)))]
    template = PHRASINGS[family][int(rng.integers(len(PHRASINGS[family])))]
    if family == 'block_to_region':
        a = names[int(rng.integers(len(names)))]
        region = list(REGIONS)[int(rng.integers(len(REGIONS)))]
        return Task(family, template.format(a=a, region=region), (a,), region)
    if family in ('block_to_block', 'separate'):
        if len(names) < 2:
            raise ValueError(f'{family} needs two blocks, the scene has {names}')
        i, j = rng.choice(len(names), 2, replace=False)
        a, b = names[int(i)], names[int(j)]
        return Task(family, template.format(a=a, b=b), (a, b))
    return Task(family, template)
