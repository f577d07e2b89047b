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
The free-slot family's step with turning objects and a learned pusher (``dynamics: 2``).

What it adds to the first step (:meth:`wm_ros.model.free_slots.FreeSlotsModel.step`):

* **yaw**: each slot has a yaw (rad, counter-clockwise, 0 = its sprite as first seen);
  its extents turn with it (the contact gaps use the turned shape), the pusher is also
  seen in the slot's own frame (where a push off the centre line turns it), and the
  network predicts the yaw change beside the move;
* **the pusher**: its next pose is ``ee + u * (linear(c) + mlp(c))`` with ``c`` = the
  command, its pose, its last velocity (``ee - prev_ee``) and what it touches (contact
  pooled over the slots: how close and from which side, so a pusher pressed between two
  objects can stall). The linear part starts as ``command x dt`` (the tabletop's arm) and
  learns the robot's controller from the recorded poses (PushT's lags behind a steady
  command); the MLP starts at zero;
* **walls**: each slot also sees its gap to the board's four edges (static bodies: PushT's
  walls), from its turned extent.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

POS_SCALE = 0.1
YAW_RATE = 5.0           # yaw change per step (rad) x this: the network's input scale


def wrap(angle: torch.Tensor) -> torch.Tensor:
    """Return ``angle`` wrapped to [-pi, pi)."""
    return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi


