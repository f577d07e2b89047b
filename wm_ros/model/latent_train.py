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
``wm-ros train world-model --family latent``: the latent-grid family, without labels.

Reads only images, commands and the pusher pose: shard directories (their block states
are ignored) or any rosbag2 MCAP bag through a :class:`~wm_ros.model.bag_source.TopicMap`.
One loss, end to end: encode frame ``t``, unroll the dynamics open loop with the recorded
commands for ``unroll`` steps, decode every step and compare with the recorded frames.

* Pixels are weighted ``1 + motion_weight`` where the frame differs from its episode's
  median frame (the background, found without labels) or from the previous frame: the
  blocks and the pusher are a few percent of the image, and an unweighted loss is
  minimised by a model that draws the board and lets blocks fade.
* ``latent_weight`` x the distance of each predicted latent to the encoding of the real
  frame (not back-propagated into the encoder) keeps the unrolled latents on the
  encoder's manifold, so decoding them stays sharp.
* Windows where something other than the pusher moves are drawn half the time (a frame
  where more pixels change than the pusher alone changes: 1.6 x the median changing
  frame, which on the tabletop separates frames with a pushed block at 91 % / 3 %).
"""

from __future__ import annotations

from pathlib import Path
import time

import numpy as np
import torch
from tqdm import tqdm

from wm_ros.model import latent
from wm_ros.model.bag_source import read_bag, Recording, TopicMap
from wm_ros.model.threads import set_training_threads
from wm_ros.sim.dataset import iter_episodes

CHANGED = 0.06        # |pixel - background| (0..1, max over RGB) that counts as an object
BUSY = 1.6            # x the median changed fraction of a frame: something besides the pusher


def load_label_free(sources: list[str | Path], cfg: latent.LatentConfig,
                    topics: TopicMap | None = None) -> tuple[list[Recording], list[Path]]:
    """
    Return the episodes of shard directories and bags: only images, commands and pose.

    Shard episodes keep their other fields (block states, scene), which nothing here reads.
    """
    episodes, files = [], []
    for src in map(Path, sources):
        if (src / 'metadata.yaml').is_file() or src.suffix == '.mcap':
            episodes += read_bag(src, topics, cfg.image_size, cfg.control_hz)
            files += sorted(src.glob('*.mcap')) if src.is_dir() else [src]
        elif src.is_dir():
            shards = list(iter_episodes(src))
            for ep in shards:
                if ep.images.shape[1] != cfg.image_size or abs(ep.dt - cfg.dt) > 1e-6:
                    raise ValueError(f'{src}: episodes are {ep.images.shape[1]} px at '
                                     f'{1 / ep.dt:g} Hz, the config expects '
                                     f'{cfg.image_size} px at {cfg.control_hz:g} Hz; set '
                                     'image_size / control_hz or collect to match')
            episodes += shards
            files += sorted(src.glob('shard-*'))
        else:
            raise FileNotFoundError(f'training data {src} is neither a shard directory nor a '
                                    'rosbag2 bag')
    if not episodes:
        raise ValueError(f'no episodes in {[str(s) for s in sources]}')
    return episodes, files


def padded_actions(ep) -> np.ndarray:
    """Return ``ep``'s actions as float32[T, 2], one per frame (the last frame's is 0)."""
    a = np.zeros((len(ep.images), 2), np.float32)
    a[:-1] = ep.actions
    return a


def busy_windows(fracs: list[np.ndarray], starts: list[int], t: int) -> np.ndarray:
    """
    Return bool[W]: whether window ``starts[w]`` (``t`` steps) has a busy frame.

    ``fracs`` are each episode's per-frame changed fraction (concatenated in the order of
    ``starts``' offsets). A frame is busy when more pixels change than the pusher alone
    changes (``BUSY`` x the median changing frame: most frames move only the pusher).
    Refuses with the fix when no episode is longer than ``t``.
    """
    if not starts:
        raise ValueError(f'no episode has more than unroll={t} frames; lower unroll')
    frac = np.concatenate(fracs)
    threshold = BUSY * np.median(frac[frac > 0]) if (frac > 0).any() else np.inf
    busy_frame = frac > threshold
    return np.array([busy_frame[s + 1:s + t + 1].any() for s in starts], bool)


class Frames:
    """Every frame of every episode, the windows to unroll and the per-pixel weights."""

    def __init__(self, episodes: list[Recording], cfg: latent.LatentConfig):
        t = cfg.unroll
        images, ee, actions, weights, starts, fracs = [], [], [], [], [], []
        offset = 0
        for ep in episodes:
            x = ep.images.astype(np.float32) / 255.0
            background = np.median(x, axis=0)
            changed = np.abs(x - background).max(-1) > CHANGED
            moving = np.zeros_like(changed)
            moving[1:] = np.abs(x[1:] - x[:-1]).max(-1) > CHANGED
            weights.append((1.0 + cfg.motion_weight * (changed | moving)).astype(np.float16))
            images.append(ep.images)
            ee.append(ep.ee_xy)
            actions.append(padded_actions(ep))
            fracs.append(moving.mean((1, 2)))
            starts += [offset + s for s in range(len(ep.images) - t)]
            offset += len(ep.images)
        self.busy = busy_windows(fracs, starts, t)
        self.images = torch.from_numpy(np.concatenate(images))
        self.ee = torch.from_numpy(np.concatenate(ee).astype(np.float32))
        self.actions = torch.from_numpy(np.concatenate(actions))
        self.weights = torch.from_numpy(np.concatenate(weights))
        self.starts = np.array(starts)

    def sample(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """Return window starts, half of them busy (when there are busy windows)."""
        busy = np.flatnonzero(self.busy)
        n = batch // 2 if len(busy) else 0
        return np.concatenate([self.starts[rng.choice(busy, n)],
                               self.starts[rng.integers(len(self.starts), size=batch - n)]])


def unroll_loss(model: latent.LatentWorldModel, data: Frames, f: np.ndarray) -> torch.Tensor:
    """Return the weighted pixel + latent loss of ``unroll``-step open-loop predictions."""
    cfg = model.cfg
    f = torch.from_numpy(f)
    z, ee = model.encode(data.images[f], data.ee[f])
    total = _pixel_loss(model.decode(z, ee), data, f)
    for k in range(cfg.unroll):
        z, ee = model.step(z, ee, data.actions[f + k])
        g = f + k + 1
        total = total + _pixel_loss(model.decode(z, ee), data, g)
        with torch.no_grad():
            target, _ = model.encode(data.images[g], data.ee[g])
        total = total + cfg.latent_weight * (z - target).pow(2).mean()
        total = total + 100.0 * (ee - data.ee[g]).abs().mean()
    return total / (cfg.unroll + 1)


def _pixel_loss(image: torch.Tensor, data: Frames, f: torch.Tensor) -> torch.Tensor:
    real = data.images[f].permute(0, 3, 1, 2).to(torch.float32) / 255.0
    w = data.weights[f].to(torch.float32).unsqueeze(1)
    diff = image - real
    return ((diff.abs() + 10.0 * diff.pow(2)) * w).sum() / (w.sum() * 3)


def optimise(model: torch.nn.Module, batch_loss, steps: int, lr: float, clip: float,
             desc: str, progress: bool = True) -> list[float]:
    """
    Run ``steps`` Adam updates of ``batch_loss()``; return the losses.

    The learning rate decays on a cosine to 10 % of ``lr``; gradients are clipped to norm
    ``clip``. Shared by the label-free families' trainers.
    """
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    bar = tqdm(range(steps), desc=desc, disable=not progress)
    for step in bar:
        for group in opt.param_groups:
            group['lr'] = lr * (0.1 + 0.45 * (1 + np.cos(np.pi * step / max(steps, 1))))
        loss = batch_loss()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        losses.append(float(loss.detach()))
        if step % 20 == 0:
            bar.set_postfix(loss=f'{np.mean(losses[-20:]):.4f}')
    return losses


def train(sources: list[str | Path], out_dir: str | Path, cfg: latent.LatentConfig,
          topics: TopicMap | None = None, progress: bool = True) -> dict:
    """Train on ``sources`` and write ``model.safetensors`` + ``model.json`` to ``out_dir``."""
    from wm_ros.model.checkpoint import data_hash
    torch.manual_seed(cfg.seed)
    set_training_threads(cfg.threads)
    if cfg.device != 'cpu':
        raise ValueError('the latent family trains on the CPU here (device=cpu)')
    t0 = time.time()
    episodes, files = load_label_free(sources, cfg, topics)
    data = Frames(episodes, cfg)
    model = latent.LatentWorldModel(cfg).train()
    rng = np.random.default_rng(cfg.seed)
    losses = optimise(model, lambda: unroll_loss(model, data, data.sample(cfg.batch_size, rng)),
                      cfg.steps, cfg.lr, 5.0, 'train latent', progress)
    window = max(1, min(50, len(losses) // 5))
    stats = {'seconds': round(time.time() - t0, 1), 'episodes': len(episodes),
             'frames': len(data.images), 'windows': len(data.starts),
             'busy_windows': int(data.busy.sum()), 'device': 'cpu',
             'first_loss': float(np.mean(losses[:window])) if losses else None,
             'final_loss': float(np.mean(losses[-window:])) if losses else None,
             'topics': topics.as_dict() if topics else None}
    latent.save(model.eval(), out_dir, data_hash(files), stats)
    return stats
