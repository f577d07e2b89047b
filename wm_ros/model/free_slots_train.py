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
``wm-ros train world-model --family free_slots``: slot dynamics from unlabelled recordings.

0. **the scene** (:func:`learn_scene`): the static background (what does not change
   across the recording's frames: the board, borders, painted markings) and the sprite
   side (the largest object's extent) are learned from the frames and stored in the
   model's config, so nothing about the robot's scene is a flag to tune;
1. **track**: the slots of each episode's first frame (:func:`wm_ros.model.discover`)
   are followed through every later frame: the objects discovered there are matched to
   the slots by the Hungarian algorithm on distance and colour (at most 3 cm per step); a
   slot with no match is not scored at that frame. Only images and the pusher pose are
   read: shard directories' block states are ignored, bags need no labels.
2. **fit** the dynamics on open-loop unrolls of ``unroll`` steps from tracked states with
   the recorded commands; every step's error counts (cm, blocks that move weigh 5x), and
   ``contact`` of the windows contain a moving slot.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
import time

import numpy as np
from scipy.optimize import linear_sum_assignment
import torch

from wm_ros.model import free_slots, free_slots_step
from wm_ros.model.bag_source import TopicMap
from wm_ros.model.discover import Background, learn_sizes
from wm_ros.model.free_slots_yaw import pusher_radius, track_yaw
from wm_ros.model.latent_train import load_label_free, optimise
from wm_ros.model.threads import set_training_threads

MAX_JUMP = 0.03       # m: a slot's object moves at most this far between two frames
CONTACT = 0.7         # share of training windows with a moving slot


def _colour(sprite: np.ndarray) -> np.ndarray:
    """Return the mean colour of premultiplied sprites [..., 4, P, P]."""
    a = sprite[..., 3, :, :].sum((-1, -2))
    return sprite[..., :3, :, :].sum((-1, -2)) / np.maximum(a, 1e-6)[..., None]


def track(images: np.ndarray, ee: np.ndarray, cfg: free_slots.FreeSlotsConfig) -> dict:
    """Return the first frame's state and its slots' tracks ``pos`` [T, M, 2], ``seen``."""
    state = free_slots.encode_frames(cfg, images[:1], ee[:1])
    colour = _colour(state['sprite'][0])
    present = state['present'][0] > 0
    pos = np.repeat(state['pos'], len(images), 0)
    seen = np.zeros((len(images), cfg.max_slots), bool)
    seen[0] = present
    slots = np.flatnonzero(present)
    finds, slot_of = [free_slots.find(cfg, images[0], ee[0])], [{}]
    for t in range(1, len(images)):
        pos[t] = pos[t - 1]
        found = free_slots.find(cfg, images[t], ee[t])
        finds.append(found)
        slot_of.append({})
        cand = np.flatnonzero(found.present > 0)
        if not len(cand) or not len(slots):
            continue
        dist = np.linalg.norm(pos[t - 1, slots, None] - found.pos[None, cand], axis=-1)
        tint = np.abs(colour[slots, None] - _colour(found.sprite[cand])[None]).max(-1)
        cost = dist / 0.01 + 5.0 * tint + np.where(dist > MAX_JUMP, 1e3, 0.0)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols):
            if dist[r, c] <= MAX_JUMP:
                pos[t, slots[r]] = found.pos[cand[c]]
                seen[t, slots[r]] = True
                slot_of[t][int(slots[r])] = int(cand[c])
    yaw = (track_yaw(finds[0], finds, slot_of, 2 * cfg.board_half / cfg.image_size)
           if cfg.dynamics == 2 else np.zeros(seen.shape, np.float32))
    return {**{k: v[0] for k, v in state.items()}, 'track': pos, 'seen': seen, 'yaw': yaw}


def learn_scene(episodes, cfg: free_slots.FreeSlotsConfig, frames: int = 400
                ) -> free_slots.FreeSlotsConfig:
    """
    Return ``cfg`` with the scene learned from ``episodes``' frames (step 0 above).

    ``background`` from :meth:`Background.learn` over the episodes; ``pusher_radius``
    (where 0) from about ``frames`` of them (:func:`free_slots_yaw.pusher_radius`); ``patch`` and
    ``object_area`` (where the config leaves them 0) from the objects discovery finds in
    ``frames`` of them against that background (:func:`learn_sizes`).
    """
    counts = np.array([len(ep.images) for ep in episodes])
    if not counts.sum():
        raise ValueError('no frames to learn the scene from')
    learned = Background.learn([ep.images for ep in episodes], cfg.threshold)
    cfg = replace(cfg, background=learned.encode(), discovery=2)
    if not cfg.pusher_radius:
        every = max(1, int(counts.sum()) // frames)
        cfg = replace(cfg, pusher_radius=round(pusher_radius(
            [f for ep in episodes for f in ep.images[::every]],
            [e for ep in episodes for e in ep.ee_xy[::every]], learned, cfg.board_half,
            cfg.threshold), 5))
    if cfg.patch and cfg.object_area:
        return cfg
    ends = np.cumsum(counts)
    picks = np.unique(np.linspace(0, ends[-1] - 1, min(int(ends[-1]), frames)).astype(int))
    which = np.searchsorted(ends, picks, side='right')
    at = picks - (ends - counts)[which]
    found = [free_slots.find(cfg, episodes[e].images[t], episodes[e].ee_xy[t], patch=1)
             for e, t in zip(which, at)]
    patch, area = learn_sizes(np.concatenate([d.reach[d.present > 0] for d in found]),
                              np.concatenate([d.area[d.present > 0] for d in found]),
                              cfg.image_size)
    return replace(cfg, patch=cfg.patch or patch, object_area=cfg.object_area or area)


def _track_episode(args):
    images, ee, cfg = args
    return track(images, ee, cfg)


class Tracks:
    """Tracked episodes flattened for sampling training windows."""

    def __init__(self, episodes, cfg: free_slots.FreeSlotsConfig, workers: int = 2):
        jobs = [(ep.images, ep.ee_xy, cfg) for ep in episodes]
        if workers > 1 and len(jobs) > 4:
            with ProcessPoolExecutor(workers) as pool:
                tracked = list(pool.map(_track_episode, jobs, chunksize=4))
        else:
            tracked = [_track_episode(j) for j in jobs]
        u = cfg.unroll
        cols = {k: [] for k in ('pos', 'seen', 'ee', 'actions', 'first', 'yaw')}
        self.shape, self.present, starts, moving = [], [], [], []
        offset = 0
        for ep, tr in zip(episodes, tracked):
            n = len(ep.images)
            actions = np.zeros((n, 2), np.float32)
            actions[:-1] = ep.actions
            first = np.zeros(n, bool)
            first[0] = True
            for key, value in (('pos', tr['track']), ('seen', tr['seen']), ('ee', ep.ee_xy),
                               ('actions', actions), ('first', first), ('yaw', tr['yaw'])):
                cols[key].append(value)
            self.shape.append(np.repeat(tr['shape'][None], n, 0))
            self.present.append(np.repeat(tr['present'][None], n, 0))
            for s in range(n - u):
                starts.append(offset + s)
                step = np.linalg.norm(tr['track'][s + u] - tr['track'][s], axis=-1)
                moving.append(bool((step * tr['seen'][s] * tr['seen'][s + u] > 0.005).any()))
            offset += n
        if not starts:
            raise ValueError(f'no episode has more than unroll={u} frames; lower unroll')
        self.arrays = {k: torch.from_numpy(np.concatenate(v)) for k, v in cols.items()}
        self.arrays['shape'] = torch.from_numpy(np.concatenate(self.shape))
        self.arrays['present'] = torch.from_numpy(np.concatenate(self.present))
        self.starts, self.moving = np.array(starts), np.array(moving, bool)
        self.seen_rate = float(np.concatenate(cols['seen'])[np.concatenate(self.present) > 0]
                               .mean())
        # slots empty in every episode take no part in a step (each term is masked by
        # present; discovery fills slots in order): training leaves them out (PushT: 1 of 8)
        used = max(1, int((self.arrays['present'] > 0).sum(-1).max()))
        for k in ('pos', 'seen', 'yaw', 'shape', 'present'):
            self.arrays[k] = self.arrays[k][:, :used].contiguous()

    def sample(self, batch: int, rng: np.random.Generator) -> torch.Tensor:
        """Return window starts, ``CONTACT`` of them with a moving slot."""
        contact = np.flatnonzero(self.moving)
        n = int(round(batch * CONTACT)) if len(contact) else 0
        return torch.from_numpy(np.concatenate([
            self.starts[rng.choice(contact, n)],
            self.starts[rng.integers(len(self.starts), size=batch - n)]]))


def unroll_loss(model: free_slots.FreeSlotsModel, data: Tracks, f: torch.Tensor
                ) -> torch.Tensor:
    """Return the mean per-step error (cm) of ``unroll``-step open-loop predictions."""
    a, u = data.arrays, model.cfg.unroll
    prev = torch.where(a['first'][f], f, f - 1)
    shape = a['shape'][f]
    present = a['present'][f] * a['seen'][f].to(torch.float32)
    pos, prev_pos, ee = a['pos'][f], a['pos'][prev], a['ee'][f]
    moved = (a['pos'][f + u] - a['pos'][f]).norm(dim=-1) > 0.005
    weight = present * (1.0 + 4.0 * moved)
    turning = model.cfg.dynamics == 2
    yaw, prev_yaw, prev_ee = a['yaw'][f], a['yaw'][prev], a['ee'][prev]
    radius = shape.mean(-1)                    # m: a turn's error as the arc it moves
    total = 0.0
    for k in range(u):
        if turning:
            pos, prev_pos, yaw, prev_yaw, ee, prev_ee = model.step(
                shape, present, pos, prev_pos, yaw, prev_yaw, ee, prev_ee, a['actions'][f + k])
        else:
            pos, prev_pos, ee, _ = model.step(shape, present, pos, prev_pos, ee,
                                              a['actions'][f + k])
        g = f + k + 1
        w = weight * a['seen'][g]
        err = (pos - a['pos'][g]).abs().sum(-1) * 100.0
        if turning:
            err = err + free_slots_step.wrap(yaw - a['yaw'][g]).abs() * radius * 100.0
        total = total + (err * w).sum() / w.sum().clamp(min=1.0) \
            + (ee - a['ee'][g]).abs().sum(-1).mean() * 100.0
    return total / u


def train(sources: list[str | Path], out_dir: str | Path, cfg: free_slots.FreeSlotsConfig,
          topics: TopicMap | None = None, progress: bool = True, workers: int = 2) -> dict:
    """Track, fit, and write ``model.safetensors`` + ``model.json`` to ``out_dir``."""
    from wm_ros.model.checkpoint import data_hash
    torch.manual_seed(cfg.seed)
    set_training_threads(cfg.threads)
    t0 = time.time()
    episodes, files = load_label_free(sources, cfg, topics)
    if cfg.max_episodes:
        episodes = episodes[:cfg.max_episodes]
    cfg = learn_scene(episodes, cfg)
    data = Tracks(episodes, cfg, workers)
    t_track = time.time() - t0
    model = free_slots.FreeSlotsModel(cfg).train()
    rng = np.random.default_rng(cfg.seed)
    losses = optimise(model, lambda: unroll_loss(model, data, data.sample(cfg.batch_size, rng)),
                      cfg.steps, cfg.lr, 10.0, 'train free slots', progress)
    window = max(1, min(50, len(losses) // 5))
    stats = {'seconds': round(time.time() - t0, 1), 'track_seconds': round(t_track, 1),
             'episodes': len(episodes), 'windows': len(data.starts),
             'moving_windows': int(data.moving.sum()), 'tracked_share': data.seen_rate,
             'patch': cfg.patch, 'pusher_radius': cfg.pusher_radius,
             'first_loss_cm': float(np.mean(losses[:window])) if losses else None,
             'final_loss_cm': float(np.mean(losses[-window:])) if losses else None,
             'topics': topics.as_dict() if topics else None}
    free_slots.save(model.eval(), out_dir, data_hash(files), stats)
    return stats
