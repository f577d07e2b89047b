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
Training data for the world model: episodes flattened into tensors, and batch samplers.

Sources are shard directories (``wm-ros collect``) and rosbag2 MCAP bags written by
``wm-ros bag export`` or recorded on the tabletop (they carry ``/sim/block_poses`` and
``/task/spec``). The object-centric model is supervised with block states, so a bag
without them is refused with a message saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wm_ros.model.config import WorldModelConfig
from wm_ros.sim.dataset import Episode, iter_episodes


def load_episodes(sources: list[str | Path]) -> tuple[list[Episode], list[Path]]:
    """Return every episode under ``sources`` (shard dirs or MCAP bag dirs) and their files."""
    from wm_ros.sim.bag import import_mcap
    episodes, files = [], []
    for src in sources:
        src = Path(src)
        if (src / 'metadata.yaml').is_file():          # a rosbag2 directory
            episodes.append(import_mcap(src))
            files += sorted(src.glob('*.mcap'))
        elif src.is_dir():
            episodes += list(iter_episodes(src))
            files += sorted(src.glob('shard-*'))
        else:
            raise FileNotFoundError(f'training data {src} is neither a shard directory nor a '
                                    'rosbag2 directory')
    return episodes, files


@dataclass
class Tensors:
    """All frames of all episodes; ``f`` indexes frames, windows index transitions."""

    images: torch.Tensor      # uint8[F, S, S, 3]
    ee: torch.Tensor          # float32[F, 2]
    actions: torch.Tensor     # float32[F, 2] (action taken at frame f; 0 at episode ends)
    kind: torch.Tensor        # int64[F, M]
    present: torch.Tensor     # float32[F, M]
    pos: torch.Tensor         # float32[F, M, 2]
    yaw: torch.Tensor         # float32[F, M]
    first: torch.Tensor       # bool[F]: first frame of its episode
    windows: np.ndarray       # int64[W]: start frames with `unroll` transitions after them
    moved: np.ndarray         # bool[W]: some block moves > 5 mm within the window


def to_tensors(episodes: list[Episode], cfg: WorldModelConfig,
               device: torch.device | str = 'cpu') -> Tensors:
    """Flatten ``episodes`` into :class:`Tensors` on ``device``, checking they fit ``cfg``."""
    if not episodes:
        raise ValueError('no training episodes')
    m, t = cfg.max_blocks, cfg.unroll
    vocabulary = list(cfg.world.kinds)
    names = ('images', 'ee', 'actions', 'kind', 'present', 'pos', 'yaw', 'first')
    cols: dict[str, list] = {k: [] for k in names}
    windows, moved, offset = [], [], 0
    for ep in episodes:
        if ep.images.shape[1] != cfg.image_size:
            raise ValueError(f'episode images are {ep.images.shape[1]}x{ep.images.shape[2]}, '
                             f'the config expects {cfg.image_size}; collect with '
                             f'--image-size {cfg.image_size}')
        if abs(ep.dt - 1.0 / cfg.control_hz) > 1e-6:
            raise ValueError(f'episode control period {ep.dt} s does not match control_hz '
                             f'{cfg.control_hz} of the config')
        n_blocks = len(ep.scene.blocks)
        if n_blocks == 0 or ep.block_states.shape[1] != n_blocks:
            raise ValueError('an episode has no block states (/sim/block_poses); the '
                             'object-centric world model needs them to train')
        if n_blocks > m:
            raise ValueError(f'an episode has {n_blocks} blocks, config max_blocks is {m}')
        frames = len(ep.images)
        kinds = np.zeros(m, np.int64)
        unknown = [b.name for b in ep.scene.blocks if b.name not in vocabulary]
        if unknown:
            raise ValueError(f"blocks {unknown} are not in the config's world (kinds "
                             f'{list(vocabulary)[:3]}...); add their colour/shape to `world`')
        kinds[:n_blocks] = [vocabulary.index(b.name) for b in ep.scene.blocks]
        present = np.zeros(m, np.float32)
        present[:n_blocks] = 1
        pos = np.zeros((frames, m, 2), np.float32)
        pos[:, :n_blocks] = ep.block_states[:, :, :2]
        yaw = np.zeros((frames, m), np.float32)
        yaw[:, :n_blocks] = ep.block_states[:, :, 2]
        actions = np.zeros((frames, 2), np.float32)
        actions[:-1] = ep.actions
        first = np.zeros(frames, bool)
        first[0] = True
        for key, value in (('images', ep.images), ('ee', ep.ee_xy), ('actions', actions),
                           ('kind', np.repeat(kinds[None], frames, 0)),
                           ('present', np.repeat(present[None], frames, 0)), ('pos', pos),
                           ('yaw', yaw), ('first', first)):
            cols[key].append(value)
        for s in range(len(ep) - t + 1):
            windows.append(offset + s)
            disp = np.linalg.norm(pos[s:s + t + 1] - pos[s], axis=-1).max()
            moved.append(disp > 0.005)
        offset += frames
    if not windows:
        raise ValueError(f'no episode has {t} steps; lower unroll or collect longer episodes')
    arrays = {k: torch.from_numpy(np.concatenate(v)).to(device) for k, v in cols.items()}
    return Tensors(**arrays, windows=np.array(windows), moved=np.array(moved))


def previous(data: Tensors, f: torch.Tensor) -> torch.Tensor:
    """Return the index of the frame before each of ``f`` (itself at episode starts)."""
    return torch.where(data.first[f], f, f - 1)


def sample_windows(data: Tensors, batch: int, rng: np.random.Generator,
                   contact_fraction: float) -> torch.Tensor:
    """Return window start frames, ``contact_fraction`` of them where a block moves."""
    contact = np.flatnonzero(data.moved)
    n_contact = int(round(batch * contact_fraction)) if len(contact) else 0
    picks = np.concatenate([rng.choice(contact, n_contact),
                            rng.integers(len(data.windows), size=batch - n_contact)])
    return torch.from_numpy(data.windows[picks])
