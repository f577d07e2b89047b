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
Episodes on disk: compact ``.npz`` shards plus a JSON index.

A shard ``shard-00000.npz`` holds the arrays of several episodes under keys
``e{k}.images`` (uint8[T+1, S, S, 3]), ``e{k}.ee_xy`` (float32[T+1, 2]), ``e{k}.actions``
(float32[T, 2], m/s), ``e{k}.success`` (bool[T+1]) and ``e{k}.block_states``
(float32[T+1, N, 3]: x, y, yaw); ``shard-00000.json`` holds their scene, task,
instruction, behaviour and seed. Shards are zlib-compressed and loaded with
``allow_pickle=False``: nothing in a data file can run code. A shard that is truncated,
foreign or missing arrays raises :class:`ShardError` naming it (:func:`check_shard`
checks one cheaply, before any work).

Episodes come from ``wm-ros collect`` (:mod:`wm_ros.episodes.collect`: the tabletop,
scripted behaviours or pixel policies) or from recorded bags (:mod:`wm_ros.sim.bag`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import json
from pathlib import Path
import tokenize
import zipfile
import zlib

import numpy as np

from wm_ros.sim.scene import Scene
from wm_ros.sim.tasks import Task

ARRAYS = ('images', 'ee_xy', 'actions', 'success', 'block_states')
FORMAT_VERSION = 1
# what numpy, zipfile and zlib raise on a truncated, foreign or incomplete .npz
_DAMAGE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error,
           NotImplementedError, SyntaxError, tokenize.TokenError, MemoryError)


class ShardError(ValueError):
    """A shard that cannot be read: truncated, not an ``.npz``, arrays or index damaged."""


def _damaged(path: Path, why: object) -> ShardError:
    """Return the error for the damaged shard file ``path``, saying why and what to do."""
    why = why.args[0] if isinstance(why, KeyError) and why.args else why
    return ShardError(f'shard {path} is damaged ({why}); collect it again with `wm-ros '
                      'collect --out DIR`, or move it out of its directory')


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


def _index(path: Path) -> list[dict]:
    """Return the episodes' metadata in the index of the shard ``path`` (``.npz``)."""
    index_path = path.with_suffix('.json')
    if not path.is_file() or not index_path.is_file():
        raise FileNotFoundError(f'shard {path} or its index {index_path.name} is missing; '
                                'collect it again with `wm-ros collect --out DIR`')
    try:
        index = json.loads(index_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _damaged(index_path, f'not valid JSON: {exc}') from None
    if not isinstance(index, dict) or not isinstance(index.get('episodes'), list):
        raise _damaged(index_path, 'no list of episodes')
    if index.get('format_version') != FORMAT_VERSION:
        raise ValueError(f'{index_path} has format_version {index.get("format_version")}, '
                         f'this wm_ros reads {FORMAT_VERSION}; re-run `wm-ros collect`')
    return index['episodes']


def _open(path: Path) -> np.lib.npyio.NpzFile:
    """Open the ``.npz`` archive ``path`` (its directory only; no array is read yet)."""
    with open(path, 'rb') as f:
        head = f.read(4)
    if head not in (b'PK\x03\x04', b'PK\x05\x06'):            # what numpy takes for .npz
        start = f'it starts with {head!r}' if head else 'it is empty'
        raise _damaged(path, f'not an .npz archive: {start}')
    try:
        return np.load(path, allow_pickle=False)
    except _DAMAGE as exc:
        raise _damaged(path, exc) from None


def check_shard(path: str | Path) -> int:
    """
    Raise :class:`ShardError` unless the shard opens with the arrays its index lists.

    Cheap: reads the index, the archive's directory and each array's header (its shape),
    no array (damaged array bytes are found when :func:`read_shard` reads them). Every
    episode must have its arrays, one frame more than actions. Returns the episodes.
    """
    path = Path(path).with_suffix('.npz')
    metas = _index(path)
    with _open(path) as data:
        names = set(data.files)
        missing = [f'e{k}.{n}' for k in range(len(metas)) for n in ARRAYS
                   if f'e{k}.{n}' not in names]
        if missing:
            raise _damaged(path, f'{len(missing)} array(s) its index lists are missing, '
                           f'e.g. {missing[0]}')
        for k in range(len(metas)):
            length = {n: _length(path, data, f'e{k}.{n}') for n in ARRAYS}
            wrong = [n for n in ARRAYS if n != 'actions' and length[n] != length['actions'] + 1]
            if wrong:
                raise _damaged(path, f'episode {k} has {length[wrong[0]]} {wrong[0]} for '
                               f'{length["actions"]} actions, not one more')
    return len(metas)


def _length(path: Path, data: np.lib.npyio.NpzFile, name: str) -> int:
    """Return the first dimension of array ``name`` from its ``.npy`` header alone."""
    fmt = np.lib.format
    try:
        with data.zip.open(f'{name}.npy') as f:
            major, _ = fmt.read_magic(f)
            shape = (fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0)(f)[0]
    except _DAMAGE as exc:
        raise _damaged(path, f'{name}: {exc}') from None
    return shape[0] if shape else -1


def read_shard(path: str | Path) -> list[Episode]:
    """Read every episode of one shard; :class:`ShardError` if it is damaged."""
    path = Path(path).with_suffix('.npz')
    metas = _index(path)
    with _open(path) as data:
        try:
            return [Episode.from_meta({n: data[f'e{k}.{n}'] for n in ARRAYS}, meta)
                    for k, meta in enumerate(metas)]
        except _DAMAGE as exc:
            raise _damaged(path, exc) from None


def iter_episodes(root: str | Path):
    """Yield every episode of every shard under ``root`` in name order."""
    shards = sorted(Path(root).glob('shard-*.npz'))
    if not shards:
        raise FileNotFoundError(f'no shard-*.npz under {root}; run `wm-ros collect` first')
    for shard in shards:
        yield from read_shard(shard)
