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
How well a reward model judges success, per frame and per episode, on real and imagined frames.

:func:`evaluation_frames` builds, from held-out episodes, *every* frame of each episode
with its own instruction: ``real`` (physics labels), ``reconstructed`` (encode -> decode
by the world model, physics labels) and ``replayed`` (open-loop replay of the recorded
actions from the first frame, labels from the imagined-state judge). :func:`evaluate`
reports per source:

* ``natural``: every frame at its natural rate of success (~5 % here): accuracy, F1,
  precision, recall, ``fpr`` (false positives per negative frame);
* ``balanced``: every positive frame and as many random negatives: accuracy, F1;
* ``episodes``: ``false_stop`` (the share of episodes where the model says success
  before the label first does, or where the label never does: an evaluator that stops at
  the first success would end these wrongly) and ``agreement`` (success at any frame,
  model vs label).
"""

from __future__ import annotations

import numpy as np

from wm_ros.reward.frames import Frames, real_frames, replayed_frames, SOURCES


def binary_metrics(pred: np.ndarray, labels: np.ndarray) -> dict:
    """Return accuracy, F1, precision, recall, fpr and counts of bool predictions."""
    pred, labels = np.asarray(pred, bool), np.asarray(labels, bool)
    tp, fp = int((pred & labels).sum()), int((pred & ~labels).sum())
    fn, tn = int((~pred & labels).sum()), int((~pred & ~labels).sum())
    n = len(labels)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {'accuracy': (tp + tn) / n if n else float('nan'), 'f1': f1,
            'precision': precision, 'recall': recall,
            'fpr': fp / (fp + tn) if fp + tn else 0.0, 'frames': n, 'positives': tp + fn}


def balanced_index(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return every positive index and as many random negative ones."""
    pos, neg = np.flatnonzero(labels), np.flatnonzero(~np.asarray(labels, bool))
    neg = rng.choice(neg, min(len(neg), len(pos)), replace=False) if len(pos) else neg[:0]
    return np.sort(np.concatenate([pos, neg]))


def episode_metrics(pred: np.ndarray, labels: np.ndarray, episode: np.ndarray) -> dict:
    """Return ``false_stop`` and ``agreement`` over episodes of frames in time order."""
    stops, agree, n = 0, 0, 0
    for e in np.unique(episode):
        p, y = pred[episode == e], labels[episode == e]
        first_p = int(np.argmax(p)) if p.any() else None
        first_y = int(np.argmax(y)) if y.any() else None
        stops += first_p is not None and (first_y is None or first_p < first_y)
        agree += bool(p.any()) == bool(y.any())
        n += 1
    return {'false_stop': stops / n if n else 0.0, 'agreement': agree / n if n else 0.0,
            'episodes': n}


def evaluation_frames(episodes, runtime=None, board_half: float = 0.25,
                      replay: bool = True) -> Frames:
    """Return every frame of ``episodes`` (own instruction) from each source available."""
    rng = np.random.default_rng(0)
    parts = [real_frames(episodes, rng, None, reconstructed=1.0 if runtime else 0.0,
                         runtime=runtime, board_half=board_half)]
    if runtime is not None and replay:
        parts.append(replayed_frames(runtime, episodes, rng, None, board_half=board_half))
    return Frames.concat(parts, episodes[0].images.shape[1] if episodes else 64)


def evaluate(model, frames: Frames, seed: int = 0) -> dict:
    """Return the metrics of the module docstring for ``model`` (a RewardModel) per source."""
    threshold = getattr(model, 'threshold', 0.5)
    pred = model.score(*frames.rows(np.arange(len(frames)))) >= threshold
    rng = np.random.default_rng(seed)
    out = {'threshold': threshold}
    for k, name in enumerate(SOURCES):
        m = frames.source == k
        if not m.any():
            continue
        p, y = pred[m], frames.labels[m]
        b = balanced_index(y, rng)
        out[name] = {'natural': binary_metrics(p, y), 'balanced': binary_metrics(p[b], y[b]),
                     'episodes': episode_metrics(p, y, frames.episode[m])}
    return out
