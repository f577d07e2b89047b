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
The closed-loop check's tabletop side: the real episodes and their physics replays.

Every episode runs through the episode driver on :class:`~wm_ros.episodes.tabletop.
Tabletops`: the pixel policy from its start until success or its step limit, then
``settle`` more steps (the driver's :class:`~wm_ros.episodes.env.Limits`), its actions
recorded. The physics replays play those actions back (:class:`~wm_ros.policy.replay.
Replay`) on a tabletop from the scene the model reads off the first frame and from the
true scene with every block moved by N(0, ``JITTER_M``). Chunks of episodes run in worker
processes through :func:`~wm_ros.episodes.pool.map_chunks`, each worker holding its
tabletops and its perception runtime (one thread) once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
import time

import numpy as np

from wm_ros.episodes.driver import run_episodes
from wm_ros.episodes.env import EpisodeResult, Limits, Start
from wm_ros.episodes.pool import map_chunks
from wm_ros.episodes.tabletop import Tabletops
from wm_ros.plan.detector import with_readout
from wm_ros.policy import registry
from wm_ros.policy.replay import Replay
from wm_ros.sim.scene import Scene, SceneError
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
from wm_ros.sim.tasks import Task

BOARD_HALF = 0.25     # m, the tabletop's (TabletopConfig.board_half)
JITTER_M = 0.001      # physics replay: sigma of the block moves of the jittered start


@dataclass
class RealEpisode:
    """A tabletop episode: its start (first frame, scene, task), actions [T, 2], end [N, 2]."""

    start: Start
    policy: str
    actions: np.ndarray
    final_xy: np.ndarray
    success: bool
    seconds: float
    decided: int = 0             # actions up to the first success (or the step limit)
    final_success: bool = False  # the verdict after the settle steps (the replay's target)
    physics_from_read: bool | None = None   # tabletop replay from the read start (None: off)
    physics_jitter: bool | None = None      # tabletop replay from the true start + 1 mm


@dataclass(frozen=True)
class RealWorld:
    """What a tabletop worker loads once (picklable): the model the policies perceive with."""

    model: str
    backend: str = 'onnxruntime'
    limits: Limits = Limits()
    detector: str = ''
    physics_replay: bool = False


def load_perception(model: str, backend: str, detector: str = ''):
    """
    Load ``model`` (one thread); a family without an object read-out reads with ``detector``.

    The policies perceive and the judge reads the imagined blocks through it (default: the
    shipped supervised model's read-out used on frames, :mod:`wm_ros.plan.detector`).
    """
    from wm_ros.runtime import load_runtime
    return with_readout(load_runtime(model, backend, threads=1), detector)


def tabletop_config(runtime, limits: Limits) -> TabletopConfig:
    """Return the tabletop of ``runtime``'s robot (image size, rate, speed) with ``limits``."""
    return TabletopConfig(image_size=runtime.image_size, control_hz=runtime.control_hz,
                          max_speed=runtime.max_speed, board_half=BOARD_HALF,
                          max_steps=limits.max_steps, max_steps_long=limits.max_steps_long)


def sample(config: TabletopConfig, family: str, k: int, seed: int, pseed: int) -> Start:
    """Return the start tabletop seed ``seed`` gives (scene, task, first frame)."""
    env = TabletopEnv(config)
    try:
        obs, _ = env.reset(seed=seed, options={'task': family})
        return Start(family, k, seed, env.scene, env.task, obs['image'], obs['ee_xy'],
                     policy_seed=pseed)
    finally:
        env.close()


class Robot:
    """The tabletops and the policies' perception runtime of one process."""

    def __init__(self, world: RealWorld):
        self.world = world
        self.runtime = load_perception(world.model, world.backend, world.detector)
        config = tabletop_config(self.runtime, world.limits)
        self.env, self.replayer = Tabletops(config), Tabletops(config)
        self.context = registry.PolicyContext.of(self.runtime, BOARD_HALF)

    def run(self, policy: str, starts: list[Start]) -> list[RealEpisode]:
        """Run ``policy`` from every start (one lockstep batch); physics replays if asked."""
        actions: list[list] = [[] for _ in starts]
        finals: dict[int, np.ndarray] = {}

        def on_step(t, observations, acts, success, infos):
            for r, a in zip(observations.rows, acts):
                actions[r].append(np.asarray(a, np.float32))

        def on_episode(row: int, result: EpisodeResult):
            finals[row] = self.env.envs[row].block_states()[:, :2]
        results = run_episodes(self.env, registry.make(policy, self.context), starts,
                               self.world.limits, on_step=on_step, on_episode=on_episode)
        out = []
        for row, (s, r) in enumerate(zip(starts, results)):
            e = RealEpisode(s, policy, np.stack(actions[row]), finals[row], r.success,
                            r.seconds, r.steps, r.final_success)
            if self.world.physics_replay:
                t0 = time.perf_counter()
                rng = np.random.default_rng(s.seed)
                e.physics_from_read = self.replay(read_scene(self.runtime, s.image, s.ee,
                                                             s.scene), s.task, e.actions)
                e.physics_jitter = self.replay(s.scene.jittered(rng, JITTER_M), s.task,
                                               e.actions)
                e.seconds += time.perf_counter() - t0
            out.append(e)
        return out

    def replay(self, scene: Scene, task: Task, actions: np.ndarray) -> bool | None:
        """Return the tabletop's verdict after ``actions`` from ``scene`` (None: invalid)."""
        n = len(actions)
        try:
            result, = run_episodes(self.replayer, Replay([actions]),
                                   [Start(task.family, 0, 0, scene, task)], Limits(n, n),
                                   stop_on_success=False)
        except SceneError:                # blocks read overlapping: no valid start
            return None
        return result.final_success


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


@lru_cache(maxsize=1)
def robot(world: RealWorld) -> Robot:
    """Return this process's :class:`Robot` for ``world`` (built once)."""
    return Robot(world)


def _run_chunk(world: RealWorld, policy: str, starts: list[Start]) -> list[RealEpisode]:
    return robot(world).run(policy, starts)


def run_real(world: RealWorld, jobs: list[tuple[str, list[Start]]], workers: int,
             chunk: int = 4) -> list[list[RealEpisode]]:
    """
    Run every ``(policy, starts)`` job on the tabletop; return each job's episodes.

    Chunks of ``chunk`` starts go to ``workers`` processes (0: here); the outcome does not
    depend on either.
    """
    chunks = [(world, p, starts[i:i + chunk]) for p, starts in jobs
              for i in range(0, len(starts), max(1, chunk))]
    done = iter(map_chunks(_run_chunk, chunks, workers))
    return [[e for _ in range(0, len(starts), max(1, chunk)) for e in next(done)]
            for _, starts in jobs]
