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
Train the block detector of :mod:`wm_ros.plan.detector` on labelled tabletop frames.

``wm-ros train detector --data data/train1 --heldout data/heldout`` trains it from
recorded episodes (images and block poses) and measures it (:func:`measure`) on a seed it
never saw; the figures land in ``model.json``.
"""

from __future__ import annotations

from pathlib import Path
import time

import numpy as np
import torch
import torch.nn.functional as F

from wm_ros.plan.detector import by_kind, Detector, DetectorConfig, DetectorNet, KINDS


def frames_and_labels(dirs, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return images ``uint8[N,S,S,3]``, presence ``bool[N,K]``, positions ``f32[N,K,2]``."""
    from wm_ros.sim.dataset import iter_episodes      # the tabletop (MuJoCo): training only
    images, present, pos = [], [], []
    for d in dirs:
        for ep in iter_episodes(d):
            idx = [KINDS.index(n) for n in ep.scene.names]
            for t in range(0, len(ep.images), stride):
                p, xy = np.zeros(len(KINDS), bool), np.zeros((len(KINDS), 2), np.float32)
                p[idx], xy[idx] = True, ep.block_states[t, :, :2]
                images.append(ep.images[t])
                present.append(p)
                pos.append(xy)
    if not images:
        raise ValueError(f'no frames under {list(map(str, dirs))}; run wm-ros collect first')
    return np.stack(images), np.stack(present), np.stack(pos)


def measure(detector, images, present, pos, batch: int = 256) -> dict:
    """Return presence accuracy, whole-frame kind agreement and position error (cm)."""
    hits, frames, errors = [], [], []
    for i in range(0, len(images), batch):
        seen, where = by_kind(detector.objects(images[i:i + batch]))
        p = present[i:i + batch]
        hits.append(seen == p)
        frames.append((seen == p).all(1))
        errors.append(np.linalg.norm(where - pos[i:i + batch], axis=-1)[p & seen])
    err = np.concatenate(errors) * 100
    return {'frames': int(len(images)), 'presence_accuracy': float(np.concatenate(hits).mean()),
            'frames_all_kinds_right': float(np.concatenate(frames).mean()),
            'position_error_cm_mean': float(err.mean()) if len(err) else float('nan'),
            'position_error_cm_p95': float(np.percentile(err, 95)) if len(err) else float('nan')}


def train(data, out: str | Path, cfg: DetectorConfig | None = None, heldout=None,
          log=print) -> dict:
    """Train on the episodes under ``data``, measure on ``heldout``, save to ``out``."""
    cfg = cfg or DetectorConfig()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    images, present, pos = frames_and_labels(data, cfg.frame_stride)
    if images.shape[1:] != (cfg.image_size, cfg.image_size, 3):
        raise ValueError(f'the data has {images.shape[1:]} frames, the config expects '
                         f'{cfg.image_size}; set image_size')
    net = DetectorNet(cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps)
    balance = torch.tensor((1 - present.mean()) / max(present.mean(), 1e-6))  # absent/present
    t0, losses = time.perf_counter(), []
    for step in range(cfg.steps):
        i = rng.integers(0, len(images), cfg.batch)
        flip = rng.random() < 0.5             # colour-preserving augmentation: mirror x
        x, p, y = images[i], present[i], pos[i].copy()
        if flip:
            x, y[..., 0] = x[:, :, ::-1].copy(), -y[..., 0]
        heat = net.heat(torch.from_numpy(x))
        logit, where = net.read(heat)
        p_t, y_t = torch.from_numpy(p), torch.from_numpy(y)
        n = p_t.sum().clamp(min=1)
        cell = F.cross_entropy(heat.flatten(0, 1), net.cell(y_t).flatten(), reduction='none')
        loss = (F.binary_cross_entropy_with_logits(logit, p_t.float(), pos_weight=balance)
                + (cell * p_t.flatten()).sum() / n
                + 20 * ((where - y_t).abs().sum(-1) * p_t).sum() / n)
        losses.append(float(loss))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % max(1, cfg.steps // 10) == 0 or step == cfg.steps - 1:
            log(f'detector step {step + 1}/{cfg.steps} loss {loss.item():.4f}')
    detector = Detector(net.eval(), cfg)
    tenth = max(1, cfg.steps // 10)
    detector.meta = {'train': {'frames': int(len(images)), 'steps': cfg.steps,
                               'loss_first': float(np.mean(losses[:tenth])),
                               'loss_last': float(np.mean(losses[-tenth:])),
                               'seconds': round(time.perf_counter() - t0, 1),
                               'data': [str(d) for d in data]}}
    if heldout:
        detector.meta['heldout'] = {'data': [str(d) for d in heldout],
                                    **measure(detector, *frames_and_labels(heldout, 1))}
    detector.save(out)
    return detector.meta