def turn(x: torch.Tensor, y: torch.Tensor, yaw: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Return vector (x, y) turned by ``yaw`` (counter-clockwise, board frame)."""
    c, s = torch.cos(yaw), torch.sin(yaw)
    return c * x - s * y, s * x + c * y


def shape_code(sprite: np.ndarray, bins: int, metres_per_px: float) -> np.ndarray:
    """
    Return float32[..., bins]: each sprite's extent (m) from its alpha-weighted centre.

    Bin ``k`` holds the farthest texel with alpha > 0.5 whose direction from the centre
    is within the sector around angle ``2 pi k / bins`` (board frame, +y up).
    """
    alpha = sprite[..., 3, :, :]
    p = alpha.shape[-1]
    idx = np.arange(p) - p // 2
    dx, dy = np.meshgrid(idx, -idx)                  # columns right, rows up
    w = np.clip(alpha, 0, None)
    total = np.maximum(w.sum((-1, -2)), 1e-6)
    cx = (w * dx).sum((-1, -2)) / total
    cy = (w * dy).sum((-1, -2)) / total
    rx, ry = dx - cx[..., None, None], dy - cy[..., None, None]
    r = np.sqrt(rx ** 2 + ry ** 2) + 0.5
    sector = np.round(np.arctan2(ry, rx) / (2 * np.pi) * bins).astype(int) % bins
    solid = alpha > 0.5
    out = np.zeros(alpha.shape[:-2] + (bins,), np.float32)
    for k in range(bins):
        out[..., k] = np.where(solid & (sector == k), r, 0.0).max((-1, -2))
    return out * metres_per_px


def extent(shape: torch.Tensor, vx: torch.Tensor, vy: torch.Tensor,
           yaw: torch.Tensor | None = None) -> torch.Tensor:
    """Return the reach (m) along (vx, vy) of shape codes [..., bins] turned by ``yaw``."""
    bins = shape.shape[-1]
    angle = torch.atan2(vy, vx + 1e-12)
    angle = angle if yaw is None else angle - yaw
    turns = torch.remainder(angle * (bins / (2 * math.pi)), float(bins))
    low = torch.clamp(torch.floor(turns), 0.0, bins - 1.0)
    frac = turns - low
    i0 = low.to(torch.int64)
    i1 = torch.remainder(i0 + 1, bins)
    e0 = torch.gather(shape, -1, i0.unsqueeze(-1)).squeeze(-1)
    e1 = torch.gather(shape, -1, i1.unsqueeze(-1)).squeeze(-1)
    return e0 + (e1 - e0) * frac


def build(model: nn.Module, cfg) -> None:
    """Add the layers of the second step to ``model``."""
    h, p, r = cfg.hidden, cfg.pair_hidden, cfg.shape_bins
    model.pair = nn.Sequential(nn.Linear(2 * r + 8, p), nn.ReLU(), nn.Linear(p, p), nn.ReLU())
    model.body = nn.Sequential(nn.Linear(r + 31 + p, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                               nn.Linear(h, 3))
    nn.init.zeros_(model.body[-1].weight)
    nn.init.zeros_(model.body[-1].bias)
    model.ee_lin = nn.Linear(6, 2)
    with torch.no_grad():
        model.ee_lin.weight.zero_()
        model.ee_lin.weight[:, :2] = torch.eye(2)      # command x dt before training
        model.ee_lin.bias.zero_()
    model.ee_head = nn.Sequential(nn.Linear(9, 32), nn.ReLU(), nn.Linear(32, 2))
    nn.init.zeros_(model.ee_head[-1].weight)
    nn.init.zeros_(model.ee_head[-1].bias)


def _pusher(model, shape, present, pos, yaw, ee, prev_ee, a):
    """Return the pusher's next pose (module docstring)."""
    cfg, u = model.cfg, model.unit
    reach = cfg.board_half - cfg.pusher_m
    kin = torch.clamp(ee + a * cfg.dt, -reach, reach)
    to = kin.unsqueeze(-2) - pos                                           # [B, M, 2]
    dist = torch.sqrt((to ** 2).sum(-1) + 1e-12)
    gap = dist - model.extent(shape, to[..., 0], to[..., 1], yaw) - cfg.pusher_m
    touch = torch.exp(-torch.clamp(gap, min=0.0) / 0.005) * present         # [B, M]
    side = (to / dist.unsqueeze(-1) * touch.unsqueeze(-1)).sum(-2)         # pooled
    c = torch.cat([a / cfg.max_speed, ee / cfg.board_half, (ee - prev_ee) / u], -1)
    feats = torch.cat([c, side, touch.sum(-1, keepdim=True)], -1)
    return torch.clamp(ee + u * (model.ee_lin(c) + model.ee_head(feats)), -reach, reach)


def step(model, shape, present, pos, prev_pos, yaw, prev_yaw, ee, prev_ee, action):
    """Return ``(pos, prev_pos, yaw, prev_yaw, ee, prev_ee)`` one control period later."""
    cfg, u = model.cfg, model.unit
    a = torch.clamp(action, -cfg.max_speed, cfg.max_speed)
    ee_next = _pusher(model, shape, present, pos, yaw, ee, prev_ee, a)
    vel = (pos - prev_pos) / u
    spin = (wrap(yaw - prev_yaw) * YAW_RATE).unsqueeze(-1)
    m = pos.shape[-2]
    to_ee = ee_next.unsqueeze(-2) - pos                                    # [B, M, 2]
    dist_ee = torch.sqrt((to_ee ** 2).sum(-1) + 1e-12)
    gap_ee = dist_ee - model.extent(shape, to_ee[..., 0], to_ee[..., 1], yaw) - cfg.pusher_m
    body_ee = torch.stack(turn(to_ee[..., 0], to_ee[..., 1], -yaw), -1)   # in the slot's frame
    motion = (ee_next - ee).unsqueeze(-2).expand_as(vel)
    body_move = torch.stack(turn(motion[..., 0], motion[..., 1], -yaw), -1) / u
    rel = pos.unsqueeze(-3) - pos.unsqueeze(-2)                            # [B, i, j, 2]
    dist = torch.sqrt((rel ** 2).sum(-1) + 1e-12)
    yaw_i = yaw.unsqueeze(-1).expand(-1, -1, m)
    yaw_j = yaw.unsqueeze(-2).expand(-1, m, -1)
    ext_i = model.extent(shape.unsqueeze(-2).expand(-1, -1, m, -1), rel[..., 0], rel[..., 1],
                         yaw_i)
    ext_j = model.extent(shape.unsqueeze(-3).expand(-1, m, -1, -1), -rel[..., 0],
                         -rel[..., 1], yaw_j)
    gap = dist - ext_i - ext_j
    other = present.unsqueeze(-2) * (1.0 - torch.eye(m, dtype=pos.dtype, device=pos.device))
    pair_in = torch.cat([rel / POS_SCALE, vel.unsqueeze(-3).expand_as(rel),
                         (gap / POS_SCALE).unsqueeze(-1), other.unsqueeze(-1),
                         torch.exp(-torch.clamp(gap, min=0.0) / 0.005).unsqueeze(-1),
                         torch.sin(wrap(yaw_j - yaw_i)).unsqueeze(-1),
                         shape.unsqueeze(-2).expand(-1, -1, m, -1) / POS_SCALE,
                         shape.unsqueeze(-3).expand(-1, m, -1, -1) / POS_SCALE], -1)
    agg = (model.pair(pair_in) * other.unsqueeze(-1)).sum(-2)
    feats = torch.cat([
        shape / POS_SCALE, present.unsqueeze(-1), vel, spin,
        (ee.unsqueeze(-2) - pos) / POS_SCALE, to_ee / POS_SCALE, body_ee / POS_SCALE,
        body_move, (gap_ee / POS_SCALE).unsqueeze(-1),
        torch.exp(-torch.clamp(gap_ee, min=0.0) / 0.005).unsqueeze(-1),
        (a / cfg.max_speed).unsqueeze(-2).expand_as(vel), motion / u, pos / cfg.board_half,
        torch.cos(yaw).unsqueeze(-1), torch.sin(yaw).unsqueeze(-1),
        torch.ones_like(vel[..., :1]), agg], -1)
    out = model.body(torch.cat([feats, _walls(model, shape, pos, yaw)], -1)) \
        * present.unsqueeze(-1)
    edge = cfg.board_half
    new_pos = torch.clamp(pos + out[..., :2] * u * 10.0, -edge, edge)
    new_yaw = wrap(yaw + out[..., 2])
    if cfg.separate:
        new_pos = torch.clamp(model.separate(present, new_pos, ext_i + ext_j, gap), -edge, edge)
    return new_pos, pos, new_yaw, yaw, ee_next, ee


def _walls(model, shape, pos, yaw) -> torch.Tensor:
    """
    Return [B, M, 8]: each slot's gap to the board's four edges and its contact with them.

    The edges are static bodies (PushT's walls; the tabletop's rim): the gap is the
    distance from the slot's turned extent towards the edge to the edge.
    """
    edge = model.cfg.board_half
    gaps = []
    for axis, sign in ((0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0)):
        vx = torch.full_like(yaw, sign if axis == 0 else 0.0)
        vy = torch.full_like(yaw, sign if axis == 1 else 0.0)
        gaps.append(edge - sign * pos[..., axis] - model.extent(shape, vx, vy, yaw))
    gap = torch.stack(gaps, -1)
    return torch.cat([gap / POS_SCALE, torch.exp(-torch.clamp(gap, min=0.0) / 0.005)], -1)
