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
The tabletop (the reference "real robot") as a batched environment, and its process pool.

:class:`Tabletops` holds B MuJoCo tabletops in this process and steps the running rows
in lockstep; ``reset`` puts each at its start's scene and task (or samples them from the
start's seed), moving every block by N(0, ``jitter_m``) m when asked (the same moves for
every policy from one start). Observations carry the physics state (``block_xy``) for
the scripted expert; ``success`` is the physics oracle.

:func:`run_on_tabletop` runs ``(policy name, start)`` jobs in a pool of worker processes
(:mod:`wm_ros.episodes.pool`; one per core by default, ``workers=0`` here): consecutive
jobs of one policy form chunks that a worker runs through the episode driver, with the
tabletops, the world model its perceiving policies read with and the reward model loaded
once per worker (:class:`TabletopWorld` says which). The outcome does not depend on the
number of workers. :func:`sample_starts` draws the starts of a suite from the seed rule.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from wm_ros.episodes.driver import Judging, run_episodes
from wm_ros.episodes.env import EpisodeResult, Limits, SimRows, Start
from wm_ros.episodes.pool import map_chunks
from wm_ros.episodes.seeds import episode_seed
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv

VIEWS = ('camera', 'redrawn')


class Tabletops(SimRows):
    """B tabletops in this process, stepped in lockstep (see the module docstring)."""

    def __init__(self, config: TabletopConfig | None = None, jitter_m: float = 0.0):
        self.config, self.jitter_m = config or TabletopConfig(), float(jitter_m)
        super().__init__(lambda: TabletopEnv(self.config))

    def _reset_row(self, env: TabletopEnv, start: Start) -> tuple[dict, dict]:
        """Put ``env`` at ``start``'s scene and task (else sampled from its seed)."""
        if start.scene is None:
            return env.reset(seed=start.seed, options={'task': start.task_family})
        scene = start.scene
        if self.jitter_m:
            scene = scene.jittered(np.random.default_rng(start.seed), self.jitter_m)
        return env.reset(seed=start.seed, options={'scene': scene, 'task': start.task})


def sample_starts(families: Sequence[str], episodes: int, seed: int, image_size: int = 64,
                  board_half: float = 0.25) -> list[Start]:
    """Return every (family, k) start of a suite: seed rule, scene, task, first frame."""
    env = TabletopEnv(TabletopConfig(image_size=image_size, board_half=board_half))
    out = []
    try:
        for family in families:
            for k in range(episodes):
                s = episode_seed(seed, family, k)
                obs, _ = env.reset(seed=s, options={'task': family})
                out.append(Start(family, k, s, env.scene, env.task, obs['image'],
                                 obs['ee_xy']))
    finally:
        env.close()
    return out


@dataclass(frozen=True)
class TabletopWorld:
    """
    What a tabletop worker loads, once: picklable, so it travels to worker processes.

    ``model``: the world model perceiving policies read blocks with (and the ``redrawn``
    view draws with; its speed limit and control rate configure the tabletop), '' for
    none; ``reward``: a reward model judging each episode's real frames when it ends ('':
    none); ``view``: what policies see, the camera frame or the model's redraw of it.
    A consumer that needs more of a worker (replays from the final state) runs its own
    chunk function through :func:`~wm_ros.episodes.pool.map_chunks`.
    """

    model: str = ''
    reward: str = ''
    image_size: int = 64
    board_half: float = 0.25
    limits: Limits = field(default_factory=Limits)
    jitter_m: float = 0.0
    view: str = 'camera'

    def __post_init__(self):
        if self.view not in VIEWS:
            raise ValueError(f'view must be one of {list(VIEWS)} (what the tabletop policies '
                             f'see), got {self.view!r}')
        if self.view == 'redrawn' and not self.model:
            raise ValueError("view 'redrawn' needs the world model that redraws the frames")


class _Worker:
    """A worker's tabletops, models and policies (built once per :class:`TabletopWorld`)."""

    def __init__(self, world: TabletopWorld):
        import torch

        from wm_ros.policy.registry import PolicyContext
        torch.set_num_threads(1)                 # one process per core
        self.world, self.runtime, self.reward = world, None, None
        if world.model:
            from wm_ros.runtime import load_runtime
            self.runtime = load_runtime(world.model, 'onnxruntime', threads=1)
        if world.reward:
            from wm_ros.reward import load_reward
            self.reward = load_reward(world.reward)
        speed = {} if self.runtime is None else {'control_hz': self.runtime.control_hz,
                                                 'max_speed': self.runtime.max_speed}
        config = TabletopConfig(image_size=world.image_size, board_half=world.board_half,
                                max_steps=world.limits.max_steps,
                                max_steps_long=world.limits.max_steps_long, **speed)
        self.env = Tabletops(config, world.jitter_m)
        self.context = PolicyContext(self.runtime, world.board_half, config.max_speed,
                                     config.control_hz)
        self.policies: dict = {}

    def policy(self, name: str):
        """Return policy ``name`` (built on first use; per-episode state lives in reset)."""
        if name not in self.policies:
            from wm_ros.policy import registry
            from wm_ros.policy.base import Redrawn
            policy = registry.make(name, self.context)
            if self.world.view == 'redrawn':
                policy = Redrawn(policy, self.runtime)
            self.policies[name] = policy
        return self.policies[name]

    def run(self, name: str, starts: list[Start], keep: Collection[int]) -> list[EpisodeResult]:
        """Run ``starts`` with policy ``name`` as one lockstep batch."""
        judging = Judging(self.reward, ends=False, at_end=True) if self.reward else None
        return run_episodes(self.env, self.policy(name), starts, self.world.limits, judging,
                            keep_frames=keep)


@lru_cache(maxsize=2)
def _worker(world: TabletopWorld) -> _Worker:
    return _Worker(world)


def _run_chunk(world: TabletopWorld, name: str, starts: list[Start],
               keep: tuple[int, ...]) -> list[EpisodeResult]:
    return _worker(world).run(name, starts, keep)


def run_on_tabletop(world: TabletopWorld, jobs: Sequence[tuple[str, Start]], workers: int,
                    chunk: int = 4, keep: Collection[int] = ()) -> list[EpisodeResult]:
    """
    Run ``(policy name, start)`` jobs on tabletops; return their results in job order.

    ``workers`` processes (0: in this process); ``chunk`` episodes of one policy run in
    lockstep; ``keep``: indices of the jobs whose frames come back.
    """
    from wm_ros.policy import registry
    for name in dict.fromkeys(name for name, _ in jobs):     # refuse before any episode
        registry.check(name)
    chunks, i = [], 0
    while i < len(jobs):
        j = i + 1
        while j < len(jobs) and j - i < max(1, chunk) and jobs[j][0] == jobs[i][0]:
            j += 1
        chunks.append((world, jobs[i][0], [s for _, s in jobs[i:j]],
                       tuple(n - i for n in range(i, j) if n in keep)))
        i = j
    return [r for part in map_chunks(_run_chunk, chunks, workers) for r in part]
