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
``wm-ros train world-model``: train the encoder, decoder and dynamics in three stages.

1. **encoder**: per-kind heatmaps supervised with the recorded block states (presence
   BCE, position L1 in cm, symmetry-aware yaw).
2. **decoder**: background and sprites, rendering the recorded states, L1 + L2 on pixels;
   in its second half also ``cycle_weight`` x the encoder's read loss on the drawn frame
   (from the first step it won the race against the pixel loss: every sprite became a
   blob the encoder could classify, SSIM 0.86; after the sprites have their shapes it
   sharpens what tells kinds apart).
3. **dynamics**: open-loop rollouts of ``unroll`` steps from a recorded state with the
   recorded actions (every step's error counts, so compounding error is trained away);
   ``contact_fraction`` of the windows contain block motion; blocks that move in a window
   weigh 5x; each ensemble head sees its own bootstrap weights.

Deterministic for a seed on one machine and device (``device``: ``cpu``, ``cuda`` or
``auto``; on a GPU the same recipe gives a model of the same quality, not the same weights).
A checkpoint (weights, optimizer, stage, step) is written every ``checkpoint_every`` steps;
``resume=True`` continues from it (on any device).
"""

from __future__ import annotations

import json
from pathlib import Path
import time

import numpy as np
from safetensors.torch import load_file, save_file
import torch
from tqdm import tqdm

from wm_ros.model import checkpoint
from wm_ros.model.config import WorldModelConfig
from wm_ros.model.data import load_episodes, previous, sample_windows, Tensors, to_tensors
from wm_ros.model.network import WorldModel
from wm_ros.model.threads import set_training_threads

STAGES = ('encoder', 'decoder', 'dynamics')


def _focal(obj: torch.Tensor, grid: torch.Tensor, cell: float, present: torch.Tensor,
           pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Return CenterNet's penalty-reduced focal loss of objectness logits ``obj`` [B,N].

    Targets are Gaussians (sigma = one cell) at each present block's centre, 1 at the
    nearest cell; also returns that nearest cell per block [B, M].
    """
    d2 = ((grid[None, None] - pos.unsqueeze(2)) ** 2).sum(-1)             # [B, M, N]
    nearest = d2.argmin(-1)                                                 # [B, M]
    g = torch.exp(-d2 / (2 * cell ** 2)) * present.unsqueeze(-1)
    target = g.amax(1)                                                      # [B, N]
    peak = torch.zeros_like(target).scatter_reduce(1, nearest, present, reduce='amax') > 0
    target = torch.where(peak, torch.ones_like(target), target)
    log_p = torch.nn.functional.logsigmoid(obj)
    log_q = torch.nn.functional.logsigmoid(-obj)
    p = torch.sigmoid(obj)
    loss = torch.where(peak, (1 - p) ** 2 * log_p, (1 - target) ** 4 * p ** 2 * log_q)
    return -loss.sum() / peak.sum().clamp(min=1), nearest


def _visual_centres(world, kind: torch.Tensor, pos: torch.Tensor, yaw: torch.Tensor
                    ) -> torch.Tensor:
    """Return where each block's pixels are centred (the moon's body origin is off it)."""
    centroids = torch.tensor(world.shape_centroids, dtype=torch.float32, device=pos.device)
    c = centroids[kind % len(centroids)]                                    # [B, M, 2]
    cos, sin = torch.cos(yaw), torch.sin(yaw)
    return pos + torch.stack([cos * c[..., 0] - sin * c[..., 1],
                              sin * c[..., 0] + cos * c[..., 1]], -1)


def _read_loss(enc, out: torch.Tensor, kind, present, true_pos, true_yaw) -> torch.Tensor:
    """
    Return how well encoder outputs ``out`` [B, C, N] read the true blocks.

    Objectness focal loss at each block's visual centre; kind cross-entropy, centre (cm,
    the body origin) and symmetry-aware yaw read at that cell.
    """
    world = enc.cfg.world
    focal, cell = _focal(out[:, 0], enc.grid_xy, enc.cell, present,
                         _visual_centres(world, kind, true_pos, true_yaw))
    at = torch.gather(out, 2, cell.unsqueeze(1).expand(-1, out.shape[1], -1))  # [B, C, M]
    ce = torch.nn.functional.cross_entropy(enc.kind_logits(at), kind, reduction='none')
    pos, yaw = enc.read(out, cell, kind)
    pos_err = (pos - true_pos).abs().sum(-1) * 100.0                        # cm
    sym = enc.symmetry[kind]
    yaw_err = (1 - torch.cos(sym * (yaw - true_yaw))) * (sym > 0)    # round: no yaw
    n = present.sum().clamp(min=1)
    return focal + ((ce + pos_err + 0.5 * yaw_err) * present).sum() / n


def _encoder_loss(model: WorldModel, data: Tensors, f: torch.Tensor) -> torch.Tensor:
    """Return the encoder loss on recorded frames (see :func:`_read_loss`)."""
    out = model.encoder.maps(data.images[f])
    return _read_loss(model.encoder, out, data.kind[f], data.present[f], data.pos[f],
                      data.yaw[f])


def _decoder_loss(model: WorldModel, data: Tensors, f: torch.Tensor, cycle: bool = True
                  ) -> torch.Tensor:
    image = model.decoder.render(data.kind[f], data.present[f], data.pos[f], data.yaw[f],
                                 data.ee[f])
    real = data.images[f].permute(0, 3, 1, 2).to(torch.float32) / 255.0
    diff = image - real
    loss = diff.abs().mean() + 10.0 * diff.pow(2).mean()
    if cycle and model.cfg.cycle_weight > 0:
        # the trained encoder must read the drawn frame as the true state: every kind
        # recognisable at every angle (the encoder's weights are not updated here)
        out = model.encoder.maps_float(image)
        loss = loss + model.cfg.cycle_weight * _read_loss(
            model.encoder, out, data.kind[f], data.present[f], data.pos[f], data.yaw[f])
    return loss


def _dynamics_loss(model: WorldModel, data: Tensors, f: torch.Tensor,
                   weights: torch.Tensor) -> torch.Tensor:
    """Open-loop rollout per ensemble head; ``weights`` [E, B] are bootstrap weights."""
    dyn, e = model.dynamics, model.cfg.ensemble
    p = previous(data, f)

    def per_head(x):
        return x.unsqueeze(0).expand(e, *x.shape)
    kind, present = per_head(data.kind[f]), per_head(data.present[f])
    pos, prev_pos = per_head(data.pos[f]), per_head(data.pos[p])
    yaw, ee, prev_ee = per_head(data.yaw[f]), per_head(data.ee[f]), per_head(data.ee[p])
    sym = dyn.symmetry[data.kind[f]]
    moving = (data.pos[f + model.cfg.unroll] - data.pos[f]).norm(dim=-1) > 0.005
    block_w = data.present[f] * (1.0 + 4.0 * moving)                 # [B, M]
    total = 0.0
    for k in range(model.cfg.unroll):
        action = per_head(data.actions[f + k])
        dpos, dyaw, ee_next = dyn.heads(kind, present, pos, yaw, prev_pos, ee, prev_ee, action)
        prev_pos, prev_ee = pos, ee
        yaw, ee = yaw + dyaw, ee_next
        pos = dyn.project(pos + dpos, present, ee, kind, yaw)
        g = f + k + 1
        pos_err = (pos - data.pos[g]).abs().sum(-1) * 100.0                 # cm [E, B, M]
        yaw_err = (1 - torch.cos(sym * (yaw - data.yaw[g]))) * (sym > 0)
        ee_err = (ee - data.ee[g]).abs().sum(-1) * 100.0                    # [E, B]
        per_sample = ((pos_err + 0.2 * yaw_err) * block_w).sum(-1) / block_w.sum(-1) + ee_err
        total = total + (per_sample * weights).sum() / weights.sum()
    return total / model.cfg.unroll


def _save_state(path: Path, model, optimizer, stage: str, step: int, meta: dict):
    tensors = {f'model.{k}': v.detach().cpu().contiguous()
               for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for i, st in opt['state'].items():
        for name, value in st.items():
            tensors[f'opt.{i}.{name}'] = torch.as_tensor(value).detach().cpu().contiguous()
    save_file(tensors, str(path / 'checkpoint.safetensors'))
    (path / 'checkpoint.json').write_text(json.dumps({**meta, 'stage': stage, 'step': step}))


def _device(name: str) -> torch.device:
    """Return the training device: ``auto`` is CUDA where there is one, else the CPU."""
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if name.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError(f'device={name} but torch sees no CUDA device; use device=cpu '
                         'or device=auto')
    return torch.device(name)


def _load_state(path: Path, model, meta: dict):
    info_path = path / 'checkpoint.json'
    if not info_path.is_file():
        return None
    info = json.loads(info_path.read_text())
    same_config = info.get('config') == json.loads(json.dumps(meta['config']))
    if not same_config or info.get('data_hash') != meta['data_hash']:
        raise ValueError(f'checkpoint in {path} was made with another config or data; '
                         'delete it or train into another directory')
    tensors = load_file(str(path / 'checkpoint.safetensors'), device=str(
        next(model.parameters()).device))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith('model.')})
    opt_state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith('opt.'):
            _, i, name = key.split('.', 2)
            opt_state.setdefault(int(i), {})[name] = value
    return info, opt_state


