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

"""``wm-ros faults`` on the real multi-process graph: the fast subset CI runs, a dead camera."""

import json

import pytest

from wm_ros.ros import faults

pytestmark = pytest.mark.ros


def test_fast_fault_cases_pass_and_are_written(tmp_path):
    rows = faults.run(faults.FAST, 1, tmp_path)
    assert all(r.passed for r in rows), faults.table(rows)
    names = {r.fault for r in rows}
    assert 'graph stopped while driving' in names and 'corrupt model file' in names
    assert {'twist nan m/s to sim_robot', 'twist 1e+308 m/s to sim_robot'} <= names
    saved = json.loads((tmp_path / 'faults.json').read_text())
    assert [r['fault'] for r in saved] == [r.fault for r in rows]
    assert '| pass |' in faults.table(rows)


def test_dead_camera_under_wm_ros_up_ends_with_a_zero_twist(tmp_path):
    """The issue-9 failure: the last command must be zero, and soon (margin for CI load)."""
    row = faults.dead_camera(True, tmp_path)
    print(row.observed)
    assert row.numbers, row.observed                       # the policy did drive
    assert row.numbers['last_speed'] == 0.0, row.observed
    assert row.numbers['zero_latency_s'] < 0.5, row.observed


def test_unknown_fault_case_is_named():
    with pytest.raises(ValueError, match="unknown fault case.*'dead_cat'.*choose from"):
        faults.run(['dead_cat'])
