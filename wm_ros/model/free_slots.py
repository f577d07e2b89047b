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
The free-slot family: object slots learned without labels, appearance as a cut-out code.

Format ``wm_ros.free_slots``. What the robot records (images, commands, pose) is enough:

* **encoder** (no weights, :mod:`wm_ros.model.discover`): background subtraction and
  connected parts find the objects of the first frame (the background is the static
  scene learned from the training frames and stored in the config, ``background``: borders
  and painted markings are not objects); each slot keeps its object's
  *sprite* (the premultiplied RGBA pixels cut out of the frame) as its appearance code,
  its centroid, and a *shape code* (its extent from the centroid at ``shape_bins``
  angles). There is no vocabulary of kinds: an object of a colour or shape never seen in
  training is a slot like any other, drawn with its own pixels.
* **dynamics** (learned): a relational MLP over slots and pusher, fed geometry that makes
  contact learnable (each slot's extent towards the pusher and towards every other slot,
  from its shape code, and the gaps that leaves); trained on open-loop unrolls against
  tracks that the same discovery finds in every recorded frame
  (:mod:`wm_ros.model.free_slots_train`). After each step slots that moved into each
  other are pushed apart along the line between their centres (``separate`` passes, no
  weights): a block pushed into another pushes it on, as on the tabletop.
* **decoder** (no weights): the learned static scene (the board colour where there is
  none) plus every sprite pasted at its slot, and the pusher's sprite at the pusher: the
  first frame is redrawn exactly. The sprite side (``patch``) and the largest object's
  area (``object_area``: a part over 1.4x it is two touching objects of one colour) are
  learned from the training frames too (:func:`wm_ros.model.discover.learn_sizes`).

Model files written before issue 27 have no ``discovery`` in their config: they keep the
rule they were trained with (the frame's median colour as background, a part over 2.2x
the typical block's area split in two), so a shipped model behaves as it did.

Why this design, by measurement (tabletop, seed never used): discovery alone finds the
right number of objects in 93 % of frames with centroids 0.5 mm off (median); a learned
decoder is not needed for flat sprites seen from above and costs the sharpness that PSNR
and pixel-reading policies need (the supervised family's sprites come out blurred: it is
3.5 dB below copy-last at one step). For cameras whose scenes are not flat sprites the
latent-grid family (:mod:`wm_ros.model.latent`) is the general baseline.

Objects turn (``dynamics: 2``, :mod:`wm_ros.model.free_slots_step`): each slot has a yaw,
its sprite is drawn turned by it (``grid_sample``, in the exported decoder too), the
step predicts its change (trained on yaws measured by matching the turned first sprite,
:mod:`wm_ros.model.free_slots_yaw`), and the pusher's motion is learned from the recorded
poses, as is its radius. Model files without ``dynamics`` keep the first step (no yaw,
the pusher follows ``command x dt`` plus a small correction).

Known limits: touching objects of one colour are one slot unless
together they are over 1.4x the largest object's area (always one in files before issue
27), and there is no uncertainty estimate (no ensemble).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wm_ros import config as config_io
from wm_ros.model import family_files, free_slots_step
from wm_ros.model.config import FamilyConfig
from wm_ros.model.discover import Background, discover, Discovery
from wm_ros.model.free_slots_step import extent as _extent, shape_code
from wm_ros.model.sprites import paste_sprites

FORMAT = 'wm_ros.free_slots'
FORMAT_VERSION = 1
STATE_KEYS = ('sprite', 'shape', 'present', 'pos', 'prev_pos', 'offset', 'ee', 'prev_ee',
              'board', 'pusher', 'pusher_offset')
DYNAMIC_KEYS = ('pos', 'prev_pos', 'ee', 'prev_ee')      # what a step changes
TURN_KEYS = ('yaw', 'prev_yaw')                          # dynamics 2: per slot
POS_SCALE = 0.1
DEFAULT_PATCH = 13      # sprite side of a model built without training frames (tabletop's)
DEFAULT_PUSHER = 0.018  # m: pusher radius of a model built without training frames


