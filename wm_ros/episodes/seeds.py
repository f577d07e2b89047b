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
The one seed rule: which tabletop seed episode ``k`` of a task family starts from.

``episode_seed(seed, family, k)`` is ``SeedSequence([seed, sum of the family name's
character codes, k])``: it needs no list of families, so a second robot's task families
get seeds the same way, and it is the rule ``wm-ros evaluate`` has always used (its
published acceptance figures at seed 10000 were drawn with it).

The closed-loop trust check (:mod:`wm_ros.evaluate.closed_loop`) and the zoo's
real-success measurement (:mod:`wm_ros.evaluate.zoo`) drew seeds from a family's *index*
in ``wm_ros.sim.tasks.FAMILIES`` (``SeedSequence([seed, FAMILIES.index(family), k])``)
before they moved onto this rule: the same ``--seed`` now draws other episodes than it
did then, so their figures moved within their confidence intervals, not their meaning.

``policy_seed(seed, family, k, policy)`` seeds a policy's own random stream in that
episode (the degraded experts' noise), the same on the tabletop and in imagination.
"""

from __future__ import annotations

import zlib

import numpy as np


def family_key(family: str) -> int:
    """Return the integer a task family's name contributes to a seed (its character codes)."""
    return sum(map(ord, family))


def episode_seed(seed: int, family: str, k: int) -> int:
    """Return the tabletop seed of episode ``k`` of ``family`` (fixed for ``seed``)."""
    return int(np.random.SeedSequence([seed, family_key(family), k]).generate_state(1)[0])


def policy_seed(seed: int, family: str, k: int, policy: str) -> int:
    """Return the seed of ``policy``'s random stream in episode ``k`` of ``family``."""
    key = [seed, family_key(family), k, zlib.crc32(policy.encode())]
    return int(np.random.SeedSequence(key).generate_state(1)[0])
