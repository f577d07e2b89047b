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
``wm-ros train world-model --family jepa``: the JEPA family from pixels, commands and pose.

Reads what the latent-grid family reads (:func:`~wm_ros.model.latent_train.load_label_free`:
shard directories or any rosbag2 bag through a topic map) and trains
:class:`~wm_ros.model.jepa.JepaWorldModel` on windows of ``unroll + 1`` frames:

``loss = pred + var_weight * var + cov_weight * cov + ee_weight * ee + decoder_weight * dec``

* ``pred``: the mean squared distance of each open-loop predicted embedding to the
  encoder's embedding of the real frame (gradients reach both, as LeWM trains);
* ``var`` / ``cov``: VICReg's anti-collapse terms on every embedding of the batch: the
  hinge ``relu(1 - std)`` per dimension and the squared off-diagonal covariances / D;
* ``ee``: the L1 error (m) of the unrolled pusher against the recorded poses;
* ``dec``: the viewing decoder's pixel loss on *detached* embeddings of the first frames,
  weighted ``1 + motion_weight`` off the data's median frame (the objects, not the board).

Half of each batch are windows where more pixels change than the pusher alone changes
(something was pushed), as the latent-grid trainer draws them.
:func:`latent_errors` measures the open-loop prediction error in embedding space against
copy-last (the embedding of the first frame kept) on held-out episodes.
"""

from __future__ import annotations

from pathlib import Path
import time

import numpy as np
import torch

from wm_ros.model import jepa
from wm_ros.model.bag_source import Recording, TopicMap
from wm_ros.model.latent_train import (busy_windows, CHANGED, load_label_free, optimise,
                                       padded_actions)
from wm_ros.model.threads import set_training_threads

HORIZONS = (1, 8, 16)     # steps at which held-out episodes are measured
MOVED = 0.003             # fraction of changed pixels (pusher painted over): the scene moved


class Windows:
    """Every frame of every episode, the windows of ``unroll`` steps and the background."""

    def __init__(self, episodes: list[Recording], unroll: int, seed: int = 0):
        images, ee, actions, starts, fracs, offset = [], [], [], [], [], 0
        for ep in episodes:
            images.append(ep.images)
            ee.append(np.asarray(ep.ee_xy, np.float32))
            actions.append(padded_actions(ep))
            x = ep.images.astype(np.int16)
            moving = np.zeros(len(x))
            moving[1:] = (np.abs(x[1:] - x[:-1]).max(-1) > CHANGED * 255).mean((1, 2))
            fracs.append(moving)
            starts += [offset + s for s in range(len(ep.images) - unroll)]
            offset += len(ep.images)
        self.busy = busy_windows(fracs, starts, unroll)
        self.starts = np.array(starts)
        self.images = torch.from_numpy(np.concatenate(images))
        self.ee = torch.from_numpy(np.concatenate(ee))
        self.actions = torch.from_numpy(np.concatenate(actions))
        rng = np.random.default_rng(seed)
        sample = rng.choice(len(self.images), min(len(self.images), 512), replace=False)
        self.background = torch.from_numpy(
            np.median(self.images[np.sort(sample)].numpy(), 0).astype(np.float32) / 255.0)

    def sample(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """Return window starts, half of them busy (when there are busy windows)."""
        busy = np.flatnonzero(self.busy)
        n = batch // 2 if len(busy) else 0
        return np.concatenate([self.starts[rng.choice(busy, n)],
                               self.starts[rng.integers(len(self.starts), size=batch - n)]])


def vicreg(emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Return VICReg's (variance hinge, covariance) terms of embeddings float32[N, C, g, g].

    The hinge is on every feature's std over the batch; the covariance is between the
    channels of each cell (squared off-diagonal entries / C, averaged over the cells).
    """
    n, c = emb.shape[:2]
    std = torch.sqrt(emb.flatten(1).var(0) + 1e-4)
    cells = emb.flatten(2).permute(2, 0, 1)                        # [g*g, N, C]
    centred = cells - cells.mean(1, keepdim=True)
    cov = centred.transpose(1, 2) @ centred / max(n - 1, 1)        # [g*g, C, C]
    off = cov - torch.diag_embed(torch.diagonal(cov, dim1=1, dim2=2))
    return torch.relu(1.0 - std).mean(), off.pow(2).sum((1, 2)).mean() / c