@dataclass(frozen=True)
class FreeSlotsConfig(FamilyConfig):
    """Architecture and training settings (``config/free_slots.yaml``; ``tiny`` for tests)."""

    CONFIG_FILE = 'free_slots.yaml'

    # FamilyConfig's first: image_size, board_half, control_hz, max_speed
    pusher_radius: float = 0.0       # m: the arm's tool (0: from the training frames)
    max_slots: int = 8
    patch: int = 0                   # sprite side in px, odd (0: from the training frames)
    shape_bins: int = 8
    threshold: float = 0.12          # discovery: |pixel - background| that is an object
    background: str = ''             # static scene learned in training (discover.Background)
    object_area: float = 0.0         # px: the largest object's (0: from the training frames)
    discovery: int = 2               # 1: the rule of model files before issue 27
    dynamics: int = 2                # 2: yaw and a learned pusher; 1: files before them
    hidden: int = 64
    pair_hidden: int = 32
    separate: int = 2                # non-penetration passes after each step (0: none)
    # training (wm_ros.model.free_slots_train)
    batch_size: int = 64
    unroll: int = 16
    steps: int = 4000
    lr: float = 2e-3
    max_episodes: int = 0            # 0: every episode
    seed: int = 0
    threads: int = 0                 # torch CPU threads (0: the free cores, model/threads.py)

    def __post_init__(self):
        if self.patch < 0 or (self.patch and self.patch % 2 == 0):
            raise config_io.ConfigError(f'patch must be odd (a sprite is centred on a pixel) '
                                        f'or 0 (from the training frames), got {self.patch}')
        if self.dynamics not in (1, 2):
            raise config_io.ConfigError(f'dynamics must be 1 (no yaw) or 2, got '
                                        f'{self.dynamics}')
        if self.discovery not in (1, 2):
            raise config_io.ConfigError(f'discovery must be 1 (before issue 27) or 2, got '
                                        f'{self.discovery}')
        if self.image_size % 2 or not 16 <= self.image_size <= 512:
            raise config_io.ConfigError(f'image_size must be even and in [16, 512], got '
                                        f'{self.image_size}')

    @property
    def sprite_px(self) -> int:
        """Return the sprite side in px: ``patch``, or the default before training."""
        return self.patch or DEFAULT_PATCH

    @property
    def pusher_m(self) -> float:
        """Return the pusher radius (m): ``pusher_radius``, or the default before training."""
        return self.pusher_radius or DEFAULT_PUSHER

    def scene(self) -> Background | None:
        """Return the learned static background, or None where none was learned."""
        return Background.decode(self.background) if self.background else None


def load_config(name: str = 'default', path: str | Path | None = None, **overrides
                ) -> FreeSlotsConfig:
    """Load section ``name`` of ``config/free_slots.yaml`` (or ``path``) plus overrides."""
    return FreeSlotsConfig.load(name, path, **overrides)


def find(cfg: FreeSlotsConfig, image: np.ndarray, ee: np.ndarray, patch: int = 0
         ) -> Discovery:
    """Return the objects :func:`discover` finds in ``image`` by ``cfg``'s rule."""
    return discover(image, ee, cfg.max_slots, cfg.board_half, cfg.pusher_m,
                    patch or cfg.sprite_px, cfg.threshold, background=cfg.scene(),
                    rule=cfg.discovery, object_area=cfg.object_area)


