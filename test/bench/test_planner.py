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

"""``wm-ros bench planner`` through the episode driver: what it times is the planner's own."""

import time

import numpy as np

from wm_ros import artefacts
from wm_ros.bench import planner as bench
from wm_ros.plan import planner as plan

MODEL = str(artefacts.WORLD_MODEL)


def test_per_action_times_are_the_planner_s_own(monkeypatch):
    """One time per executed action, each the planner's act alone (no tabletop step)."""
    direct = []
    act = plan.HierarchicalPlanner.act

    def timed(self, image, ee):
        t0 = time.perf_counter()
        out = act(self, image, ee)
        direct.append(time.perf_counter() - t0)
        return out
    monkeypatch.setattr(plan.HierarchicalPlanner, 'act', timed)
    row = bench.measure(MODEL, 'onnxruntime', 'tiny', episodes=2, actions=6)
    assert row['actions'] == len(direct) and 2 <= row['actions'] <= 12
    total, own = row['act_ms_mean'] * row['actions'], 1000 * sum(direct)
    assert own <= total <= own + 1.0 * row['actions']    # under 1 ms a step of driver overhead
    assert row['tabletop_ms_median'] > 0 and row['plans'] >= 1


def test_saved_frames_stand_in_for_the_tabletop(tmp_path):
    """--save-frames then --frames: the planner acts on the first frames; no tabletop column."""
    path = bench.save_frames(tmp_path / 'frames.npz', 2)
    starts = bench.bench_starts(2)
    saved = bench.saved_starts(path, 5)
    assert len(saved) == 2
    for a, b in zip(starts, saved):
        np.testing.assert_array_equal(a.image, b.image)
        assert b.task.instruction == a.task.instruction
    env = bench.Frozen()
    first, _ = env.reset(saved)
    seen, done, _, _ = env.step(np.ones((1, 2), np.float32), np.array([1]))
    np.testing.assert_array_equal(seen.image[0], first.image[1])   # nothing moved
    assert seen.t == 1 and not done.any()
    row = bench.measure(MODEL, 'onnxruntime', 'tiny', episodes=2, actions=4, frames=str(path))
    assert row['tabletop_ms_median'] is None and 2 <= row['actions'] <= 8
    assert row['plans'] >= 1 and row['act_ms_median'] > 0