def batch_loss(model: jepa.JepaWorldModel, data: Windows, f: np.ndarray
               ) -> tuple[torch.Tensor, dict]:
    """Return the loss of windows starting at frames ``f`` and its terms (floats)."""
    cfg = model.cfg
    t, b = cfg.unroll, len(f)
    idx = torch.from_numpy(f[:, None] + np.arange(t + 1))               # [B, T+1]
    emb = model.embed(data.images[idx.reshape(-1)], data.ee[idx.reshape(-1)])
    emb = emb.reshape(b, t + 1, *emb.shape[1:])                          # [B, T+1, C, g, g]
    z, ee = emb[:, 0], data.ee[idx[:, 0]]
    pred = ee_err = 0.0
    for k in range(t):
        z, ee = model.step(z, ee, data.actions[idx[:, k]])
        pred = pred + (z - emb[:, k + 1]).pow(2).mean() / t
        ee_err = ee_err + (ee - data.ee[idx[:, k + 1]]).abs().mean() / t
    var, cov = vicreg(emb.flatten(0, 1))
    dec = _decoder_loss(model, data, emb[:, 0].detach(), idx[:, 0])
    total = (pred + cfg.var_weight * var + cfg.cov_weight * cov + cfg.ee_weight * ee_err
             + cfg.decoder_weight * dec)
    parts = {'pred': pred, 'var': var, 'cov': cov, 'ee_m': ee_err, 'dec': dec}
    return total, {k: float(v.detach()) for k, v in parts.items()}


def _decoder_loss(model: jepa.JepaWorldModel, data: Windows, z: torch.Tensor,
                  f: torch.Tensor) -> torch.Tensor:
    """Return the weighted pixel loss of the viewing decoder on detached embeddings."""
    real = data.images[f].to(torch.float32) / 255.0                     # [B, S, S, 3]
    weight = 1.0 + model.cfg.motion_weight * (
        (real - data.background).abs().amax(-1) > CHANGED).to(torch.float32)
    diff = model.decode(z, data.ee[f]).permute(0, 2, 3, 1) - real
    return ((diff.abs() + 10.0 * diff.pow(2)).mean(-1) * weight).sum() / weight.sum()


@torch.no_grad()
def latent_errors(model: jepa.JepaWorldModel, episodes: list[Recording], horizon: int,
                  stride: int = 1) -> dict:
    """
    Return the open-loop error in embedding space at ``horizon`` steps, and copy-last's.

    For every start (each ``stride``-th frame with ``horizon`` frames after it): the mean
    squared distance of the predicted embedding to the embedding of the real frame
    (``model``), and of the start's own embedding to it (``copy_last``); the pusher's
    error (m) after ``horizon`` steps (``ee_m``) and that of ``ee + dt * sum(commands)``
    (``ee_command_m``: the pusher assumed to follow its commands); ``emb_std_*``: the
    mean and smallest per-dimension std of the embeddings of every frame; ``*_moving``: the
    same over the starts where the scene itself changed (more than ``MOVED`` of the pixels,
    the pusher painted over in both frames), which copy-last cannot predict.
    """
    model.eval()
    errs, copies, embs, ee_errs, ee_cmds, moved = [], [], [], [], [], []
    for ep in episodes:
        poses = torch.from_numpy(np.asarray(ep.ee_xy, np.float32))
        emb = model.embed(torch.from_numpy(np.ascontiguousarray(ep.images)), poses)
        embs.append(emb)
        starts = np.arange(0, len(ep.images) - horizon, stride)
        if not len(starts):
            continue
        z, ee = emb[starts], poses[starts]
        actions = torch.from_numpy(np.asarray(ep.actions, np.float32))
        commanded = poses[starts].clone()
        for k in range(horizon):
            z, ee = model.step(z, ee, actions[starts + k])
            commanded = commanded + model.cfg.dt * actions[starts + k]
        target = emb[starts + horizon]
        seen = model.unpushed(torch.from_numpy(np.ascontiguousarray(ep.images)).permute(
            0, 3, 1, 2).to(torch.float32) / 127.5 - 1.0, poses)
        change = (seen[starts + horizon] - seen[starts]).abs().amax(1) > 2 * CHANGED
        moved.append(change.flatten(1).to(torch.float32).mean(1) > MOVED)
        errs.append((z - target).pow(2).flatten(1).mean(1))
        copies.append((emb[starts] - target).pow(2).flatten(1).mean(1))
        ee_errs.append((ee - poses[starts + horizon]).norm(dim=1))
        ee_cmds.append((commanded - poses[starts + horizon]).norm(dim=1))
    if not errs:
        raise ValueError(f'no episode has more than horizon={horizon} frames')
    std = torch.cat(embs).flatten(1).std(0)
    err, copy, moving = torch.cat(errs), torch.cat(copies), torch.cat(moved)
    return {'horizon': horizon, 'model': float(err.mean()), 'copy_last': float(copy.mean()),
            'starts': len(err), 'moving_starts': int(moving.sum()),
            'model_moving': float(err[moving].mean()) if moving.any() else None,
            'copy_last_moving': float(copy[moving].mean()) if moving.any() else None,
            'ee_m': float(torch.cat(ee_errs).mean()),
            'ee_command_m': float(torch.cat(ee_cmds).mean()),
            'emb_std_mean': float(std.mean()), 'emb_std_min': float(std.min())}