def encode_frames(cfg: FreeSlotsConfig, images: np.ndarray, ee: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """Return the state arrays (``STATE_KEYS``) of frames uint8[B, S, S, 3], ee [B, 2]."""
    found = [find(cfg, img, e) for img, e in zip(images, ee)]
    sprite = np.stack([f.sprite for f in found])
    pos = np.stack([f.pos for f in found])
    present = np.stack([f.present for f in found])
    px = 2 * cfg.board_half / cfg.image_size
    turns = {k: np.zeros(pos.shape[:-1], np.float32)
             for k in (TURN_KEYS if cfg.dynamics == 2 else ())}
    return {**turns, 'sprite': sprite,
            'shape': shape_code(sprite, cfg.shape_bins, px) * present[..., None],
            'present': present, 'pos': pos, 'prev_pos': pos.copy(),
            'offset': np.stack([f.anchor for f in found]) - pos,
            'ee': ee.astype(np.float32), 'prev_ee': ee.astype(np.float32),
            'board': np.stack([f.board for f in found]),
            'pusher': np.stack([f.pusher for f in found]),
            'pusher_offset': np.stack([f.pusher_anchor for f in found])}


def state_spec(cfg: FreeSlotsConfig) -> dict:
    """Return ``{key: {'shape': [...] without batch, 'dtype': ...}}`` of this family's State."""
    m, p = cfg.max_slots, cfg.sprite_px
    shapes = {'yaw': [m], 'prev_yaw': [m], 'sprite': [m, 4, p, p],
              'shape': [m, cfg.shape_bins], 'present': [m],
              'pos': [m, 2], 'prev_pos': [m, 2], 'offset': [m, 2], 'ee': [2], 'prev_ee': [2],
              'board': [3], 'pusher': [4, p, p], 'pusher_offset': [2]}
    return {k: {'shape': shapes[k], 'dtype': 'float32'} for k in state_keys(cfg)}


def state_keys(cfg: FreeSlotsConfig) -> tuple[str, ...]:
    """Return the state's keys: ``STATE_KEYS``, plus the yaws with ``dynamics`` 2."""
    return STATE_KEYS + (TURN_KEYS if cfg.dynamics == 2 else ())


class FreeSlotsModel(nn.Module):
    """The learned part (dynamics) and the drawing of the free-slot family."""

    def __init__(self, cfg: FreeSlotsConfig):
        super().__init__()
        self.cfg = cfg
        h, p, r = cfg.hidden, cfg.pair_hidden, cfg.shape_bins
        self.unit = cfg.max_speed * cfg.dt
        if cfg.dynamics == 2:
            free_slots_step.build(self, cfg)
        else:
            self._build_first(h, p, r)
        w = cfg.sprite_px + 2
        self.register_buffer('offsets', torch.arange(w, dtype=torch.float32), persistent=False)
        self.register_buffer('offsets_i', torch.arange(w), persistent=False)
        scene = cfg.scene()                      # the learned static scene, drawn under all
        self.register_buffer('static', None if scene is None else torch.from_numpy(
            np.concatenate([scene.rgb, scene.static[..., None]], -1).astype(np.float32))
            .permute(2, 0, 1).contiguous(), persistent=False)

    extent = staticmethod(_extent)

    def _build_first(self, h: int, p: int, r: int) -> None:
        """Add the layers of the first step (``dynamics: 1``)."""
        self.pair = nn.Sequential(nn.Linear(2 * r + 7, p), nn.ReLU(), nn.Linear(p, p), nn.ReLU())
        self.body = nn.Sequential(nn.Linear(r + 16 + p, h), nn.ReLU(), nn.Linear(h, h),
                                  nn.ReLU(), nn.Linear(h, 2))
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)
        self.ee_head = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
        nn.init.zeros_(self.ee_head[-1].weight)
        nn.init.zeros_(self.ee_head[-1].bias)

    def step(self, *inputs):
        """
        Return the next dynamic state (``graphs(cfg)['step']``'s outputs) from its inputs.

        ``dynamics`` 1: ``(shape, present, pos, prev_pos, ee, action)`` ->
        ``(pos, prev_pos, ee, prev_ee)``; 2: :func:`wm_ros.model.free_slots_step.step`.
        """
        if self.cfg.dynamics == 2:
            return free_slots_step.step(self, *inputs)
        return self._step_first(*inputs)

    def _step_first(self, shape, present, pos, prev_pos, ee, action):
        """Return ``(pos, prev_pos, ee, prev_ee)`` one control period later (dynamics 1)."""
        cfg, u = self.cfg, self.unit
        a = torch.clamp(action, -cfg.max_speed, cfg.max_speed)
        reach = cfg.board_half - cfg.pusher_m
        kin = torch.clamp(ee + a * cfg.dt, -reach, reach)
        const = torch.cat([a / cfg.max_speed, ee / cfg.board_half], -1)
        ee_next = torch.clamp(kin + 0.1 * u * self.ee_head(const), -reach, reach)
        vel = (pos - prev_pos) / u
        m = pos.shape[-2]
        # the pusher, seen from each slot: where it goes and the gap that leaves
        to_ee = ee_next.unsqueeze(-2) - pos                                  # [B, M, 2]
        dist_ee = torch.sqrt((to_ee ** 2).sum(-1) + 1e-12)
        gap_ee = dist_ee - _extent(shape, to_ee[..., 0], to_ee[..., 1]) - cfg.pusher_m
        # other slots: relative position, velocity, the gap between the two shapes
        rel = pos.unsqueeze(-3) - pos.unsqueeze(-2)                          # [B, i, j, 2]
        dist = torch.sqrt((rel ** 2).sum(-1) + 1e-12)
        ext_i = _extent(shape.unsqueeze(-2).expand(-1, -1, m, -1), rel[..., 0], rel[..., 1])
        ext_j = _extent(shape.unsqueeze(-3).expand(-1, m, -1, -1), -rel[..., 0], -rel[..., 1])
        gap = dist - ext_i - ext_j
        other = present.unsqueeze(-2) * (1.0 - torch.eye(m, dtype=pos.dtype,
                                                         device=pos.device))
        pair_in = torch.cat([rel / POS_SCALE, vel.unsqueeze(-3).expand_as(rel),
                             (gap / POS_SCALE).unsqueeze(-1), other.unsqueeze(-1),
                             torch.exp(-torch.clamp(gap, min=0.0) / 0.005).unsqueeze(-1),
                             shape.unsqueeze(-2).expand(-1, -1, m, -1) / POS_SCALE,
                             shape.unsqueeze(-3).expand(-1, m, -1, -1) / POS_SCALE], -1)
        agg = (self.pair(pair_in) * other.unsqueeze(-1)).sum(-2)
        feats = torch.cat([
            shape / POS_SCALE, present.unsqueeze(-1), vel,
            (ee.unsqueeze(-2) - pos) / POS_SCALE, to_ee / POS_SCALE,
            (gap_ee / POS_SCALE).unsqueeze(-1),
            torch.exp(-torch.clamp(gap_ee, min=0.0) / 0.005).unsqueeze(-1),
            (a / cfg.max_speed).unsqueeze(-2).expand_as(vel),
            ((ee_next - ee) / u).unsqueeze(-2).expand_as(vel), pos / cfg.board_half,
            torch.ones_like(vel[..., :1]), agg], -1)
        dpos = self.body(feats) * u * 10.0 * present.unsqueeze(-1)
        edge = cfg.board_half
        new_pos = torch.clamp(pos + dpos, -edge, edge)
        if cfg.separate:
            new_pos = torch.clamp(self.separate(present, new_pos, ext_i + ext_j, gap), -edge,
                                  edge)
        return new_pos, pos, ee_next, ee

    def separate(self, present, pos, reach, gap_before) -> torch.Tensor:
        """
        Push apart slots that the step moved into each other (non-penetration).

        ``reach`` [B, M, M] (m) is how far apart two slots' centres are when their shapes
        touch, read from the shape codes along the line between them before the step;
        ``gap_before`` their gap then. A pair may overlap by as much as it did before the
        step, never more: each pass moves both by half the new overlap along the line
        between them, so a block pushed into another pushes it on instead of passing into
        it (the learned step alone lets sprites slide into each other in long pushes).
        """
        m = pos.shape[-2]
        pair = (present.unsqueeze(-1) * present.unsqueeze(-2)
                * (1.0 - torch.eye(m, dtype=pos.dtype, device=pos.device)))
        limit = reach + torch.clamp(gap_before, max=0.0)      # closest allowed distance
        for _ in range(self.cfg.separate):
            rel = pos.unsqueeze(-3) - pos.unsqueeze(-2)                      # [B, i, j, 2]
            dist = torch.sqrt((rel ** 2).sum(-1) + 1e-12)
            over = torch.clamp(limit - dist, min=0.0) * pair
            pos = pos - (0.5 * over / dist).unsqueeze(-1).mul(rel).sum(-2)
        return pos

    def render(self, sprite, present, pos, offset, ee, board, pusher, pusher_offset,
               yaw=None) -> torch.Tensor:
        """
        Return float images [B, 3, S, S] in [0, 1]: the board plus every sprite.

        With ``yaw`` [B, M] each sprite is turned by it about its object's centroid.
        """
        b, m = present.shape
        cfg = self.cfg
        tex = torch.cat([sprite, pusher.unsqueeze(1)], 1).reshape(-1, *sprite.shape[2:])
        weight = torch.cat([present, torch.ones_like(present[:, :1])], 1).reshape(-1)
        angle = torch.zeros_like(weight)
        if yaw is not None:
            offset = torch.stack(free_slots_step.turn(offset[..., 0], offset[..., 1], yaw), -1)
            angle = torch.cat([yaw, torch.zeros_like(yaw[:, :1])], 1).reshape(-1)
        xy = torch.cat([pos + offset, (ee + pusher_offset).unsqueeze(1)], 1).reshape(-1, 2)
        extent = cfg.sprite_px * 2 * cfg.board_half / cfg.image_size
        canvas = paste_sprites(tex, xy, angle, weight, b, cfg.image_size,
                               cfg.board_half, extent, self.offsets, self.offsets_i)
        alpha = torch.clamp(canvas[:, 3:], 0.0, 1.0)
        under = board.view(b, 3, 1, 1)
        if self.static is not None:              # the static scene where it is known
            known = self.static[3:].unsqueeze(0)
            under = self.static[:3].unsqueeze(0) * known + under * (1.0 - known)
        return under * (1.0 - alpha) + canvas[:, :3]

    def decode_uint8(self, sprite, present, pos, offset, ee, board, pusher, pusher_offset,
                     yaw=None):
        """Return ``(images uint8[B, S, S, 3], ee)``."""
        image = self.render(sprite, present, pos, offset, ee, board, pusher, pusher_offset,
                            yaw)
        image = torch.clamp(image * 255.0 + 0.5, 0.0, 255.0).to(torch.uint8)
        return image.permute(0, 2, 3, 1), ee


