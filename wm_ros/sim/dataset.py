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
Episodes on disk: compact ``.npz`` shards plus a JSON index, and ``wm-ros collect``.

A shard ``shard-00000.npz`` holds the arrays of several episodes under keys
``e{k}.images`` (uint8[T+1, S, S, 3]), ``e{k}.ee_xy`` (float32[T+1, 2]), ``e{k}.actions``
(float32[T, 2], m/s), ``e{k}.success`` (bool[T+1]) and ``e{k}.block_states``
(float32[T+1, N, 3]: x, y, yaw); ``shard-00000.json`` holds their scene, task,
instruction, behaviour and seed. Shards are zlib-compressed and loaded with
``allow_pickle=False``: nothing in a data file can run code.

Collection mixes behaviours so a world model also sees the consequences of bad actions:
``expert`` (the scripted expert), ``noisy`` (expert plus Gaussian noise and occasional
random bursts), ``explore`` (smooth random motion that is drawn toward blocks, so contacts
happen) and ``perceived`` (the expert acting on what a pixel policy would see: block
positions with per-step noise, reads that lag or drop out, so it jitters in front of
blocks, re-stages and pushes long, the states a closed-loop pixel policy drives the
robot into; issue 8). Every episode is reproducible from its seed.

``policies``: closed-loop data. Instead of scripted behaviours, learned or perceiving
pixel policies (the zoo, the degraded perception experts) drive the tabletop from what the
camera shows, and each episode is labelled ``policy:<name>``. A world model fine-tuned on
them sees the states those policies reach (long pushes, knocks between blocks, jitter in
front of a block), the way DAgger collects on the learner's own distribution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from wm_ros.interfaces import Observation
from wm_ros.policy.expert import ExpertPolicy
from wm_ros.sim.scene import Scene
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
from wm_ros.sim.tasks import FAMILIES, Task

BEHAVIOURS = ('expert', 'noisy', 'explore', 'perceived')
MIX = {'expert': 0.3, 'noisy': 0.25, 'explore': 0.2, 'perceived': 0.25}
ARRAYS = ('images', 'ee_xy', 'actions', 'success', 'block_states')
FORMAT_VERSION = 1


@dataclass
class Episode:
    """One episode; shapes in the module docstring. ``dt`` is the control period (s)."""

    images: np.ndarray
    ee_xy: np.ndarray
    actions: np.ndarray
    success: np.ndarray
    block_states: np.ndarray
    scene: Scene
    task: Task
    behaviour: str = 'expert'
    seed: int = 0
    dt: float = 0.1
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.actions)
        for name, arr in (('images', self.images), ('ee_xy', self.ee_xy),
                          ('success', self.success), ('block_states', self.block_states)):
            if len(arr) != n + 1:
                raise ValueError(f'episode {name} has {len(arr)} entries, expected '
                                 f'{n + 1} (one more than the {n} actions)')

    @property
    def instruction(self) -> str:
        """Return the task's instruction."""
        return self.task.instruction

    def __len__(self) -> int:
        return len(self.actions)

    def meta(self) -> dict:
        """Return the JSON-ready metadata (everything but the arrays)."""
        return {'scene': self.scene.to_dict(), 'task': self.task.to_dict(),
                'behaviour': self.behaviour, 'seed': self.seed, 'dt': self.dt,
                'steps': len(self), 'extra': self.extra}

    @classmethod
    def from_meta(cls, arrays: dict, meta: dict) -> 'Episode':
        """Inverse of :meth:`meta` plus the arrays."""
        return cls(**{k: arrays[k] for k in ARRAYS}, scene=Scene.from_dict(meta['scene']),
                   task=Task.from_dict(meta['task']), behaviour=meta['behaviour'],
                   seed=meta['seed'], dt=meta['dt'], extra=meta.get('extra', {}))


def write_shard(path: str | Path, episodes: list[Episode]) -> Path:
    """Write ``episodes`` to ``path`` (``.npz``) and its ``.json`` index."""
    path = Path(path).with_suffix('.npz')
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f'e{k}.{name}': getattr(ep, name) for k, ep in enumerate(episodes)
              for name in ARRAYS}
    np.savez_compressed(path, **arrays)
    index = {'format_version': FORMAT_VERSION, 'episodes': [ep.meta() for ep in episodes]}
    path.with_suffix('.json').write_text(json.dumps(index))
    return path


