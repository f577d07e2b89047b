"""Test set-up: headless MuJoCo and DDS discovery pinned to this host, one domain per run."""

import os
import random

import pytest

os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
if 'ROS_DOMAIN_ID' not in os.environ:
    os.environ['ROS_DOMAIN_ID'] = str(random.Random(os.getpid()).randint(1, 100))


@pytest.fixture
def rng():
    """Return a seeded numpy generator."""
    import numpy as np
    return np.random.default_rng(0)
