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

"""``wm-ros soak`` for 2 minutes (what CI runs; a team runs ``--minutes 10`` or more)."""

import math

import pytest

from wm_ros.ros import soak

pytestmark = pytest.mark.ros


def test_two_minute_soak_keeps_rate_memory_and_latency(tmp_path):
    report = soak.soak(2.0, tmp_path / 'logs')
    print(soak.table(report))
    assert not report['dead'], report
    assert len(report['minutes']) == 2
    for minute in report['minutes']:
        assert minute['real_hz'] > 9.0 and minute['imagined_hz'] > 9.0, minute
        assert minute['dropped'] <= 0.01 * 60 * minute['real_hz'], minute
        assert math.isfinite(minute['latency_p99_ms']), minute
        assert minute['resets'] > 100 and minute['resets_failed'] == 0, minute
    assert max(report['rss_growth_pct'].values()) < 10.0, report['rss_growth_pct']
    assert '| 2 |' in soak.table(report) and soak.write(report, tmp_path).is_file()
