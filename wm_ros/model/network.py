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
The world model: object-slot state, relational dynamics ensemble, sprite decoder.

Why this shape (docs/results/world-model-fidelity.md): whole-frame conv models blur and
drop the small pushed block first; here the latent *is* a set of object slots, so a block
cannot fade away, pushing is learned as explicit block motion, latent steps are cheap (no
pixels), and decoding is a few sprite warps instead of a transposed-conv stack.

State (explicit, passed in and returned; ``M = max_blocks``), ``STATE_KEYS`` order:

* ``kind``    int64[B, M]    slot identity: index into the config's ``world.kinds``
* ``present`` float32[B, M]  1 for a real block, 0 for an empty slot
* ``pos``     float32[B, M, 2]  block centres, metres, board frame
* ``yaw``     float32[B, M]  block heading, rad (modulo the shape's symmetry)
* ``prev_pos`` float32[B, M, 2] centres one step earlier (velocity)
* ``ee``, ``prev_ee`` float32[B, 2] pusher now and one step earlier, metres
* ``uncertainty`` float32[B]  ensemble spread of the last step, metres (0 after encode)

Encoder (CenterNet-style, at 1/4 resolution): ``uint8[B, H, W, 3]`` frame -> an objectness
heatmap whose local maxima above 0 are the blocks (top ``M`` become slots), and per cell
the block's kind (colour logits + shape logits, so 30 kinds are learned from 11 maps),
its sub-cell centre offset and symmetry-aware yaw (cos/sin per shape). Every visible blob
gets a slot even when its shape is ambiguous, so blocks do not vanish at encoding.
Dynamics: per block, features of itself, the pusher's motion relative to it, the action and
a sum over the other blocks; ``ensemble`` MLP heads predict its displacement and rotation;
the pusher follows the clipped command kinematically plus a learned residual. Decoder:
learned background + one learned RGBA sprite per kind, warped to each slot's pose with
``grid_sample`` and composited (pusher on top; ``model/sprites.py``).

Contact projection (``contact_projection``, issue 8): after each learned step, a block the
pusher has entered is pushed out along the line between them, overlapping blocks are pushed
apart, and blocks stay on the board. It is a fixed, differentiable step applied in training
too, so the heads learn the rest; it is what keeps a block moving under a pusher that keeps
pushing, and keeps pushed blocks from passing into each other, in closed loop.
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from wm_ros.model.config import WorldModelConfig
from wm_ros.model.sprites import Decoder

STATE_KEYS = ('kind', 'present', 'pos', 'yaw', 'prev_pos', 'ee', 'prev_ee', 'uncertainty')
POS_SCALE = 0.1    # metres: scale of relative positions fed to the dynamics
CONTACT_FRAC = 0.7  # contact radius / footprint radius in the contact projection
RADIAL_BINS = 256   # angles of the per-shape radial-distance table (1.4 degrees apart)


class Encoder(nn.Module):
    """Frame + pusher position -> object-slot state (see module docstring)."""

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        world = cfg.world
        c, k = cfg.enc_channels, len(world.kinds)
        nc, ns = len(world.colours), len(world.shapes)
        self.cfg, self.nc, self.ns = cfg, nc, ns
        self.net = nn.Sequential(
            nn.Conv2d(5, c, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(2 * c, 2 * c, 3, padding=2, dilation=2), nn.ReLU(),
            nn.Conv2d(2 * c, 1 + nc + 3 * ns + 2, 1))
        s, h = cfg.image_size, cfg.image_size // 4
        self.cell = 2 * cfg.board_half / h
        lin = (torch.arange(s, dtype=torch.float32) + 0.5) / s * 2 - 1
        self.register_buffer('coords', torch.stack(torch.meshgrid(lin, lin, indexing='ij'))[None],
                             persistent=False)
        centres = ((torch.arange(h, dtype=torch.float32) + 0.5) / h * 2 - 1) * cfg.board_half
        gy, gx = torch.meshgrid(-centres, centres, indexing='ij')
        self.register_buffer('grid_xy', torch.stack([gx.flatten(), gy.flatten()], -1),
                             persistent=False)
        self.register_buffer('symmetry', torch.tensor(world.kind_symmetry,
                                                      dtype=torch.float32), persistent=False)
        self.register_buffer('kind_colour', torch.arange(k) // ns, persistent=False)
        self.register_buffer('kind_shape', torch.arange(k) % ns, persistent=False)
        self.kind_bias = nn.Parameter(torch.zeros(k, 1))

    def maps(self, images: torch.Tensor) -> torch.Tensor:
        """
        Return the raw per-cell outputs [B, C, h*w] (``h = image_size / 4``).

        Channels: objectness logit (1), colour logits, shape logits, per-shape cos and sin
        of ``symmetry * yaw``, and the sub-cell offset of the block centre (x, y, in cells).
        """
        return self.maps_float(images.permute(0, 3, 1, 2).to(torch.float32) / 255.0)

    def maps_float(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`maps` of float images [B, 3, S, S] in [0, 1] (differentiable: training)."""
        x = torch.cat([x, self.coords.expand(x.shape[0], -1, -1, -1)], 1)
        return self.net(x).flatten(2)

    def kind_logits(self, out: torch.Tensor) -> torch.Tensor:
        """Return kind logits [B, K, ...] = colour + shape (+ bias) from outputs [B, C, ...]."""
        nc, ns = self.nc, self.ns
        colour, shape = out[:, 1:1 + nc], out[:, 1 + nc:1 + nc + ns]
        return colour[:, self.kind_colour] + shape[:, self.kind_shape] + self.kind_bias

    def read(self, out: torch.Tensor, cell: torch.Tensor, kind: torch.Tensor):
        """Return ``pos`` [B,M,2] (m) and ``yaw`` [B,M] of ``kind`` at cells ``cell`` [B,M]."""
        nc, ns = self.nc, self.ns
        at = torch.gather(out, 2, cell.unsqueeze(1).expand(-1, out.shape[1], -1))  # [B, C, M]
        base = 1 + nc + ns
        pos = self.grid_xy[cell] + at[:, base + 2 * ns:base + 2 * ns + 2].transpose(1, 2) \
            * self.cell
        shape = (kind % ns).unsqueeze(1)
        cos = torch.gather(at[:, base:base + ns], 1, shape).squeeze(1)
        sin = torch.gather(at[:, base + ns:base + 2 * ns], 1, shape).squeeze(1)
        return pos, torch.atan2(sin, cos) / torch.clamp(self.symmetry[kind], min=1.0)

    def forward(self, images: torch.Tensor, ee: torch.Tensor):
        """Return the state tuple (``STATE_KEYS`` order) for ``images`` and pusher ``ee``."""
        out = self.maps(images)
        h = self.cfg.image_size // 4
        obj = out[:, :1].reshape(-1, 1, h, h)
        peak = obj >= F.max_pool2d(obj, 3, stride=1, padding=1)        # local maxima only
        score = torch.where(peak, obj, obj - 1e4).flatten(1)
        score, cell = torch.topk(score, self.cfg.max_blocks, dim=1)
        present = (score > 0).to(torch.float32)
        at = torch.gather(out, 2, cell.unsqueeze(1).expand(-1, out.shape[1], -1))
        kind = self.kind_logits(at).argmax(1)                          # [B, M]
        pos, yaw = self.read(out, cell, kind)
        return (kind, present, pos, yaw, pos, ee, ee, torch.zeros_like(ee[:, 0]))


def _radial_table(planes, bins: int = RADIAL_BINS) -> torch.Tensor:
    """
    Return the flat table of each shape's centre-to-hull distance at ``bins + 1`` angles.

    ``planes`` [S][P] are the hulls' half-planes ``(nx, ny, d)`` (``n . x <= d``, body
    frame); the distance along a direction is the nearest plane the ray leaves through.
    Row ``s`` holds angles ``2 pi k / bins`` for k = 0..bins (the last repeats the first,
    so interpolation never wraps).
    """
    p = torch.tensor(planes, dtype=torch.float64)                       # [S, P, 3]
    angle = torch.arange(bins + 1, dtype=torch.float64) * (2 * math.pi / bins)
    u = torch.stack([torch.cos(angle), torch.sin(angle)], -1)          # [A, 2]
    dot = p[:, None, :, 0] * u[None, :, None, 0] + p[:, None, :, 1] * u[None, :, None, 1]
    facing = dot > 1e-9
    ratio = p[:, None, :, 2] / torch.where(facing, dot, torch.ones_like(dot))
    radial = torch.where(facing, ratio, torch.full_like(ratio, math.inf)).amin(-1)
    return radial.reshape(-1).to(torch.float32)


class Dynamics(nn.Module):
    """One control step of the object state, as an ensemble of relational MLP heads."""

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.cfg = cfg
        e, h, p = cfg.ensemble, cfg.hidden, cfg.pair_hidden
        self.dt = 1.0 / cfg.control_hz
        self.unit = cfg.max_speed * self.dt              # metres per step at full speed
        self.reach = cfg.board_half - cfg.world.pusher_radius - 0.002
        self.kind_emb = nn.Embedding(len(cfg.world.kinds), cfg.kind_dim)
        self.pair = nn.Sequential(nn.Linear(5, p), nn.ReLU(), nn.Linear(p, p), nn.ReLU())
        f = cfg.kind_dim + 13 + p

        def param(*shape, scale=1.0):
            return nn.Parameter(torch.randn(*shape) * scale)
        self.w1, self.b1 = param(e, f, h, scale=f ** -0.5), param(e, 1, h, scale=0.0)
        self.w2, self.b2 = param(e, h, h, scale=h ** -0.5), param(e, 1, h, scale=0.0)
        self.w3, self.b3 = param(e, h, 3, scale=0.01 * h ** -0.5), param(e, 1, 3, scale=0.0)
        self.v1, self.c1 = param(e, 6, 32, scale=6 ** -0.5), param(e, 1, 32, scale=0.0)
        self.v2, self.c2 = param(e, 32, 2, scale=0.01 * 32 ** -0.5), param(e, 1, 2, scale=0.0)
        self.register_buffer('symmetry', torch.tensor(cfg.world.kind_symmetry,
                                                      dtype=torch.float32), persistent=False)
        planes = cfg.world.contact_planes()
        self.register_buffer('radial_table', _radial_table(planes) if planes else None,
                             persistent=False)

    def project(self, pos: torch.Tensor, present: torch.Tensor, ee: torch.Tensor,
                kind: torch.Tensor, yaw: torch.Tensor) -> torch.Tensor:
        """
        Return ``pos`` [..., M, 2] with contacts resolved (see the module docstring).

        With the world's ``shape_hulls`` a block's contact distance along the line to the
        pusher or to another block is its hull's radial distance at its ``yaw`` (exact at
        faces and corners, slightly short in between, so only true penetration is
        corrected); without them every block is a disc of ``CONTACT_FRAC`` of its
        footprint radius (a cube's face is at 0.7 of its corner radius).
        """
        if not self.cfg.contact_projection:
            return pos
        rb = CONTACT_FRAC * self.cfg.world.block_radius
        hulls = self.radial_table is not None
        # x and y as separate [..., M] / [..., M, M] tensors: few, wide element-wise ops
        # (ONNX Runtime loops over the innermost dimension, slow when it has size 1 or 2)
        x, y = pos[..., 0], pos[..., 1]
        dx, dy = x - ee[..., :1], y - ee[..., 1:]                         # [..., M]
        dist = torch.sqrt(dx * dx + dy * dy + 1e-12)
        reach = (self._radial(kind, yaw, -dx, -dy) if hulls else rb) \
            + self.cfg.world.pusher_radius
        push = torch.clamp(reach - dist, min=0.0) * present / dist
        x, y = x + push * dx, y + push * dy
        rx, ry = x.unsqueeze(-1) - x.unsqueeze(-2), y.unsqueeze(-1) - y.unsqueeze(-2)
        dist = torch.sqrt(rx * rx + ry * ry + 1e-12)                     # [..., i, j]
        m = pos.shape[-2]
        both = present.unsqueeze(-1) * present.unsqueeze(-2) \
            * (1.0 - torch.eye(m, dtype=pos.dtype, device=pos.device))
        if hulls:   # i's extent towards j plus j's towards i: one [i, j] table and its transpose
            towards = self._radial(kind.unsqueeze(-1), yaw.unsqueeze(-1), -rx, -ry)
            need = towards + towards.transpose(-1, -2)
        else:
            need = 2 * rb
        share = 0.5 * torch.clamp(need - dist, min=0.0) * both / dist
        edge = self.cfg.board_half - rb
        return torch.clamp(torch.stack([x + (share * rx).sum(-1), y + (share * ry).sum(-1)], -1),
                           -edge, edge)

    def _radial(self, kind: torch.Tensor, yaw: torch.Tensor, vx: torch.Tensor,
                vy: torch.Tensor) -> torch.Tensor:
        """
        Return each block's centre-to-hull distance along world direction ``(vx, vy)``.

        Read from the shape's table of distances by body-frame angle, linearly
        interpolated: a few ops on one number per block (or pair) where evaluating the 16
        half-planes took a dozen ops on 16 (2.5x the latent step at batch 256).
        """
        n = RADIAL_BINS
        none = vx * vx + vy * vy < 1e-20        # no direction (ONNX's atan2(0, 0) is NaN)
        at = torch.atan2(vy, torch.where(none, torch.ones_like(vx), vx)) - yaw
        turns = torch.remainder(at * (n / (2 * math.pi)), float(n))
        low = torch.clamp(torch.floor(turns), 0.0, n - 1.0)
        index = (kind % len(self.cfg.world.shapes)) * (n + 1) + low.to(torch.int64)
        r0, r1 = self.radial_table[index], self.radial_table[index + 1]
        return r0 + (r1 - r0) * (turns - low)

    def heads(self, kind, present, pos, yaw, prev_pos, ee, prev_ee, action):
        """
        Return per-head ``dpos`` [E,...,M,2], ``dyaw`` [E,...,M] and ``ee_next`` [E,...,2].

        Inputs may carry a leading ensemble dimension (one state per head, in training) or
        not (one shared state, at inference).
        """
        per_head = pos.dim() == 4
        u, half = self.unit, self.cfg.board_half
        a = torch.clamp(action, -self.cfg.max_speed, self.cfg.max_speed)
        ee_kin = torch.clamp(ee + a * self.dt, -self.reach, self.reach)
        ee_in = torch.cat([a / self.cfg.max_speed, (ee - prev_ee) / u, ee / half], -1)
        hidden = _ensemble_layer(ee_in, self.v1, self.c1, per_head)
        ee_next = ee_kin + torch.baddbmm(self.c2, hidden, self.v2).view(-1, *ee.shape[-2:]) * u
        ee_mean = ee_next if per_head else ee_next.mean(0)
        vel = (pos - prev_pos) / u
        m = pos.shape[-2]
        other = present.unsqueeze(-2) * (1.0 - torch.eye(m, dtype=pos.dtype, device=pos.device))
        agg = (self._pairs(pos, vel, other) * other.unsqueeze(-1)).sum(-2)
        ang = yaw * self.symmetry[kind]
        feats = torch.cat([
            self.kind_emb(kind), present.unsqueeze(-1), vel, torch.cos(ang).unsqueeze(-1),
            torch.sin(ang).unsqueeze(-1), (ee.unsqueeze(-2) - pos) / POS_SCALE,
            (ee_mean.unsqueeze(-2) - pos) / POS_SCALE,
            (a / self.cfg.max_speed).unsqueeze(-2).expand_as(vel), pos / half, agg], -1)
        x = _ensemble_layer(feats, self.w1, self.b1, per_head)
        x = torch.relu(torch.baddbmm(self.b2, x, self.w2))
        out = torch.baddbmm(self.b3, x, self.w3).view(-1, *pos.shape[-3:-1], 3)
        mask = present.unsqueeze(-1)
        return out[..., :2] * u * 10.0 * mask, out[..., 2] * present, ee_next

    def _pairs(self, pos, vel, other):
        """
        Return the pair MLP's features ``[..., i, j, P]`` of block ``j`` seen from ``i``.

        Its input is ``((pos_j - pos_i) / POS_SCALE, vel_j, other_ij)``; the first layer is
        linear, so it is applied per block and the pairs are formed after it (one add of
        ``[..., M, 1, P]`` and ``[..., 1, M, P]`` instead of a 5-wide matmul over M x M).
        """
        first, second = self.pair[0], self.pair[2]
        w = first.weight                                                   # [P, 5]
        at = pos @ (w[:, :2].t() / POS_SCALE)                               # [..., M, P]
        seen = at + vel @ w[:, 2:4].t()
        x = seen.unsqueeze(-3) - at.unsqueeze(-2) + other.unsqueeze(-1) * w[:, 4] + first.bias
        return torch.relu(second(torch.relu(x)))

    def forward(self, kind, present, pos, yaw, prev_pos, ee, prev_ee, uncertainty, action):
        """Return the next state tuple (``STATE_KEYS`` order) after ``action`` [B, 2] m/s."""
        dpos, dyaw, ee_next = self.heads(kind, present, pos, yaw, prev_pos, ee, prev_ee,
                                         action)
        spread = (dpos - dpos.mean(0)).pow(2).sum(-1).mean(0).sqrt() * present   # [B, M]
        ee_new = ee_next.mean(0)
        new_yaw = yaw + dyaw.mean(0)
        new_pos = self.project(pos + dpos.mean(0), present, ee_new, kind, new_yaw)
        return (kind, present, new_pos, new_yaw, pos, ee_new, ee, spread.amax(-1))


def _ensemble_layer(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, per_head: bool
                    ) -> torch.Tensor:
    """
    Return ``relu(x @ w[e] + b[e])`` for every head ``e`` as ``[E, N, H]`` (N: all leading dims).

    ``x`` is ``[..., F]`` shared by the heads, or ``[E, ..., F]`` per head. A shared input
    goes through one matmul with the heads side by side (``[N, F] @ [F, E*H]``): an einsum
    would copy it per head first (3x slower at batch 256).
    """
    e, f, h = w.shape
    if per_head:
        y = torch.baddbmm(b, x.reshape(e, -1, f), w)
    else:
        w = w.permute(1, 0, 2).reshape(f, e * h)
        y = torch.addmm(b.reshape(1, e * h), x.reshape(-1, f), w)
        y = y.view(-1, e, h).transpose(0, 1)
    return torch.relu(y)


class WorldModel(nn.Module):
    """Encoder, dynamics and decoder with one config; the torch backend runs this."""

    def __init__(self, cfg: WorldModelConfig):
        super().__init__()
        self.cfg = cfg
        # each part is initialised from its own seed, so changing one part's architecture
        # leaves the others' initial weights (and their training) unchanged
        with torch.random.fork_rng():
            torch.manual_seed(cfg.seed * 10 + 1)
            self.encoder = Encoder(cfg)
            torch.manual_seed(cfg.seed * 10 + 2)
            self.dynamics = Dynamics(cfg)
            torch.manual_seed(cfg.seed * 10 + 3)
            self.decoder = Decoder(cfg)