def fit(episodes: list[Recording], cfg: jepa.JepaConfig, progress: bool = True
        ) -> tuple[jepa.JepaWorldModel, dict]:
    """Return a model trained on ``episodes`` (in memory) and its training statistics."""
    torch.manual_seed(cfg.seed)
    threads = set_training_threads(cfg.threads)
    if cfg.device != 'cpu':
        raise ValueError('the jepa family trains on the CPU here (device=cpu)')
    t0 = time.time()
    data = Windows(episodes, cfg.unroll, cfg.seed)
    model = jepa.JepaWorldModel(cfg).train()
    rng = np.random.default_rng(cfg.seed)
    parts: list[dict] = []

    def step_loss():
        loss, terms = batch_loss(model, data, data.sample(cfg.batch_size, rng))
        parts.append(terms)
        return loss
    losses = optimise(model, step_loss, cfg.steps, cfg.lr, 5.0, 'train jepa', progress)
    window = max(1, min(50, len(losses) // 5))
    stats = {'seconds': round(time.time() - t0, 1), 'threads': threads,
             'episodes': len(episodes), 'frames': len(data.images),
             'windows': len(data.starts), 'busy_windows': int(data.busy.sum()), 'device': 'cpu',
             'first_loss': float(np.mean(losses[:window])) if losses else None,
             'final_loss': float(np.mean(losses[-window:])) if losses else None,
             'final_terms': {k: round(float(np.mean([p[k] for p in parts[-window:]])), 5)
                             for k in parts[0]} if parts else {}}
    return model.eval(), stats


def train(sources: list[str | Path], out_dir: str | Path, cfg: jepa.JepaConfig,
          topics: TopicMap | None = None, progress: bool = True,
          heldout: list[str | Path] | None = None) -> dict:
    """
    Train on ``sources`` and write ``model.safetensors`` + ``model.json`` to ``out_dir``.

    ``heldout``: episodes never trained on (other seeds), measured by :func:`latent_errors`
    at 1, 8 and 16 steps into the statistics (``model.json`` ``train.heldout``).
    """
    from wm_ros.model.checkpoint import data_hash
    episodes, files = load_label_free(sources, cfg, topics)
    model, stats = fit(episodes, cfg, progress)
    stats['topics'] = topics.as_dict() if topics else None
    if heldout:
        unseen = load_label_free(heldout, cfg, topics)[0]
        stats['heldout'] = [latent_errors(model, unseen, h, stride=2) for h in HORIZONS]
    jepa.save(model, out_dir, data_hash(files), stats)
    return stats
