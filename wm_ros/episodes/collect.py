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
``wm-ros collect``: tabletop episodes recorded into shards (:mod:`wm_ros.sim.dataset`).

Collection mixes behaviours so a world model also sees the consequences of bad actions:
``expert`` (the scripted expert), ``noisy`` (expert plus Gaussian noise and occasional
random bursts), ``explore`` (smooth random motion that is drawn toward blocks, so contacts
happen) and ``perceived`` (the expert acting on what a pixel policy would see: block
positions with per-step noise, reads that lag or drop out, so it jitters in front of
blocks, re-stages and pushes long, the states a closed-loop pixel policy drives the
robot into; issue 8). Every episode is reproducible from its seed.

``policies``: closed-loop data. Instead of scripted behaviours, learned or perceiving
pixel policies (the zoo, the degraded perception experts; :mod:`wm_ros.policy.registry`)
drive the tabletop from what the camera shows, and each episode is labelled
``policy:<name>``. A world model fine-tuned on them sees the states those policies reach
(long pushes, knocks between blocks, jitter in front of a block), the way DAgger collects
on the learner's own distribution.

``robot='pusht'`` collects PushT (:mod:`wm_ros.sim.pusht`) instead, with its own scripted
behaviours (:mod:`wm_ros.policy.pusht_expert`: ``expert``, ``noisy``, ``explore``; mix
:data:`PUSHT_MIX`) or learned policies; its one task is ``pusht`` and its episodes are up
to 300 steps. The shards are the same format (the T is the one entry of ``block_states``).

Every episode runs through the episode driver (:func:`~wm_ros.episodes.driver.
run_episodes`) on :class:`~wm_ros.episodes.tabletop.Tabletops` (or
:class:`~wm_ros.episodes.pusht.PushTs`); :class:`Recording` keeps
every frame, pusher position, action, verdict and block state, and ends an episode once
it has been solved on more than ``settle_steps`` steps (the pushes just past success a
model should see), at the tabletop's step limit or at ``max_steps``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from wm_ros.episodes.driver import run_episodes
from wm_ros.episodes.env import Limits, Start
from wm_ros.episodes.pusht import PushTs
from wm_ros.episodes.tabletop import Tabletops
from wm_ros.policy.base import Observations, Policy
from wm_ros.policy.pusht_expert import KINDS as PUSHT_BEHAVIOURS, PushTScripted
from wm_ros.policy.scripted import BEHAVIOURS, Scripted
from wm_ros.sim.dataset import Episode, write_shard
from wm_ros.sim.pusht import PushTConfig
from wm_ros.sim.robots import check_robot
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
from wm_ros.sim.tasks import FAMILIES, PUSHT

MIX = {'expert': 0.3, 'noisy': 0.25, 'explore': 0.2, 'perceived': 0.25}
PUSHT_MIX = {'expert': 0.4, 'noisy': 0.3, 'explore': 0.3}


