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
The evaluation suite's episodes, real and imagined, through the one episode driver.

:class:`EvalConfig` says what to run; :func:`starts` draws the suite's starts (the seed
rule of :mod:`wm_ros.episodes.seeds`), the same for every policy; :func:`run_tabletop`
runs ``(policy, start)`` jobs on the tabletop (a pool of processes; the reward model
judges each episode's real frames when it ends) and :func:`imagine_many` rolls every
policy out from every start in the world model as one batch
(:class:`~wm_ros.episodes.imagination.ImaginationEnv`, the reward model judging each
step). Outcomes are :class:`~wm_ros.episodes.env.EpisodeResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from wm_ros.episodes.driver import Judging, PartClock, run_episodes
from wm_ros.episodes.env import EpisodeResult, Limits, Start
from wm_ros.episodes.imagination import ImaginationEnv
from wm_ros.episodes.tabletop import run_on_tabletop, sample_starts, TabletopWorld, VIEWS
from wm_ros.policy import registry
from wm_ros.policy.base import Grouped

BOARD_HALF = 0.25          # m, the tabletop's
TASKS = ('block_to_region', 'block_to_block', 'separate', 'group_by_colour')


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate; ``tiny`` for tests."""

    # the acceptance suite: six behaviour-cloned policies and two modular ones (learned
    # perception, scripted controller), real success from about 10 to 95 %
    policies: tuple[str, ...] = ('bc_full', 'bc_expert', 'colour_only', 'bc_noisy', 'bc_200',
                                 'bc_50', 'expert', 'slow')
    tasks: tuple[str, ...] = TASKS
    episodes: int = 25
    seed: int = 5000                   # tabletop seeds derive from it; never used in training
    max_steps: int = 120
    max_steps_long: int = 400
    workers: int = 0                   # tabletop processes; 0 = one per core
    strip_frames: int = 8              # frames per rollout strip (episode 0 of every cell)
    judge: str = 'reward'              # what ends an imagined episode: 'reward' or 'state'
    hold: int = 1                      # imagined frames in a row the reward model must pass
    view: str = 'camera'               # what tabletop policies see: 'camera' or 'redrawn'
    jitter_m: float = 0.0              # tabletop starts: every block moved by N(0, this) m

    def __post_init__(self):
        if not self.jitter_m >= 0:
            raise ValueError(f'jitter_m is a standard deviation in metres, >= 0; got '
                             f'{self.jitter_m}')
        if self.view not in VIEWS:
            raise ValueError(f'view must be one of {list(VIEWS)} (what the tabletop policies '
                             f'see), got {self.view!r}')
        if self.hold < 1:
            raise ValueError(f'hold is a number of frames in a row, >= 1; got {self.hold}')
        if self.judge not in ('reward', 'state'):
            raise ValueError(f"judge must be 'reward' (the reward model on the imagined "
                             f"frames) or 'state' (the imagined objects), got {self.judge!r}")

    @classmethod
    def tiny(cls, policies: tuple[str, ...]) -> 'EvalConfig':
        """Two families, two episodes, short limits: seconds, for tests."""
        return cls(policies=policies, tasks=('block_to_region', 'separate'), episodes=2,
                   max_steps=12, max_steps_long=12, workers=1, strip_frames=4)

    @property
    def limits(self) -> Limits:
        """Return the step limits of the suite."""
        return Limits(self.max_steps, self.max_steps_long)


def starts(config: EvalConfig, image_size: int) -> list[Start]:
    """Sample every (family, k) start on a tabletop: scene, task, first frame."""
    return sample_starts(config.tasks, config.episodes, config.seed, image_size, BOARD_HALF)


def run_tabletop(jobs: list[tuple[str, Start]], model: str, reward: str, image_size: int,
                 config: EvalConfig, workers: int, keep=()) -> list[EpisodeResult]:
    """
    Run ``(policy, start)`` jobs on the tabletop, in ``workers`` processes (0: here).

    ``keep``: job indices whose frames come back. The physics verdict is ``success``;
    there is no second judge (``env_success`` None). A perceiving policy's random stream
    is seeded, in every episode of this call, with the seed of that policy's first start
    here: the tabletop worker this replaces built each policy once, with the seed of the
    first episode it ran, and kept it (imagination seeds each row with its own start).
    """
    first: dict[str, int] = {}
    for name, start in jobs:
        first.setdefault(name, start.seed)
    world = TabletopWorld(str(model), str(reward), image_size, BOARD_HALF, config.limits,
                          config.jitter_m, config.view)
    jobs = [(name, replace(start, policy_seed=first[name])) for name, start in jobs]
    results = run_on_tabletop(world, jobs, workers, keep=set(keep))
    for r in results:
        r.env_success = None
    return results


def imagination_policy(runtime, names: list[str], rows_each: int) -> Grouped:
    """Return every policy of ``names`` side by side, ``rows_each`` rows each."""
    context = registry.PolicyContext.of(runtime, BOARD_HALF)
    return Grouped([(registry.make(name, context), rows_each) for name in names])


def imagine(runtime, reward, policy_name: str, group: list[Start], config: EvalConfig,
            keep: set[int] = frozenset()) -> list[EpisodeResult]:
    """Roll ``policy_name`` out in imagination from every start of ``group`` as one batch."""
    return imagine_many(runtime, reward, [policy_name], group, config, keep)[0]


def imagine_many(runtime, reward, policy_names: list[str], group: list[Start],
                 config: EvalConfig, keep: set[int] = frozenset(),
                 clock: PartClock | None = None, policy: Grouped | None = None
                 ) -> list[list[EpisodeResult]]:
    """
    Roll every policy out from every start of ``group``, all as one batch.

    Rows are (policy, start) pairs. Each step the world model steps only the rows still
    running, each policy acts once on its own rows, and the reward model scores every
    running row at once: batches stay large, which is what makes imagination fast on a
    CPU. An episode ends on ``config.judge``'s verdict (the reward model on ``hold``
    frames in a row, or the imagined-state judge) or its step limit; both verdicts are
    recorded. ``keep``: start indices whose frames are returned (strips); ``clock`` adds
    up the seconds per part; ``policy``: the policies already built
    (:func:`imagination_policy`). Returns one list per policy, in ``group`` order.
    """
    n = len(group)
    policy = policy or imagination_policy(runtime, list(policy_names), n)
    clock = clock or PartClock()
    rows = [s for _ in policy_names for s in group]
    kept = {p * n + i for p in range(len(policy_names)) for i in keep}
    judging = Judging(reward, hold=config.hold, ends=config.judge == 'reward')
    out = run_episodes(ImaginationEnv(runtime, BOARD_HALF, clock), policy, rows,
                       config.limits, judging, stop_on_success=config.judge == 'state',
                       keep_frames=kept, clock=clock)
    return [out[p * n:(p + 1) * n] for p in range(len(policy_names))]