STEP_INPUTS = ('shape', 'present', 'pos', 'prev_pos', 'ee', 'action')
DECODER_INPUTS = ('sprite', 'present', 'pos', 'offset', 'ee', 'board', 'pusher',
                  'pusher_offset')
GRAPHS = {'step': (STEP_INPUTS, tuple(f'next_{k}' for k in DYNAMIC_KEYS)),
          'decoder': (DECODER_INPUTS, ('images', 'ee_out'))}
TURNING = ('pos', 'prev_pos', 'yaw', 'prev_yaw', 'ee', 'prev_ee')     # dynamics 2's step


def graphs(cfg: FreeSlotsConfig) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Return the step and decoder graphs' (inputs, outputs) of ``cfg``'s dynamics."""
    if cfg.dynamics == 1:
        return GRAPHS
    return {'step': (('shape', 'present') + TURNING + ('action',),
                     tuple(f'next_{k}' for k in TURNING)),
            'decoder': (DECODER_INPUTS + ('yaw',), ('images', 'ee_out'))}


class _Files(family_files.Family):
    """The family's model directories; older files keep their discovery rule and step."""

    def config_of(self, meta: dict) -> FreeSlotsConfig:
        """Return the stored config; one without ``discovery`` is discovery rule 1."""
        cfg, stored = super().config_of(meta), meta.get('config', {})
        if 'dynamics' not in stored:
            cfg = replace(cfg, dynamics=1, pusher_radius=cfg.pusher_m)
        return cfg if 'discovery' in stored else replace(cfg, discovery=1)