class Recording:
    """
    :class:`~wm_ros.episodes.tabletop.Tabletops` (or ``PushTs``) recording every step.

    A row ends (``done``) once its task has held on more than ``settle_steps`` steps, or
    after ``max_steps`` actions (None: the tabletop's own limit, which the driver applies).
    """

    can_judge = True

    def __init__(self, tabletops: Tabletops, settle_steps: int = 5,
                 max_steps: int | None = None):
        self.tabletops, self.settle_steps, self.max_steps = tabletops, settle_steps, max_steps
        self.rows: list[dict] = []

    def start(self, seed: int, family: str | None, k: int = 0) -> Start:
        """Return the start ``seed`` samples (``family``; None: the config's or a random one)."""
        if isinstance(self.tabletops, PushTs):
            return self.tabletops.start(seed, k)
        if not self.tabletops.envs:
            self.tabletops.envs.append(TabletopEnv(self.tabletops.config))
        env = self.tabletops.envs[0]
        obs, _ = env.reset(seed=seed, options={'task': family} if family else None)
        return Start(env.task.family, k, seed, env.scene, env.task, obs['image'], obs['ee_xy'])

    def reset(self, starts: Sequence[Start]) -> tuple[Observations, list[dict]]:
        """Start every row and record its first frame."""
        observations, infos = self.tabletops.reset(starts)
        self.rows = [{'images': [], 'ee_xy': [], 'actions': [], 'success': [],
                      'block_states': [], 'held': 0} for _ in starts]
        self._record(observations, infos)
        return observations, infos

    def step(self, actions: np.ndarray, rows: np.ndarray | None = None
             ) -> tuple[Observations, np.ndarray, np.ndarray, list[dict]]:
        """Step the rows, record the step, end the rows that are done."""
        rows = self.tabletops.running if rows is None else np.asarray(rows, np.int64)
        observations, done, success, infos = self.tabletops.step(actions, rows)
        for r, a in zip(rows, np.asarray(actions, np.float32)):
            self.rows[r]['actions'].append(a)
        self._record(observations, infos)
        for i, r in enumerate(rows):
            row = self.rows[r]
            row['held'] += bool(infos[i]['success'])
            done[i] |= row['held'] > self.settle_steps or bool(
                self.max_steps and len(row['actions']) >= self.max_steps)
        return observations, done, success, infos

    def close(self) -> None:
        """Free the tabletops."""
        self.tabletops.close()

    def episode(self, row: int, start: Start, behaviour: str) -> Episode:
        """Return row ``row`` as an :class:`~wm_ros.sim.dataset.Episode` labelled ``behaviour``."""
        rec = self.rows[row]
        return Episode(np.stack(rec['images']), np.stack(rec['ee_xy']), np.stack(rec['actions']),
                       np.array(rec['success']), np.stack(rec['block_states']), start.scene,
                       start.task, behaviour, start.seed,
                       1.0 / self.tabletops.config.control_hz)

    def _record(self, observations: Observations, infos: list[dict]) -> None:
        for i, r in enumerate(observations.rows):
            row = self.rows[r]
            row['images'].append(observations.image[i])
            row['ee_xy'].append(observations.ee_xy[i])
            row['success'].append(infos[i]['success'])
            row['block_states'].append(self.tabletops.envs[r].block_states())


def record_episode(tabletops: Tabletops | PushTs, seed: int, behaviour: str,
                   family: str | None = None, max_steps: int | None = None, settle_steps: int = 5,
                   policy: Policy | None = None) -> Episode:
    """
    Run one episode with ``behaviour`` from ``seed`` and return it with every frame.

    ``policy`` (a batched :class:`~wm_ros.policy.base.Policy`) drives the episode instead
    of a scripted behaviour, and ``behaviour`` is the label the episode gets. Non-finite
    actions are recorded as zeros, as the robot bridge would command them.
    """
    config = tabletops.config
    if policy is None:
        policy = _scripted(tabletops, behaviour)
    recording = Recording(tabletops, settle_steps, max_steps)
    start = recording.start(seed, family)
    limits = tabletops.limits if isinstance(tabletops, PushTs) else \
        Limits(config.max_steps, config.max_steps_long)
    run_episodes(recording, policy, [start], limits, stop_on_success=False)
    return recording.episode(0, start, behaviour)


def _scripted(envs, behaviour: str) -> Policy:
    """Return scripted ``behaviour`` for the robot of ``envs`` (refused if it has none)."""
    c = envs.config
    if isinstance(envs, PushTs):
        if behaviour not in PUSHT_BEHAVIOURS:
            raise ValueError(f'unknown PushT behaviour {behaviour!r}; choose one of '
                             f'{list(PUSHT_BEHAVIOURS)}')
        return PushTScripted(behaviour, c.board_half, c.max_speed, c.control_hz)
    if behaviour not in BEHAVIOURS:
        raise ValueError(f'unknown behaviour {behaviour!r}; choose one of {list(BEHAVIOURS)}')
    return Scripted(behaviour, c)


