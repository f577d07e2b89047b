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
The behaviour-cloning loop: squared action error plus the sub-goal heatmap loss.

Each step draws a batch of frames; the action (normalised by ``max_speed``) is regressed,
and the network's two heatmaps are pulled (cross-entropy) toward Gaussians at the expert's
pushed block and its target (:meth:`~wm_ros.policy.learned.PolicyNet.heat_targets`).
10 % of the episodes are held out for the validation loss.

Mirror augmentation (``config.mirror``): the camera sees exactly the board, centred, so
flipping a frame left-right (or top-bottom) is the mirrored scene. The expert is
mirror-symmetric too, so the flipped frame's labels are the flipped labels, and its
instruction is the one with left/right (top/bottom) swapped. Each frame is used in one of
its four mirror images at random, which multiplies the scenes the network sees by four.
"""

from __future__ import annotations

from contextlib import contextmanager
import math
import re

import numpy as np
import torch

from wm_ros.model.threads import set_training_threads
from wm_ros.policy.bc_data import Frames
from wm_ros.policy.learned import PolicyConfig, PolicyNet

MIRRORS = ((False, False), (True, False), (False, True), (True, True))   # (flip x, flip y)
_SWAP = {'left': 'right', 'right': 'left', 'top': 'bottom', 'bottom': 'top'}


def mirror_instruction(text: str, flip_x: bool, flip_y: bool) -> str:
    """Return ``text`` mirrored (``flip_x``: left<->right, ``flip_y``: top<->bottom)."""
    words = {w for w, on in (('left', flip_x), ('right', flip_x), ('top', flip_y),
                             ('bottom', flip_y)) if on}
    if not words:
        return text
    return re.sub(r'\b(' + '|'.join(sorted(words)) + r')\b', lambda m: _SWAP[m.group(1)], text)


def fit(net: PolicyNet, demos: Frames, lang: np.ndarray, cfg: PolicyConfig,
        progress: bool = False) -> dict:
    """
    Train ``net`` on ``demos``; return the training summary (losses, held-out episodes).

    ``lang`` float32[V, U, 1+W, 384]: the embeddings of the U instructions in each of V
    mirror images (V = 4 in :data:`MIRRORS` order, or 1 without mirroring).
    """
    with torch_threads(cfg.threads):
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        ids = np.unique(demos.episode)
        held = rng.permutation(ids)[:len(ids) // 10] if len(ids) >= 10 else ids[:0]
        val_mask = np.isin(demos.episode, held)
        train, val = demos.subset(~val_mask), demos.subset(val_mask)
        dev = torch.device(cfg.device)
        net.to(dev).train()
        lang_t = torch.from_numpy(lang).to(dev)
        images = torch.from_numpy(train.images)
        ee, target = torch.from_numpy(train.ee), torch.from_numpy(train.actions / cfg.max_speed)
        goal = torch.from_numpy(np.nan_to_num(train.goal / cfg.board_half))
        has_goal = torch.from_numpy(np.isfinite(train.goal).all(1)).float()
        instr = torch.from_numpy(train.instruction)
        opt = torch.optim.AdamW(net.parameters(), cfg.lr, weight_decay=cfg.weight_decay)
        warm = min(100, cfg.steps // 10 + 1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * 0.5
                                                  * (1 + math.cos(math.pi * s / cfg.steps)))
        recent = []
        for step in range(cfg.steps):
            idx = torch.from_numpy(rng.integers(0, len(train), cfg.batch_size))
            view = torch.from_numpy(rng.integers(0, len(lang), cfg.batch_size))
            img, e, a, g = _mirror(images[idx], ee[idx], target[idx], goal[idx], view)
            pred, heat = net(img.to(dev), e.to(dev), lang_t[view.to(dev), instr[idx].to(dev)])
            loss = (pred - a.to(dev)).pow(2).mean()
            want = net.heat_targets(g.to(dev))
            aux_loss = (-(want * torch.log_softmax(heat, -1)).sum(-1).mean(1)
                        * has_goal[idx].to(dev)).mean()
            (loss + cfg.aux_weight * aux_loss).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            sched.step()
            recent = (recent + [(loss.item(), aux_loss.item())])[-100:]
            if progress and (step + 1) % 500 == 0:
                print(f'  step {step + 1}/{cfg.steps}: action loss {np.mean(recent, 0)[0]:.4f}'
                      f', goal loss {np.mean(recent, 0)[1]:.4f}', flush=True)
        net.eval()
        return {'train_loss': round(float(np.mean(recent, 0)[0]), 4),
                'val_loss': round(heldout_loss(net, val, lang_t[0], cfg), 4) if len(val)
                else None, 'val_episodes': int(len(held))}


@contextmanager
def torch_threads(n: int):
    """
    Run the block with ``n`` torch CPU threads (0: the free cores, :mod:`wm_ros.model.threads`).

    On a busy machine one thread is several times faster than two that fight for cores
    (embedding an instruction: 26 ms vs 230 ms on a loaded 2-core host).
    """
    before = torch.get_num_threads()
    set_training_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _mirror(images, ee, action, goal, view):
    """Flip the rows of a batch whose ``view`` (index into :data:`MIRRORS`) asks for it."""
    images, ee, action, goal = images.clone(), ee.clone(), action.clone(), goal.clone()
    for axis, bit in ((0, 1), (1, 2)):            # x: image columns; y: image rows
        rows = (view & bit).bool()
        if rows.any():
            images[rows] = images[rows].flip(2 - axis)
            ee[rows, axis] *= -1
            action[rows, axis] *= -1
            goal[rows, axis::2] *= -1
    return images, ee, action, goal


def heldout_loss(net: PolicyNet, demos: Frames, lang: torch.Tensor, cfg: PolicyConfig,
                 limit: int = 4000) -> float:
    """Return the mean squared error of normalised actions on up to ``limit`` frames."""
    dev = lang.device
    sel = np.linspace(0, len(demos) - 1, min(limit, len(demos))).astype(int)
    total = 0.0
    with torch.inference_mode():
        for chunk in np.array_split(sel, max(1, len(sel) // 512)):
            pred, _ = net(torch.from_numpy(demos.images[chunk]).to(dev),
                          torch.from_numpy(demos.ee[chunk]).to(dev),
                          lang[torch.from_numpy(demos.instruction[chunk]).to(dev)])
            target = torch.from_numpy(demos.actions[chunk] / cfg.max_speed).to(dev)
            total += float((pred - target).pow(2).mean()) * len(chunk)
    return total / len(sel)
