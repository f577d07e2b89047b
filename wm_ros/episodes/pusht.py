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
PushT (the second reference robot) as a batched environment for the episode driver.

:class:`PushTs` holds B :class:`~wm_ros.sim.pusht.PushTEnv` in this process and steps
the running rows in lockstep, like :class:`~wm_ros.episodes.tabletop.Tabletops`: each
row starts from its :class:`~wm_ros.episodes.env.Start`'s seed (gym-pusht's own start
for that seed), observations carry the T's true pose (``block_xy`` float32[1, 2] and
``block_yaw`` float32[1]) for the scripted PushT behaviours, and ``success`` is PushT's
own verdict (the T covers more than 95 % of its goal), so ``can_judge``. PushT episodes
are ``config.max_steps`` (300) steps long: pass :attr:`PushTs.limits` to the driver.
:func:`sample_starts` draws the starts of a suite from the seed rule
(:func:`~wm_ros.episodes.seeds.episode_seed` with family ``pusht``).
"""

from __future__ import annotations

from collections.abc import Sequence


from wm_ros.episodes.driver import run_episodes
from wm_ros.episodes.env import EpisodeResult, Limits, SimRows, Start
from wm_ros.episodes.seeds import episode_seed
from wm_ros.policy.base import Observations
from wm_ros.sim.pusht import PushTConfig, PushTEnv
from wm_ros.sim.tasks import PUSHT, PUSHT_TASK


class PushTs(SimRows):
    """B PushT environments in this process, stepped in lockstep (module docstring)."""

    def __init__(self, config: PushTConfig | None = None):
        self.config = config or PushTConfig()
        super().__init__(lambda: PushTEnv(self.config))

    @property
    def limits(self) -> Limits:
        """Return PushT's step limit for the driver (``config.max_steps`` for every row)."""
        return Limits(self.config.max_steps, self.config.max_steps)

    def start(self, seed: int, k: int = 0) -> Start:
        """Return the start of seed ``seed``: its scene (the pusher), task and first frame."""
        if not self.envs:
            self.envs.append(PushTEnv(self.config))
        obs, _ = self.envs[0].reset(seed=seed)
        return Start(PUSHT, k, seed, self.envs[0].scene, PUSHT_TASK, obs['image'],
                     obs['ee_xy'])

    def _reset_row(self, env: PushTEnv, start: Start) -> tuple[dict, dict]:
        """Put ``env`` at gym-pusht's start for ``start.seed``."""
        return env.reset(seed=start.seed)

    def reset(self, starts: Sequence[Start]) -> tuple[Observations, list[dict]]:
        """Put PushT i at gym-pusht's start for ``starts[i].seed``."""
        wrong = [s.task.family for s in starts if s.task.family != PUSHT]
        if wrong:
            raise ValueError(f'PushT runs its own task only (family {PUSHT!r}), got starts of '
                             f'{sorted(set(wrong))}: draw them with wm_ros.episodes.pusht.'
                             'sample_starts')
        return super().reset(starts)

    def _truth(self, infos: list[dict]) -> tuple:
        """Return the T's true position and yaw, for the scripted PushT behaviours."""
        return (tuple(i['block_xy'] for i in infos), tuple(i['block_yaw'] for i in infos))


def sample_starts(episodes: int, seed: int, config: PushTConfig | None = None) -> list[Start]:
    """Return ``episodes`` PushT starts (seed rule, first frames) for suite seed ``seed``."""
    envs = PushTs(config)
    try:
        return [envs.start(episode_seed(seed, PUSHT, k), k) for k in range(episodes)]
    finally:
        envs.close()


def run_pusht(policy: str, episodes: int, seed: int, config: PushTConfig | None = None,
              batch: int = 10, keep_frames: Sequence[int] = ()) -> list[EpisodeResult]:
    """
    Run registry policy ``policy`` on ``episodes`` fresh PushT starts of suite ``seed``.

    ``batch`` episodes run in lockstep at a time; results come in start order, the same
    for any ``batch``. ``keep_frames``: episode indices whose frames come back.
    """
    from wm_ros.policy import registry
    if registry.robot_of(policy) not in ('', 'pusht'):
        raise ValueError(f'policy {policy!r} runs on the {registry.robot_of(policy)} only; on '
                         'PushT use pusht_expert, pusht_noisy, pusht_explore or a learned one')
    config = config or PushTConfig()
    envs = PushTs(config)
    made = registry.make(policy, registry.PolicyContext(
        board_half=config.board_half, max_speed=config.max_speed, control_hz=config.control_hz))
    starts = [Start(PUSHT, k, episode_seed(seed, PUSHT, k), None, PUSHT_TASK)
              for k in range(episodes)]
    out: list[EpisodeResult] = []
    try:
        for i in range(0, episodes, max(1, batch)):
            part = starts[i:i + max(1, batch)]
            keep = [k - i for k in keep_frames if i <= k < i + len(part)]
            out += run_episodes(envs, made, part, envs.limits, keep_frames=keep)
    finally:
        envs.close()
    return out
