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
Where imagined rollouts start: real first frames, never more of an episode.

* :func:`from_data`: the first frame, pusher position and task of recorded episodes
  (shard directories from ``wm-ros collect``, or rosbag2 MCAP bags, a task family
  ``unknown`` where a bag names none);
* :func:`sampled`: the first frames of tabletop starts drawn with the suite's seed rule
  (:func:`~wm_ros.episodes.tabletop.sample_starts`) from seeds of their own:
  :data:`TRAIN_SEED` + seed for the training pool and :data:`EVAL_SEED` + seed for the
  imagined before/after measure, both far from the seeds the evaluator and the zoo
  measurement use (5000, 7000), so a real verification never replays a training start.

:func:`evenly` picks n starts spread over the families (round robin).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from wm_ros.episodes.env import Start

TRAIN_SEED = 28_000
EVAL_SEED = 28_500


def _episodes(path: Path):
    """Yield the episodes of a shard directory or of one bag."""
    if (path / 'metadata.yaml').is_file() or path.suffix == '.mcap':
        from wm_ros.sim.bag import import_mcap
        yield import_mcap(path)
        return
    from wm_ros.sim.dataset import iter_episodes
    yield from iter_episodes(path)


def from_data(paths: Iterable[str | Path], limit: int,
              families: Sequence[str] | None = None) -> list[Start]:
    """
    Return at most ``limit`` starts per family from the first frames of recorded episodes.

    ``families``: keep only episodes of these task families (``unknown`` ones always
    count: a bag may name none). Raise ValueError when no episode is left.
    """
    out, count = [], {}
    for path in map(Path, paths):
        for episode in _episodes(path):
            family = episode.task.family
            if families and family not in families and family != 'unknown':
                continue
            if count.get(family, 0) >= limit:
                continue
            k = count[family] = count.get(family, 0) + 1
            out.append(Start(family, k - 1, int(episode.seed), episode.scene, episode.task,
                             episode.images[0].copy(), episode.ee_xy[0].astype('float32')))
    if not out:
        raise ValueError(f'no episode of families {", ".join(families or ())} in '
                         f'{", ".join(map(str, paths))}; record some or choose --families')
    return out


def sampled(families: Sequence[str], per_family: int, seed: int, image_size: int = 64,
            board_half: float = 0.25) -> list[Start]:
    """Return ``per_family`` tabletop starts (first frames) per family from ``seed``."""
    from wm_ros.episodes.tabletop import sample_starts
    return sample_starts(tuple(families), per_family, seed, image_size, board_half)


def evenly(starts: Sequence[Start], n: int) -> list[Start]:
    """Return ``n`` of ``starts`` (all if fewer) taken round robin over their families."""
    by_family: dict[str, list[Start]] = {}
    for s in starts:
        by_family.setdefault(s.task_family, []).append(s)
    out, k = [], 0
    while len(out) < min(n, len(starts)):
        for group in by_family.values():
            if k < len(group) and len(out) < n:
                out.append(group[k])
        k += 1
    return out
