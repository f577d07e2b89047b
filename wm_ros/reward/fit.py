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
Fitting :class:`~wm_ros.reward.network.RewardNet` in three stages, each from a direct signal.

1. **language** (``text_steps``): the read-out of the instruction embedding (family, the
   named blocks' colours and shapes, the region's centre) from the tasks themselves: every
   task the tabletop can phrase (``vocabulary``) plus the training rows' tasks, under all 8
   board symmetries. No pixels; seconds. "next to" and "apart" do not care which block is
   named first, so each such task takes the cheaper of the two orders.
2. **vision** (``steps``): the trunk's per-cell colour and shape classes, supervised with
   the block positions of each frame (physics state; imagined objects for replays), under
   random board symmetries, photometric jitter and pixel noise. No text.
3. **decision** (``head_epochs``): with both frozen, the head's input is computed once for
   every training row under ``head_views`` random symmetries; the head is then fitted on
   those vectors with batches balanced over own/other task (``own_fraction``) and
   success/failure (``positive_fraction``; success is rare).

Trained end to end instead, the same network learnt the instructions' binding and the
geometry far more slowly than two CPU cores allow (issue 10's first attempts; the shipped
model's figures: docs/results/reward-model.md).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from wm_ros.reward.augment import DIHEDRAL, jitter, transform_images, transform_task
from wm_ros.reward.config import RewardConfig
from wm_ros.reward.frames import Frames
from wm_ros.reward.network import RewardNet, text_input
from wm_ros.reward.oracle import task_vocabulary
from wm_ros.sim.scene import COLOURS, SHAPES
from wm_ros.sim.tasks import FAMILIES, REGIONS, Task


def block_maps(colour: np.ndarray, shape: np.ndarray, xy: np.ndarray, size: int,
               board_half: float, radius: float = 0.025) -> torch.Tensor:
    """
    Return int64[B, size, size, 2]: per cell the colour and shape class of the block there.

    Class 0 is no block, else index + 1; a cell belongs to the nearest block whose centre
    is within ``radius`` m of the cell's centre. Inputs as :class:`Frames` (per image).
    """
    ramp = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    cy, cx = torch.meshgrid(-ramp * board_half, ramp * board_half, indexing='ij')
    xy = torch.from_numpy(xy)                                              # [B, M, 2]
    d = (cx[None, None] - xy[:, :, 0, None, None]) ** 2 + \
        (cy[None, None] - xy[:, :, 1, None, None]) ** 2                    # [B, M, H, W]
    d = torch.where(torch.from_numpy(colour >= 0)[:, :, None, None], d, torch.inf)
    near, which = d.min(1)
    inside = near <= radius ** 2
    out = []
    for table in (colour, shape):
        cls = torch.from_numpy(table.astype(np.int64) + 1).gather(1, which.flatten(1))
        out.append(torch.where(inside, cls.view_as(which), 0))
    return torch.stack(out, -1)


def texts_and_targets(tasks: list[Task], extra: list[Task] = ()) -> tuple:
    """
    Return (texts, rows int64[len(tasks), 8], targets) over ``tasks`` + ``extra``.

    ``texts`` holds every instruction under every board symmetry, ``rows[i, g]`` the text
    of ``tasks[i]`` under symmetry ``g``; ``targets`` per text: ``family``, ``a_colour``,
    ``a_shape``, ``b_colour``, ``b_shape`` (int64; -1: the task names no such block) and
    ``region`` (float32[2], board fractions; NaN: none).
    """
    per_task: dict = {}
    vocab: dict[str, Task] = {}
    for t in list(tasks) + list(extra):
        if t not in per_task:
            moved = [transform_task(t, g) for g in DIHEDRAL]
            for m in moved:
                vocab.setdefault(m.instruction, m)
            per_task[t] = [m.instruction for m in moved]
    texts = list(vocab)
    index = {x: i for i, x in enumerate(texts)}
    rows = np.array([[index[x] for x in per_task[t]] for t in tasks], np.int64).reshape(-1, 8)
    targets = {k: np.full(len(texts), -1, np.int64) for k in
               ('family', 'a_colour', 'a_shape', 'b_colour', 'b_shape')}
    targets['region'] = np.full((len(texts), 2), np.nan, np.float32)
    for i, task in enumerate(vocab.values()):
        targets['family'][i] = FAMILIES.index(task.family)
        for key, name in zip('ab', task.blocks):
            colour, _, shape = name.partition(' ')
            targets[f'{key}_colour'][i] = list(COLOURS).index(colour)
            targets[f'{key}_shape'][i] = SHAPES.index(shape)
        if task.region:
            targets['region'][i] = REGIONS[task.region]
    return texts, rows, {k: torch.from_numpy(v) for k, v in targets.items()}


def text_loss(parts: dict, targets: dict, idx: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of family and named blocks (either order), 10 x region error^2."""
    ce = nn.functional.cross_entropy
    t = {k: v[idx] for k, v in targets.items()}
    loss = ce(parts['family'], t['family'])

    def named(first: str, second: str) -> torch.Tensor:
        out = 0.0
        for key, name in (('a', first), ('b', second)):
            for what in ('colour', 'shape'):
                want = t[f'{name}_{what}']
                out = out + ce(parts[f'{key}_{what}'], want.clamp_min(0), reduction='none') * \
                    (want >= 0)
        return out
    both = torch.stack([named('a', 'b'), named('b', 'a')])
    swap = (t['b_colour'] >= 0)[None]                 # rows that name two blocks
    loss = loss + torch.where(swap, both, both[:1]).min(0).values.mean()
    region = t['region']
    has = ~region.isnan().any(-1)
    if has.any():
        loss = loss + 10 * ((parts['region'][has] - region[has]) ** 2).sum(-1).mean()
    return loss


def block_loss(maps: torch.Tensor, target: torch.Tensor, colours: int) -> torch.Tensor:
    """Cross-entropy of the colour and shape logits (no-block cells weigh 0.2)."""
    loss = 0.0
    for logits, t in ((maps[:, :colours + 1], target[..., 0]),
                      (maps[:, colours + 1:], target[..., 1])):
        w = torch.ones(logits.shape[1], device=logits.device)
        w[0] = 0.2
        loss = loss + nn.functional.cross_entropy(logits, t, weight=w)
    return loss


def _schedule(params, cfg: RewardConfig, lr: float, steps: int):
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=max(steps, 1),
                                                    pct_start=0.05)


def _step(opt, sched, loss: torch.Tensor) -> float:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return loss.item()


def fit(cfg: RewardConfig, frames: Frames, device: torch.device, progress: bool = True
        ) -> tuple[RewardNet, dict]:
    """Return the trained network (CPU, eval mode) and the last losses of each stage."""
    extra = task_vocabulary() if cfg.vocabulary else []
    texts, rows_text, targets = texts_and_targets(frames.tasks, extra)
    emb = torch.from_numpy(text_input(texts, cfg.text_words)).to(device)
    targets = {k: v.to(device) for k, v in targets.items()}
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = RewardNet(cfg).to(device).train()
    losses = {}
    bar = tqdm(total=cfg.text_steps + cfg.steps + 1, desc='reward', disable=not progress)

    opt, sched = _schedule(list(net.text.parameters()) + list(net.query.parameters()), cfg,
                           cfg.lr, cfg.text_steps)
    for _ in range(cfg.text_steps):
        idx = torch.randint(len(texts), (256,), generator=gen).to(device)
        losses['text'] = _step(opt, sched, text_loss(net.read_text(emb[idx]), targets, idx))
        bar.update()

    images, half = torch.from_numpy(frames.images), cfg.image_size // 2
    trunk = [p for n, p in net.named_parameters() if n.split('.')[0] in
             ('conv0', 'where', 'conv1', 'conv2', 'norms', 'blocks')]
    opt, sched = _schedule(trunk, cfg, cfg.lr, cfg.steps)
    net.train()
    for _ in range(cfg.steps):
        img = rng.integers(len(images), size=cfg.batch_size)
        x, target = _views(images[img], block_maps(frames.colour[img], frames.shape[img],
                                                   frames.xy[img], half, cfg.board_half),
                           rng.integers(len(DIHEDRAL), size=len(img)))
        x = jitter(x.float(), gen) if cfg.augment else x
        losses['blocks'] = _step(opt, sched, block_loss(net.block_logits(x.to(device)),
                                                        target.to(device), cfg.aux_colours))
        bar.update()

    net.eval()
    feats, labels, pools = _features(net, frames, emb, rows_text, rng, cfg, device)
    head = net.heads.train()
    epoch = -(-len(labels) // 512)
    steps = max(cfg.head_epochs * epoch, 300)           # small data: still 300 updates
    opt, sched = _schedule(head.parameters(), cfg, cfg.lr, steps)
    share = _shares(cfg, pools)
    for _ in range(steps):
        counts = rng.multinomial(512, share)
        pick = np.concatenate([rng.choice(p, n) for p, n in zip(pools, counts) if n])
        f = feats[torch.from_numpy(pick)]
        logit = net.decide(f[:, :-cfg.aux_families], f[:, -cfg.aux_families:])
        losses['decision'] = _step(opt, sched, nn.functional.binary_cross_entropy_with_logits(
            logit, labels[torch.from_numpy(pick)]))
    bar.update()
    bar.close()
    return net.cpu().eval(), losses


def _views(images: torch.Tensor, maps: torch.Tensor, g: np.ndarray) -> tuple:
    """Return images and maps, row i under symmetry ``g[i]`` (rows regrouped by g)."""
    order = np.argsort(g, kind='stable')
    parts = [(transform_images(images[order][g[order] == k], DIHEDRAL[k]),
              transform_images(maps[order][g[order] == k], DIHEDRAL[k])) for k in np.unique(g)]
    x, m = (torch.cat(p) for p in zip(*parts))
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return x[inverse], m[inverse]


def _features(net: RewardNet, frames: Frames, emb, rows_text, rng, cfg, device) -> tuple:
    """
    Return the decision's inputs (+ family logits) of every row under ``head_views`` views.

    A view shows each image under one symmetry (the first: none), read by the trunk once;
    every row of that image then takes its instruction under the same symmetry.
    """
    out, labels, pools = [], [], [[], [], [], []]
    images = torch.from_numpy(frames.images)
    pool_of = (~frames.labels).astype(int) + 2 * (~frames.own).astype(int)
    with torch.no_grad():
        for view in range(cfg.head_views):
            g = rng.integers(len(DIHEDRAL), size=len(images)) if view else \
                np.zeros(len(images), int)
            mass, centre = [], []
            for lo in range(0, len(images), 512):
                x, _ = _views(images[lo:lo + 512], images[lo:lo + 512, :1, :1], g[lo:lo + 512])
                m, c = net.objects(net.block_logits(x.to(device)))
                mass.append(m.cpu())
                centre.append(c.cpu())
            mass, centre = torch.cat(mass), torch.cat(centre)
            for lo in range(0, len(frames), 4096):
                rows = np.arange(lo, min(lo + 4096, len(frames)))
                img = frames.frame[rows]
                parts = net.read_text(emb[torch.from_numpy(rows_text[rows, g[img]]).to(device)])
                f = net.geometry(mass[img].to(device), centre[img].to(device), parts)
                out.append(torch.cat([f, parts['family']], 1).cpu())
            base = len(labels)
            labels += frames.labels.tolist()
            for p in range(4):
                pools[p] += (base + np.flatnonzero(pool_of == p)).tolist()
    return (torch.cat(out), torch.tensor(labels, dtype=torch.float32),
            [np.array(p, int) for p in pools])


def _shares(cfg: RewardConfig, pools: list[np.ndarray]) -> np.ndarray:
    """Return the batch share of each pool (own +, own -, other +, other -)."""
    p_own = cfg.own_fraction if len(pools[2]) and len(pools[3]) else 1.0
    p_pos = cfg.positive_fraction
    share = np.array([p_own * p_pos, p_own * (1 - p_pos), (1 - p_own) * p_pos,
                      (1 - p_own) * (1 - p_pos)]) * np.array([len(p) > 0 for p in pools])
    return share / share.sum()