def collect(out: str | Path, episodes: int, seed: int = 0,
            mix: dict[str, float] | None = None, families: tuple[str, ...] = FAMILIES,
            config: TabletopConfig | PushTConfig | None = None, shard_size: int = 50,
            max_steps: int | None = None, progress: bool = True,
            policies: Callable[[str], Policy] | None = None,
            robot: str = 'tabletop') -> list[Path]:
    """
    Collect ``episodes`` episodes into shards under ``out``; returns the shard paths.

    ``robot``: ``tabletop`` (``config`` a ``TabletopConfig``, ``families`` its task
    families) or ``pusht`` (a ``PushTConfig``; its one family, whatever ``families`` is).

    With ``policies`` (``policies(name)`` returns a batched policy, e.g.
    :class:`PolicyMaker`), ``mix`` names policies instead of scripted behaviours and each
    episode, labelled ``policy:<name>``, starts that policy afresh (its own random stream
    seeded with the episode's seed); every name is built once first, so an unknown one
    fails before any episode runs.
    """
    pusht = check_robot(robot) == 'pusht'
    families = (PUSHT,) if pusht else families
    built = _check(mix, families, policies, robot)
    mix = mix or (PUSHT_MIX if pusht else MIX)
    names = list(mix)
    weights = np.array([mix[n] for n in names], float)
    rng = np.random.default_rng(seed)
    tabletops = PushTs(config) if pusht else Tabletops(config)
    out = Path(out)
    paths, buffer = [], []
    try:
        for k in tqdm(range(episodes), desc='collect', unit='ep', disable=not progress):
            behaviour = names[rng.choice(len(names), p=weights / weights.sum())]
            family = families[rng.integers(len(families))]
            ep_seed = int(rng.integers(2**31))
            label = f'policy:{behaviour}' if built else behaviour
            buffer.append(record_episode(tabletops, ep_seed, label, family, max_steps,
                                         policy=built.get(behaviour)))
            if len(buffer) == shard_size or k == episodes - 1:
                paths.append(write_shard(out / f'shard-{len(paths):05d}', buffer))
                buffer = []
    finally:
        tabletops.close()
    return paths


def _check(mix, families, policies, robot: str = 'tabletop') -> dict:
    """Refuse a bad mix or family; return the policies by name (empty: scripted)."""
    built = {}
    if policies is not None:
        if not mix:
            raise ValueError('closed-loop collection needs the policies to roll, e.g. '
                             'mix={"bc_full": 1, "noisy": 1}')
        from wm_ros.policy import registry
        other = [n for n in mix if registry.robot_of(n) not in ('', robot)]
        if other:
            raise ValueError(f'policies {other} are made for another robot than {robot}')
        built = {name: policies(name) for name in mix}
    known = PUSHT_BEHAVIOURS if robot == 'pusht' else BEHAVIOURS
    unknown = sorted(set(mix or (PUSHT_MIX if robot == 'pusht' else MIX)) - set(known))
    if unknown and policies is None:
        raise ValueError(f'unknown behaviour(s) {unknown} in mix; choose from {list(known)}')
    for family in families:
        if family not in FAMILIES and not (robot == 'pusht' and family == PUSHT):
            raise ValueError(f'unknown task {family!r}; choose one of {list(FAMILIES)}')
    return built


class PolicyMaker:
    """
    ``maker(name)`` returns registry policy ``name`` for collection (``wm-ros collect``).

    Perceiving kinds read blocks through ``model`` (loaded once, on first use, one thread:
    one collect process per core). ``max_speed`` and ``control_hz`` (None: the registry's
    defaults) are the robot's, for the kinds that are not perceiving.
    """

    def __init__(self, model: str | Path, backend: str = 'onnxruntime',
                 board_half: float = 0.25, max_speed: float | None = None,
                 control_hz: float | None = None):
        self.model, self.backend, self.board_half = str(model), backend, board_half
        self.limits = {k: v for k, v in (('max_speed', max_speed), ('control_hz', control_hz))
                       if v is not None}
        self._runtime = None

    def __call__(self, name: str) -> Policy:
        """Return policy ``name`` (refused at once, listing the known names, if unknown)."""
        from wm_ros.policy import registry
        if not registry.perceives(name):
            return registry.make(name, registry.PolicyContext(board_half=self.board_half,
                                                              **self.limits))
        if self._runtime is None:
            from wm_ros.runtime import load_runtime
            self._runtime = load_runtime(self.model, self.backend, threads=1)
        return registry.make(name, registry.PolicyContext.of(self._runtime, self.board_half))