def read_shard(path: str | Path) -> list[Episode]:
    """Read every episode of one shard, with a clear error for missing or foreign files."""
    path = Path(path).with_suffix('.npz')
    index_path = path.with_suffix('.json')
    if not path.is_file() or not index_path.is_file():
        raise FileNotFoundError(f'shard {path} or its index {index_path.name} is missing')
    index = json.loads(index_path.read_text())
    if index.get('format_version') != FORMAT_VERSION:
        raise ValueError(f'{index_path} has format_version {index.get("format_version")}, '
                         f'this wm_ros reads {FORMAT_VERSION}; re-run `wm-ros collect`')
    with np.load(path, allow_pickle=False) as data:
        return [Episode.from_meta({n: data[f'e{k}.{n}'] for n in ARRAYS}, meta)
                for k, meta in enumerate(index['episodes'])]


def iter_episodes(root: str | Path):
    """Yield every episode of every shard under ``root`` in name order."""
    shards = sorted(Path(root).glob('shard-*.npz'))
    if not shards:
        raise FileNotFoundError(f'no shard-*.npz under {root}; run `wm-ros collect` first')
    for shard in shards:
        yield from read_shard(shard)


class _Behaviour:
    """Action source for collection: the expert, a noisy expert, or biased exploration."""

    def __init__(self, kind: str, env: TabletopEnv, rng: np.random.Generator):
        self.kind, self.env, self.rng = kind, env, rng
        self.expert = ExpertPolicy(env)
        self.expert.reset()
        self.vmax = env.config.max_speed
        self.burst, self.burst_left = np.zeros(2), 0
        self.velocity = np.zeros(2)
        self.target = None
        self.seen: np.ndarray | None = None
        self.read_noise = rng.uniform(0.002, 0.008)     # m: this episode's perception noise

    def act(self, obs: Observation) -> np.ndarray:
        if self.kind == 'expert':
            return self.expert.act(obs)
        if self.kind == 'noisy':
            a = self.expert.act(obs)
            if self.burst_left == 0 and self.rng.random() < 0.08:
                self.burst = self.rng.uniform(-self.vmax, self.vmax, 2)
                self.burst_left = int(self.rng.integers(2, 6))
            if self.burst_left > 0:
                self.burst_left -= 1
                return self.burst.astype(np.float32)
            return (a + self.rng.normal(0, 0.3 * self.vmax, 2)).astype(np.float32)
        if self.kind == 'perceived':
            return self._perceived(obs)
        # explore: Ornstein-Uhlenbeck velocity, drawn toward a random block half the time
        blocks = self.env.block_states()[:, :2]
        if self.target is None or self.rng.random() < 0.05:
            self.target = int(self.rng.integers(len(blocks))) if self.rng.random() < 0.5 else -1
        pull = np.zeros(2)
        if self.target >= 0:
            d = blocks[self.target] - obs.ee_xy
            pull = 0.7 * self.vmax * d / max(np.linalg.norm(d), 1e-6)
        self.velocity = 0.7 * self.velocity + 0.3 * (pull + self.rng.normal(0, self.vmax, 2))
        return np.clip(self.velocity, -self.vmax, self.vmax).astype(np.float32)

    def _perceived(self, obs: Observation) -> np.ndarray:
        """Expert on noisy, lagging block reads (what the encoder gives a pixel policy)."""
        true = self.env.block_states()[:, :2].astype(np.float64)
        if self.seen is None:
            self.seen = true.copy()
        fresh = self.rng.random(len(true)) > 0.15             # 15 % of reads drop out
        read = true + self.rng.normal(0, self.read_noise, true.shape)
        self.seen[fresh] = read[fresh]
        if self.expert.controller is None or self.expert.controller.task is not self.env.task:
            self.expert.reset()
        return np.asarray(self.expert.controller.act(np.asarray(obs.ee_xy, np.float64),
                                                     self.seen), np.float32)


