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

"""The one seed rule: name based, the evaluator's, and seeds for the policies' own streams."""

import numpy as np

from wm_ros.episodes.seeds import episode_seed, policy_seed


def test_the_seed_rule_is_name_based_and_the_evaluators():
    key = [5000, sum(map(ord, 'separate')), 3]
    assert episode_seed(5000, 'separate', 3) == \
        int(np.random.SeedSequence(key).generate_state(1)[0])
    assert episode_seed(5000, 'block_to_region', 0) == 3353732335     # the golden suite's
    seeds = {episode_seed(s, f, k) for s in (1, 2) for f in ('separate', 'pusht')
             for k in range(3)}
    assert len(seeds) == 12                    # a family of another robot needs no index
    assert policy_seed(1, 'separate', 0, 'noisy') != policy_seed(1, 'separate', 0, 'laggy')