def _window(losses: list[float]) -> int:
    """Return how many steps the first/final loss average: a fifth of the run, <= 50."""
    return max(1, min(50, len(losses) // 5))


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def _cosine_lr(optimizer: torch.optim.Optimizer, lr: float, step: int, total: int) -> None:
    """Set the learning rate of ``step`` of ``total``: cosine decay from ``lr`` to a tenth."""
    for group in optimizer.param_groups:
        group['lr'] = lr * (0.1 + 0.45 * (1 + np.cos(np.pi * step / total)))


def _loss_summary(history: dict[str, list[float]]) -> dict:
    """Return each stage's mean loss over its first and its final steps (:func:`_window`)."""
    return {'first_loss': {k: _mean(v[:_window(v)]) for k, v in history.items() if v},
            'final_loss': {k: _mean(v[-_window(v):]) for k, v in history.items() if v}}


def _resume_point(out: Path, model: WorldModel, meta: dict) -> tuple:
    """Return ``(stage index, step, optimiser state, resumed)`` of a checkpoint in ``out``."""
    loaded = _load_state(out, model, meta)
    if not loaded:
        return 0, 0, None, None
    info, opt_state = loaded
    return (STAGES.index(info['stage']), info['step'], opt_state,
            {'stage': info['stage'], 'step': info['step']})


def _optimizer(params, lr: float, opt_state: dict | None) -> torch.optim.Adam:
    """Return Adam over ``params``, with the per-parameter state of a checkpoint if given."""
    optimizer = torch.optim.Adam(params, lr=lr)
    if opt_state:
        state = optimizer.state_dict()
        state['state'] = opt_state
        optimizer.load_state_dict(state)
    return optimizer


def _batch_loss(model: WorldModel, data, cfg: WorldModelConfig, stage: str, step: int,
                total: int, rng: np.random.Generator, device) -> torch.Tensor:
    """Return the loss of one random batch of ``stage`` at ``step`` of ``total``."""
    if stage == 'dynamics':
        f = sample_windows(data, cfg.batch_size, rng, cfg.contact_fraction).to(device)
        w = torch.from_numpy(rng.poisson(1.0, (cfg.ensemble, len(f))).astype(np.float32))
        return _dynamics_loss(model, data, f, w.to(device))
    f = torch.from_numpy(rng.integers(len(data.images), size=cfg.batch_size)).to(device)
    if stage == 'encoder':
        return _encoder_loss(model, data, f)
    # sprites first learn to look right, then to be re-read right
    return _decoder_loss(model, data, f, cycle=2 * step >= total)


def train(sources: list[str | Path], out_dir: str | Path, cfg: WorldModelConfig,
          resume: bool = False, checkpoint_every: int = 500, progress: bool = True,
          init_from: str | Path | None = None) -> dict:
    """
    Train on ``sources`` and write ``model.safetensors`` + ``model.json`` to ``out_dir``.

    ``init_from`` starts from another model's weights where names and shapes match (e.g.
    retrain only the encoder with ``decoder_steps=0 dynamics_steps=0``).
    """
    out = Path(out_dir)
    torch.manual_seed(cfg.seed)
    set_training_threads(cfg.threads)
    device = _device(cfg.device)
    episodes, files = load_episodes(sources)
    data = to_tensors(episodes, cfg, device)
    out.mkdir(parents=True, exist_ok=True)        # only once the data has read
    meta = {'config': cfg.to_dict(), 'data_hash': checkpoint.data_hash(files)}
    model = WorldModel(cfg)
    initial = None
    if init_from:
        initial = checkpoint.load_matching(model, init_from)
        meta['init_from'] = initial
    model.to(device)
    start_stage, start_step, opt_state, resumed = (_resume_point(out, model, meta) if resume
                                                   else (0, 0, None, None))
    steps = {'encoder': cfg.encoder_steps, 'decoder': cfg.decoder_steps,
             'dynamics': cfg.dynamics_steps}
    params = {'encoder': model.encoder.parameters, 'decoder': model.decoder.parameters,
              'dynamics': model.dynamics.parameters}
    history: dict[str, list[float]] = {}
    t0 = time.time()
    for si in range(start_stage, len(STAGES)):
        stage = STAGES[si]
        optimizer = _optimizer(params[stage](), cfg.lr, opt_state if si == start_stage else None)
        first = start_step if si == start_stage else 0
        rng = np.random.default_rng(cfg.seed * 1000 + si * 100 + first)
        losses = history.setdefault(stage, [])
        bar = tqdm(range(first, steps[stage]), desc=f'train {stage}', disable=not progress)
        for step in bar:
            _cosine_lr(optimizer, cfg.lr, step, steps[stage])
            loss = _batch_loss(model, data, cfg, stage, step, steps[stage], rng, device)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params[stage](), 10.0)
            optimizer.step()
            losses.append(float(loss.detach()))
            if step % 20 == 0:
                bar.set_postfix(loss=f'{np.mean(losses[-20:]):.4f}')
            if checkpoint_every and (step + 1) % checkpoint_every == 0:
                _save_state(out, model, optimizer, stage, step + 1, meta)
    stats = {'seconds': round(time.time() - t0, 1), 'resumed_from': resumed,
             'init_from': initial,
             'episodes': len(episodes), 'frames': len(data.images), 'windows': len(data.windows),
             'device': str(device), **_loss_summary(history)}
    checkpoint.save(model.cpu(), out, meta['data_hash'], stats)
    for name in ('checkpoint.safetensors', 'checkpoint.json'):
        (out / name).unlink(missing_ok=True)
    return stats