def record_episode(env: TabletopEnv, seed: int, behaviour: str, family: str | None = None,
                   max_steps: int | None = None, settle_steps: int = 5,
                   actor=None) -> Episode:
    """
    Run one episode with ``behaviour`` from ``seed`` and return it with every frame.

    ``actor`` (a :class:`~wm_ros.interfaces.Policy`; ``set_task`` and ``reset`` are called
    when it has them) drives the episode instead of a scripted behaviour, and ``behaviour``
    is the label the episode gets. Non-finite actions are recorded as zeros, as the robot
    bridge would command them.
    """
    if actor is None and behaviour not in BEHAVIOURS:
        raise ValueError(f'unknown behaviour {behaviour!r}; choose one of {list(BEHAVIOURS)}')
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed, options={'task': family} if family else None)
    source = actor if actor is not None else _Behaviour(behaviour, env, rng)
    if actor is not None:
        if hasattr(actor, 'set_task'):
            actor.set_task(env.scene, env.task)
        if hasattr(actor, 'reset'):
            actor.reset()
    frames, ee, actions, success, states = [obs['image']], [obs['ee_xy']], [], [], []
    success.append(info['success'])
    states.append(env.block_states())
    after = 0
    while True:
        a = np.nan_to_num(np.asarray(source.act(Observation.from_step(obs, info)), np.float32))
        obs, _, terminated, truncated, info = env.step(a)
        actions.append(a)
        frames.append(obs['image'])
        ee.append(obs['ee_xy'])
        success.append(info['success'])
        states.append(env.block_states())
        after += terminated
        if after > settle_steps or truncated or (max_steps and len(actions) >= max_steps):
            break
    return Episode(np.stack(frames), np.stack(ee), np.stack(actions), np.array(success),
                   np.stack(states), env.scene, env.task, behaviour, seed,
                   1.0 / env.config.control_hz)


def collect(out: str | Path, episodes: int, seed: int = 0,
            mix: dict[str, float] | None = None, families: tuple[str, ...] = FAMILIES,
            config: TabletopConfig | None = None, shard_size: int = 50,
            max_steps: int | None = None, progress: bool = True,
            policies: Callable[[str, int], object] | None = None) -> list[Path]:
    """
    Collect ``episodes`` episodes into shards under ``out``; returns the shard paths.

    With ``policies`` (``policies(name, seed)`` returns a policy), ``mix`` names policies
    instead of scripted behaviours and each episode is driven by a fresh one, labelled
    ``policy:<name>``; every name is built once first, so an unknown one fails before any
    episode runs.
    """
    if policies is not None:
        if not mix:
            raise ValueError('closed-loop collection needs the policies to roll, e.g. '
                             'mix={"bc_full": 1, "noisy": 1}')
        for name in mix:
            policies(name, 0)
    mix = mix or MIX
    unknown = sorted(set(mix) - set(BEHAVIOURS))
    if unknown and policies is None:
        raise ValueError(f'unknown behaviour(s) {unknown} in mix; choose from {list(BEHAVIOURS)}')
    for family in families:
        if family not in FAMILIES:
            raise ValueError(f'unknown task {family!r}; choose one of {list(FAMILIES)}')
    names = list(mix)
    weights = np.array([mix[n] for n in names], float)
    rng = np.random.default_rng(seed)
    env = TabletopEnv(config)
    out = Path(out)
    paths, buffer = [], []
    try:
        for k in tqdm(range(episodes), desc='collect', unit='ep', disable=not progress):
            behaviour = names[rng.choice(len(names), p=weights / weights.sum())]
            family = families[rng.integers(len(families))]
            ep_seed = int(rng.integers(2**31))
            actor = policies(behaviour, ep_seed) if policies is not None else None
            label = f'policy:{behaviour}' if actor is not None else behaviour
            buffer.append(record_episode(env, ep_seed, label, family, max_steps, actor=actor))
            if len(buffer) == shard_size or k == episodes - 1:
                paths.append(write_shard(out / f'shard-{len(paths):05d}', buffer))
                buffer = []
    finally:
        env.close()
    return paths
