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
``wm-ros train reward``: train, calibrate, measure and save the success classifier.

1. **frames** (:mod:`wm_ros.reward.frames`): from the training episodes (read one shard
   at a time), real frames (physics labels, own and ``relabel`` other instructions), some
   redrawn by the world model and, with ``imagined``, frames of open-loop replays in it
   (imagined-state judge labels). ``val_fraction`` of the episodes are kept apart, every
   frame of them.
2. **fit** the network in three stages (:mod:`wm_ros.reward.fit`): language, vision,
   decision.
3. **calibrate** on the held-apart episodes at their natural rate of success: Platt
   scaling of the logit, then the threshold on the calibrated probability with the best
   balanced accuracy whose per-frame false-positive rate is at most ``max_fpr`` (over
   real, redrawn and imagined frames).
4. **measure** on ``heldout`` episodes (a seed never trained on;
   :mod:`wm_ros.reward.evaluate`) and time a batch of 64 frames.

Everything lands in ``reward.json`` beside ``reward.safetensors``.
"""

from __future__ import annotations

from pathlib import Path
import time

import numpy as np
import torch

from wm_ros import artefacts
from wm_ros.model.threads import set_training_threads
from wm_ros.reward.classifier import SuccessClassifier
from wm_ros.reward.config import RewardConfig
from wm_ros.reward.evaluate import binary_metrics, evaluate, evaluation_frames
from wm_ros.reward.fit import fit
from wm_ros.reward.frames import Frames, real_frames, replayed_frames

SHIPPED_WORLD_MODEL = artefacts.WORLD_MODEL


def _device(name: str) -> torch.device:
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if name.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError(f'device={name} but torch sees no CUDA device; use device=cpu or auto')
    return torch.device(name)


def _shards(dirs) -> list[Path]:
    shards = [p for d in dirs for p in sorted(Path(d).glob('shard-*.npz'))]
    if not shards:
        raise FileNotFoundError(f'no shard-*.npz under {list(map(str, dirs))}; run '
                                '`wm-ros collect` first')
    return shards


def _check_size(episodes, size: int) -> None:
    for ep in episodes[:1]:
        if ep.images.shape[1:] != (size, size, 3):
            raise ValueError(f'the reward config expects {size}x{size} frames, the data has '
                             f'{ep.images.shape[1:]}: set image_size or collect matching data')


def _runtime(cfg: RewardConfig):
    if not cfg.imagined and cfg.reconstructed_fraction == 0:
        return None
    from wm_ros.runtime import load_runtime
    path = cfg.world_model or str(SHIPPED_WORLD_MODEL)
    backend = 'onnxruntime' if (Path(path) / 'onnx').is_dir() else 'torch'
    runtime = load_runtime(path, backend, threads=max(cfg.threads, 1))
    if runtime.image_size != cfg.image_size:
        raise ValueError(f'world model {path} draws {runtime.image_size}px frames, the reward '
                         f'config reads {cfg.image_size}px')
    return runtime


def _collect(cfg: RewardConfig, dirs, runtime, rng) -> tuple[Frames, Frames | None, dict]:
    """Return training frames, every frame of the held-apart episodes, and counts."""
    from wm_ros.sim.dataset import read_shard
    train, val, n_train, n_val = [], [], 0, 0
    for shard in _shards(dirs):
        episodes = read_shard(shard)
        _check_size(episodes, cfg.image_size)
        if cfg.max_episodes:
            episodes = episodes[:max(cfg.max_episodes - n_train - n_val, 0)]
        held = rng.random(len(episodes)) < cfg.val_fraction
        mine = [e for e, h in zip(episodes, held) if not h]
        train.append(real_frames(mine, rng, cfg.frames_per_episode, cfg.near_end,
                                 cfg.hard_negatives, cfg.relabel, cfg.reconstructed_fraction,
                                 runtime, cfg.board_half, first_id=n_train))
        if cfg.imagined and mine:
            train.append(replayed_frames(runtime, mine, rng, cfg.frames_per_episode,
                                         cfg.near_end, cfg.relabel, cfg.board_half,
                                         first_id=n_train))
        others = [e for e, h in zip(episodes, held) if h]
        if others:
            val.append(evaluation_frames(others, runtime, cfg.board_half, cfg.imagined))
        n_train, n_val = n_train + len(mine), n_val + len(others)
        if cfg.max_episodes and n_train + n_val >= cfg.max_episodes:
            break
    frames = Frames.concat(train, cfg.image_size)
    if not frames.labels.any() or frames.labels.all():
        raise ValueError(f'the training frames of {list(map(str, dirs))} are all '
                         f'{"positive" if frames.labels.any() else "negative"}: a success '
                         'classifier needs both; collect more episodes')
    return frames, Frames.concat(val, cfg.image_size) if val else None, {
        'episodes': n_train, 'val_episodes': n_val}


def calibrate(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Return Platt's ``(a, b)``: ``sigmoid(a * logit + b)`` fits ``labels`` (max likelihood)."""
    if len(labels) == 0 or labels.all() or not labels.any():
        return 1.0, 0.0
    z = torch.tensor(logits, dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.float64)
    ab = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([ab], max_iter=100, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(ab[0] * z + ab[1], y)
        loss.backward()
        return loss
    opt.step(closure)
    a, b = (float(v) for v in ab.detach())
    return (a, b) if a > 0 and np.isfinite(a + b) else (1.0, 0.0)


def pick_threshold(prob: np.ndarray, labels: np.ndarray, max_fpr: float = 0.01,
                   unresolved: np.ndarray | None = None) -> float:
    """
    Return the threshold in [0.05, 0.95] for the best balanced accuracy at FPR <= max_fpr.

    The false-positive rate is per frame; ties take the higher threshold, and when none is
    within ``max_fpr`` the highest threshold is returned. An evaluator stops an episode at
    the first frame judged a success, so false positives per frame are what it cannot
    afford; within that budget, recall is what it wants. ``unresolved`` (bool per row):
    failures closer to the success threshold than the camera resolves, left out of both
    figures: a threshold raised to reject them would reject the successes beside them too.
    """
    grid = np.round(np.arange(0.05, 0.951, 0.025), 3)
    pos, neg = labels.astype(bool), ~labels.astype(bool)
    if unresolved is not None:
        neg &= ~np.asarray(unresolved, bool)
    if not pos.any() or not neg.any():
        return 0.5
    fpr = np.array([(prob[neg] >= t).mean() for t in grid])
    balanced = np.array([0.5 * ((prob[pos] >= t).mean() + (prob[neg] < t).mean())
                         for t in grid])
    ok = np.flatnonzero(fpr <= max_fpr)
    if not len(ok):
        return float(grid[-1])
    best = ok[balanced[ok] >= balanced[ok].max() - 1e-12]
    return float(grid[best.max()])


def speed_ms(model: SuccessClassifier, frames: Frames, batch: int = 64, repeat: int = 20
             ) -> float:
    """Return the median milliseconds to score ``batch`` frames (instructions cached)."""
    images, texts = frames.rows(np.arange(batch) % max(len(frames), 1))
    model.score(images, texts)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        model.score(images, texts)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def train_reward(data_dirs, out: str | Path, config: RewardConfig | None = None,
                 heldout=None, progress: bool = True) -> dict:
    """Train on ``data_dirs``, measure on ``heldout`` dirs, save into ``out``; return stats."""
    cfg = config or RewardConfig()
    start = time.perf_counter()
    set_training_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = _device(cfg.device)
    runtime = _runtime(cfg)
    frames, val, counts = _collect(cfg, data_dirs, runtime, np.random.default_rng(cfg.seed))
    data_s = time.perf_counter() - start
    net, losses = fit(cfg, frames, device, progress)
    train_s = time.perf_counter() - start - data_s

    model = SuccessClassifier(cfg, net)
    calibration, threshold, val_metrics = (1.0, 0.0), 0.5, {}
    if val is not None and len(val):
        images, texts = val.rows(np.arange(len(val)))
        calibration = calibrate(model.logits(images, texts), val.labels)
        model.calibration = calibration
        prob = model.score(images, texts)
        pixel = 2 * cfg.board_half / cfg.image_size
        margin = val.margins(cfg.board_half)          # NaN (not one distance): always counts
        unresolved = ~val.labels & (margin > -cfg.unresolved_px * pixel)
        threshold = pick_threshold(prob, val.labels, cfg.max_fpr, unresolved)
        val_metrics = binary_metrics(prob >= threshold, val.labels)
    model.threshold = threshold
    metrics = {}
    if heldout:
        from wm_ros.sim.dataset import read_shard
        test_eps = [ep for shard in _shards(heldout) for ep in read_shard(shard)]
        _check_size(test_eps, cfg.image_size)
        metrics = evaluate(model, evaluation_frames(test_eps, runtime, cfg.board_half,
                                                    cfg.imagined))
        metrics.update(data=[str(d) for d in heldout], episodes=len(test_eps))
    ms = speed_ms(model, frames)
    stats = {'seconds': round(time.perf_counter() - start, 1), 'data_seconds': round(data_s, 1),
             'train_seconds': round(train_s, 1), 'steps': cfg.steps,
             'losses': {k: round(v, 4) for k, v in losses.items()}, 'device': str(device),
             'threads': torch.get_num_threads(), 'score_ms_per_64_frames': round(ms, 2)}
    data = {'dirs': [str(d) for d in data_dirs], 'data_hash': _hash(data_dirs), **counts,
            'frames': frames.summary(),
            'world_model': (cfg.world_model or 'wm_ros/models/world_model') if runtime else ''}
    model.save(out, data=data, train=stats, validation=val_metrics, metrics=metrics)
    return {'out': str(out), 'threshold': threshold, 'calibration': calibration,
            'validation': val_metrics, 'metrics': metrics, 'train': stats, 'data': data}


def _hash(dirs) -> str:
    from wm_ros.model.checkpoint import data_hash
    return data_hash([p.with_suffix('.json') for p in _shards(dirs)])
