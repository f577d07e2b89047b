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

"""ament_copyright on the package (the ROS 2 standard lint test)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = [str(ROOT / p) for p in ('wm_ros', 'test', 'launch', 'setup.py')]


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright():
    main = pytest.importorskip(
        'ament_copyright.main',
        reason='ament_copyright is not on PyPI; runs on hosts with a ROS 2 install').main
    rc = main(argv=PATHS + ['--exclude', str(ROOT / 'test' / '__init__.py')])
    assert rc == 0, 'Found errors'
