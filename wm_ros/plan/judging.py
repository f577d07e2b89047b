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
The planner's reward model (``judge``, :class:`~wm_ros.reward.classifier.SuccessClassifier`).

The last sub-goal of each task is also scored by it: the ``judge_candidates`` cheapest
sequences of the solver's last iteration are rolled out, their last imagined frames are
judged against the task's instruction, and the sequence with the lowest ``cost +
judge_weight * (1 - P(success))`` runs (the planner's ``judged``: its P; ``rejudged``
counts plans where that was not the cheapest). When every task holds, ``judged_done`` is
the reward model's P(success) of the camera frame for the least likely task. Earlier
sub-goals ("push the blue star to place 2 of 4 in the line") are not phrasings it was
trained on, and are not judged.
"""

from __future__ import annotations

import numpy as np

from wm_ros.runtime.base import WorldModelRuntime


def rerank(runtime: WorldModelRuntime, judge, state, best: np.ndarray, info: dict, text: str,
           candidates: int, weight: float) -> tuple[np.ndarray, float, bool]:
    """
    Return the sequence to run, the reward model's P(success) of it, and whether it moved.

    ``best`` is the solver's cheapest sequence and ``info`` its ``ranked`` candidates and
    their ``ranked_cost``; the ``candidates`` cheapest (``best`` once) are rolled out from
    ``state`` and the one with the lowest ``cost + weight * (1 - P(success | text))`` wins.
    """
    ranked, ranked_cost = info['ranked'][:candidates], info['ranked_cost'][:candidates]
    other = [i for i in range(len(ranked)) if not np.array_equal(ranked[i], best)]
    cands = np.concatenate([best[None], ranked[other]]).astype(np.float32)   # best once
    costs = np.concatenate([[info['cost']], ranked_cost[other]])
    end = runtime.step(state.select(np.zeros(len(cands), int)), cands)
    images, _ = runtime.decode(end)
    p = judge.score(images, [text] * len(cands))
    k = int(np.argmin(costs + weight * (1.0 - p)))
    return cands[k], float(p[k]), k > 0


def judge_frame(judge, image: np.ndarray, instructions: list[str]) -> float:
    """Return the reward model's P(success) of ``image`` for the least likely instruction."""
    p = judge.score(np.repeat(np.asarray(image)[None], len(instructions), 0), instructions)
    return float(p.min())