FILES = _Files(FORMAT, FORMAT_VERSION, 'free_slots', FreeSlotsConfig, FreeSlotsModel)


def metadata(cfg: FreeSlotsConfig, data_hash: str = '', train: dict | None = None) -> dict:
    """Return the metadata written beside the weights (and the ONNX graphs)."""
    return family_files.metadata(
        FORMAT, FORMAT_VERSION, cfg, state_spec(cfg),
        {'images': 'uint8 RGB', 'positions': 'metres in the board frame (+x right, +y up)'},
        (), data_hash, train,
        encoder='wm_ros.model.discover (no weights; runs in Python in every backend)')


def save(model: FreeSlotsModel, out_dir: str | Path, data_hash: str = '',
         train: dict | None = None) -> Path:
    """Write weights and metadata into ``out_dir``; returns the directory."""
    return family_files.save(model, out_dir, metadata(model.cfg, data_hash, train))


def export(model_dir: str | Path, out_dir: str | Path) -> Path:
    """Export the step and decoder graphs and ``model.json`` (the encoder has no weights)."""
    model = FILES.load(model_dir)
    s = model.cfg.image_size
    state = {k: torch.from_numpy(v) for k, v in encode_frames(
        model.cfg, np.full((2, s, s, 3), 128, np.uint8), np.zeros((2, 2), np.float32)).items()}
    state['action'] = torch.zeros(2, 2)
    signature = graphs(model.cfg)
    return family_files.export_graphs(
        {'step': family_files.Graph(model, 'step'),
         'decoder': family_files.Graph(model, 'decode_uint8')},
        {name: tuple(state[k] for k in ins) for name, (ins, _) in signature.items()}, signature,
        FILES.read_metadata(model_dir), out_dir)
