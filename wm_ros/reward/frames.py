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
Labelled frames for the success classifier: real, redrawn by the world model, imagined.

:class:`Frames` holds unique ``images`` uint8[N,S,S,3] and M labelled rows (M >= N: a
frame is judged for several tasks): ``frame`` int32[M] (row -> image), ``tasks`` (M
:class:`~wm_ros.sim.tasks.Task`), ``labels`` bool[M], ``own`` bool[M] (the episode's own
task, else another task of the same scene), ``source`` int8[M] (index into
:data:`SOURCES`) and ``episode`` int32[M] (for per-episode metrics). Per image, the
blocks it shows (the physics state, or the imagined objects for replays) supervise the
classifier's auxiliary block maps: ``colour`` and ``shape`` int8[N, MAX_BLOCKS]
(indices into the tabletop's ``COLOURS`` and ``SHAPES``, -1 for no block) and ``xy``
float32[N, MAX_BLOCKS, 2] (m).

* ``real``: tabletop frames, labelled by the physics ``success`` array (own task) or by
  :class:`~wm_ros.reward.oracle.PhysicsOracle` (``relabel`` other tasks per episode).
* ``reconstructed``: the same frames after the world model's encode -> decode (what the
  evaluator's first imagined frame looks like), with the real frame's labels.
* ``replayed``: frames of open-loop replays of the recorded actions in the world model
  from the episode's first frame, labelled by :class:`ImaginedStateJudge` on the imagined
  objects (what the evaluator's later frames look like).

:func:`pick_steps` chooses per episode which frames to keep (``count=None``: all of them,
for evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wm_ros.reward.oracle import PhysicsOracle, sample_task
from wm_ros.reward.state_judge import ImaginedStateJudge
from wm_ros.sim.scene import COLOURS, SHAPES
from wm_ros.sim.tasks import Task

SOURCES = ('real', 'reconstructed', 'replayed')
MAX_BLOCKS = 8
_COLOUR, _SHAPE = {c: i for i, c in enumerate(COLOURS)}, {s: i for i, s in enumerate(SHAPES)}


@dataclass
class Frames:
    """Labelled frames; fields in the module docstring."""

    images: np.ndarray
    frame: np.ndarray
    tasks: list[Task]
    labels: np.ndarray
    own: np.ndarray
    source: np.ndarray
    episode: np.ndarray
    colour: np.ndarray
    shape: np.ndarray
    xy: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def texts(self) -> list[str]:
        """Return the M instructions."""
        return [t.instruction for t in self.tasks]

    def rows(self, index) -> tuple[np.ndarray, list[str]]:
        """Return (images uint8[K,S,S,3], K instructions) of rows ``index``."""
        index = np.asarray(index)
        return self.images[self.frame[index]], [self.tasks[i].instruction for i in index]

    def margins(self, board_half: float) -> np.ndarray:
        """Return float[M]: each row's :meth:`Task.margin` on its frame's blocks (m)."""
        colours, shapes = list(_COLOUR), list(_SHAPE)
        out = np.full(len(self), np.nan)
        for i, (task, f) in enumerate(zip(self.tasks, self.frame)):
            there = np.flatnonzero(self.colour[f] >= 0)
            names = [f'{colours[self.colour[f, j]]} {shapes[self.shape[f, j]]}' for j in there]
            out[i] = task.margin(names, self.xy[f, there], board_half)
        return out

    def select(self, index) -> 'Frames':
        """Return the rows ``index`` (an int array or boolean mask); images are shared."""
        index = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index)
        return Frames(self.images, self.frame[index], [self.tasks[i] for i in index],
                      self.labels[index], self.own[index], self.source[index],
                      self.episode[index], self.colour, self.shape, self.xy)

    @staticmethod
    def concat(parts: list['Frames'], size: int = 64) -> 'Frames':
        """Stack several frame sets (an empty list gives an empty set of ``size`` frames)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Frames(np.zeros((0, size, size, 3), np.uint8), np.zeros(0, np.int32), [],
                          np.zeros(0, bool), np.zeros(0, bool), np.zeros(0, np.int8),
                          np.zeros(0, np.int32), np.zeros((0, MAX_BLOCKS), np.int8),
                          np.zeros((0, MAX_BLOCKS), np.int8),
                          np.zeros((0, MAX_BLOCKS, 2), np.float32))
        offsets = np.cumsum([0] + [len(p.images) for p in parts[:-1]])
        return Frames(np.concatenate([p.images for p in parts]),
                      np.concatenate([p.frame + o for p, o in zip(parts, offsets)]
                                     ).astype(np.int32),
                      [t for p in parts for t in p.tasks],
                      *(np.concatenate([getattr(p, k) for p in parts])
                        for k in ('labels', 'own', 'source', 'episode', 'colour', 'shape',
                                  'xy')))

    def summary(self) -> dict:
        """Return ``{source: {'images', 'rows', 'positives', 'own_positives'}}``."""
        out = {}
        for k, name in enumerate(SOURCES):
            m = self.source == k
            if m.any():
                out[name] = {'images': int(len(np.unique(self.frame[m]))), 'rows': int(m.sum()),
                             'positives': int(self.labels[m].sum()),
                             'own_positives': int((self.labels & self.own)[m].sum())}
        return out


def pick_steps(success: np.ndarray, rng: np.random.Generator, count: int | None,
               near_end: int = 4, hard: int = 4) -> np.ndarray:
    """
    Return the sorted frame indices to keep of an episode with ``success`` bool[T+1].

    Every successful frame, the last ``near_end``, the ``hard`` frames before the first
    success (the nearest negatives) and ``count`` random others; ``None`` keeps all.
    """
    n = len(success)
    if count is None:
        return np.arange(n)
    keep = set(np.flatnonzero(success).tolist()) | set(range(max(0, n - near_end), n))
    if success.any():
        first = int(np.argmax(success))
        keep |= set(range(max(0, first - hard), first))
    keep |= set(rng.choice(n, min(count, n), replace=False).tolist())
    return np.array(sorted(keep), int)


def blocks(names: list[str], xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (colour, shape int8[MAX_BLOCKS], xy float32[MAX_BLOCKS, 2]) of named blocks."""
    colour, shape = np.full(MAX_BLOCKS, -1, np.int8), np.full(MAX_BLOCKS, -1, np.int8)
    out = np.zeros((MAX_BLOCKS, 2), np.float32)
    for i, (name, p) in enumerate(zip(names[:MAX_BLOCKS], xy)):
        c, _, s = name.partition(' ')
        if c in _COLOUR and s in _SHAPE and np.all(np.isfinite(p)):
            colour[i], shape[i], out[i] = _COLOUR[c], _SHAPE[s], p
    return colour, shape, out


def _frames(images, tasks: list[Task], labels: np.ndarray, source: str, episode,
            objects: list[tuple]) -> Frames:
    """Return frames of ``images`` [N] with a row per (image, task): labels [K, N]."""
    n, k = len(images), len(tasks)
    colour, shape, xy = (np.stack(a) for a in zip(*objects))
    return Frames(np.asarray(images, np.uint8), np.tile(np.arange(n, dtype=np.int32), k),
                  [t for t in tasks for _ in range(n)], np.asarray(labels, bool).reshape(-1),
                  np.repeat(np.arange(k) == 0, n), np.full(n * k, SOURCES.index(source),
                                                           np.int8),
                  np.broadcast_to(np.asarray(episode, np.int32), (k, n)).reshape(-1).copy(),
                  colour, shape, xy)


def real_frames(episodes, rng: np.random.Generator, count: int | None, near_end: int = 4,
                hard: int = 4, relabel: int = 0, reconstructed: float = 0.0,
                runtime=None, board_half: float = 0.25, first_id: int = 0) -> Frames:
    """
    Return real frames of ``episodes`` (and redrawn ones, ``reconstructed`` of them).

    Each kept frame is labelled for the episode's own task and for ``relabel`` random other
    tasks of its scene (physics oracle). Redrawing needs ``runtime`` (any world model).
    """
    oracle = PhysicsOracle(board_half)
    parts = []
    for k, ep in enumerate(episodes):
        steps = pick_steps(ep.success, rng, count, near_end, hard)
        tasks = [ep.task] + [sample_task(ep.scene, rng) for _ in range(relabel)]
        labels = np.stack([ep.success[steps]] + [oracle.labels(ep, t)[steps]
                                                 for t in tasks[1:]])
        objects = [blocks(ep.scene.names, ep.block_states[t, :, :2]) for t in steps]
        parts.append(_frames(ep.images[steps], tasks, labels, 'real', first_id + k, objects))
        if runtime is not None and reconstructed > 0:
            redraw = np.flatnonzero(rng.random(len(steps)) < reconstructed)
            if len(redraw):
                state = runtime.encode(ep.images[steps[redraw]], ep.ee_xy[steps[redraw]])
                drawn, _ = runtime.decode(state)
                parts.append(_frames(drawn, tasks, labels[:, redraw], 'reconstructed',
                                     first_id + k, [objects[i] for i in redraw]))
    return Frames.concat(parts, episodes[0].images.shape[1] if episodes else 64)


def replayed_frames(runtime, episodes, rng: np.random.Generator, count: int | None,
                    near_end: int = 4, relabel: int = 0, board_half: float = 0.25,
                    batch: int = 64, first_id: int = 0) -> Frames:
    """
    Return frames of open-loop replays of ``episodes``' actions from their first frames.

    Labels come from the imagined-state judge, for the own task and ``relabel`` random
    other tasks per episode. Kept per episode: every imagined success of its own task, the
    last ``near_end`` frames, ``count`` random ones (``None``: every frame).
    """
    parts = []
    for lo in range(0, len(episodes), batch):
        parts += _replay_chunk(runtime, episodes[lo:lo + batch], rng, count, near_end,
                               relabel, board_half, first_id + lo)
    return Frames.concat(parts, runtime.image_size)


def _replay_chunk(runtime, chunk, rng, count, near_end, relabel, board_half, first_id):
    b = len(chunk)
    length = np.array([len(ep) for ep in chunk])
    actions = np.zeros((b, length.max(), 2), np.float32)
    for row, ep in enumerate(chunk):
        actions[row, :length[row]] = ep.actions
    state = runtime.encode(np.stack([ep.images[0] for ep in chunk]),
                           np.stack([ep.ee_xy[0] for ep in chunk]))
    tasks = [[ep.task] + [sample_task(ep.scene, rng) for _ in range(relabel)] for ep in chunk]
    judges = []
    for k in range(relabel + 1):
        judges.append(ImaginedStateJudge(runtime, board_half))
        judges[-1].start(state, [t[k] for t in tasks])
    picks = [set(pick_steps(np.zeros(n + 1, bool), rng, count, near_end, 0).tolist())
             for n in length]
    parts = []

    def keep(t: int, s) -> None:
        rows = np.flatnonzero(length >= t)
        labels = np.stack([j.judge(s, rows) for j in judges])        # [K, rows]
        want = np.array([labels[0, i] or t in picks[r] for i, r in enumerate(rows)], bool)
        if not want.any():
            return
        chosen = rows[want]
        images = runtime.decode(s.select(chosen))[0]
        objects = runtime.objects(s)
        for i, row in enumerate(chosen):
            present = np.flatnonzero(objects.present[row])
            names = [objects.kinds[int(objects.kind[row, j])] for j in present]
            parts.append(_frames(images[i:i + 1], tasks[row], labels[:, want][:, i:i + 1],
                                 'replayed', first_id + int(row),
                                 [blocks(names, objects.pos[row, present])]))

    keep(0, state)
    for t, s in enumerate(runtime.rollout(state, actions), 1):
        keep(t, s)
    return parts
