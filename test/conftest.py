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
Test set-up: headless MuJoCo, DDS discovery pinned to this host, a free domain per run.

Every test process takes a DDS domain no other run on this host is using and holds its
lock while it runs (:mod:`wm_ros.ros.domains`), whatever ``ROS_DOMAIN_ID`` it inherited
(``make test`` and ``.ci/run`` pick one at random, which two runs can share), so two test
runs on one host never talk to each other.
"""

import os

import pytest

from wm_ros.ros.domains import hold_free_domain

os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ['ROS_DOMAIN_ID'] = str(hold_free_domain())


def pytest_report_header(config):
    """Say which DDS domain this run holds."""
    return f'ROS_DOMAIN_ID={os.environ["ROS_DOMAIN_ID"]} (free on this host, held by this run)'


@pytest.fixture
def rng():
    """Return a seeded numpy generator."""
    import numpy as np
    return np.random.default_rng(0)
