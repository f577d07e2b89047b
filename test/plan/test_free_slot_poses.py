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
The free-slot runtimes' ``ObjectPoses`` on PushT frames (a tiny model trained here).

The T turned 0.5 rad between two frames: ``turn`` relates the two encodings by that
much (yaw counts from each encoding's sprite), the T's slot is where the T is, and
``pusher`` is the encoded pusher. The family declares no ``ObjectReadout`` (no names).
"""

import numpy as np
import pytest

from wm_ros.episodes.collect import collect
from wm_ros.model import free_slots
from wm_ros.model.free_slots_train import train
from wm_ros.plan.goal import mode_of
from wm_ros.runtime import load_runtime
from wm_ros.runtime.base import ObjectPoses, ObjectReadout
from wm_ros.sim.pusht import PushTConfig, PushTEnv


@pytest.fixture(scope='module')
def runtime(tmp_path_factory):
    """Return a tiny free-slot model trained on 4 short PushT episodes (torch)."""
    root = tmp_path_factory.mktemp('free_slots_pusht')
    collect(root / 'data', 4, seed=3, config=PushTConfig(), shard_size=4, max_steps=20,
            progress=False, robot='pusht')
    train([root / 'data'], root / 'model', free_slots.load_config('tiny', steps=10),
          progress=False)
    return load_runtime(root / 'model', 'torch')


def test_the_turn_between_two_encodings_is_the_ts_turn(runtime):
    assert isinstance(runtime, ObjectPoses) and not isinstance(runtime, ObjectReadout)
    assert mode_of(runtime) == 'poses'
    env = PushTEnv(PushTConfig())
    try:
        obs, _ = env.reset(seed=5)
        start = env.state()
        a = runtime.encode(obs['image'][None], obs['ee_xy'][None])
        turned = start + [0.2 - start[0], -0.2 - start[1], 0.03, 0.0, 0.5]
        obs2, _ = env.reset(seed=5, options={'state': turned})
        b = runtime.encode(obs2['image'][None], obs2['ee_xy'][None])
    finally:
        env.close()

    def t_slot(state, xy):
        objects = runtime.objects(state)
        d = np.linalg.norm(objects.pos[0] - xy, axis=-1)
        return int(np.argmin(np.where(objects.present[0], d, np.inf))), float(d.min())
    m, miss_a = t_slot(a, start[2:4])
    n, miss_b = t_slot(b, turned[2:4])
    assert miss_a < 0.005 and miss_b < 0.005                  # the T's slot is on the T
    assert np.degrees(runtime.turn(a, b)[m, n]) == pytest.approx(28.65, abs=3.0)
    assert np.degrees(runtime.turn(b, a)[n, m]) == pytest.approx(-28.65, abs=3.0)
    np.testing.assert_allclose(runtime.pusher(b), obs2['ee_xy'][None], atol=1e-6)
