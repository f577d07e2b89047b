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

"""Training threads: ``threads: 0`` takes the free cores, never more than torch would."""

import os

import pytest
import torch

from wm_ros.model import free_slots, free_slots_train, latent, latent_train, threads, train
from wm_ros.model.config import load_config
from wm_ros.policy.bc_train import torch_threads


@pytest.mark.parametrize('default, cores, load, busy, expected', [
    (16, 16, 0.0, 0.0, 16),     # an idle machine: torch's own default
    (2, 2, 1.1, 0.0, 1),        # 2 cores beside one long-running busy process
    (2, 2, 0.1, 1.0, 1),        # ... one that started seconds ago (load average lags)
    (16, 16, 3.4, 1.0, 13),     # the larger estimate of what runs elsewhere counts
    (4, 16, 0.0, 0.0, 4),       # OMP_NUM_THREADS=4: never more than torch's default
    (2, 2, 6.0, 2.0, 1),        # an overloaded host: still one thread
])
def test_auto_threads_leaves_the_busy_cores_alone(default, cores, load, busy, expected):
    assert threads.auto_threads(default, cores, load, busy) == expected


def test_cgroup_quota_caps_the_cores(tmp_path, monkeypatch):
    cpu_max = tmp_path / 'cpu.max'
    for text, quota in (('200000 100000', 2), ('150000 100000', 2), ('max 100000', None)):
        cpu_max.write_text(text + '\n')
        assert threads.cgroup_quota(cpu_max) == quota
    assert threads.cgroup_quota(tmp_path / 'absent') is None
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(64)))
    monkeypatch.setattr(threads, 'cgroup_quota', lambda: 2)
    assert threads.available_cores() == 2           # a 2-CPU container on a 64-core host


def test_busy_cores_reads_the_cores_of_this_process(tmp_path, monkeypatch):
    """Two /proc/stat readings: cpu1 busy throughout, cpu0 idle, cpu2 not ours."""
    stats = iter(['cpu  0 0 0 0 0 0 0 0\ncpu0 10 0 0 90 0 0 0 0\ncpu1 50 0 0 50 0 0 0 0\n'
                  'cpu2 0 0 0 100 0 0 0 0\n',
                  'cpu  0 0 0 0 0 0 0 0\ncpu0 10 0 0 100 0 0 0 0\ncpu1 60 0 0 50 0 0 0 0\n'
                  'cpu2 10 0 0 100 0 0 0 0\n'])
    stat = tmp_path / 'stat'

    def times(cpus, _=None):
        stat.write_text(next(stats))
        return original(cpus, stat)
    original = threads._cpu_times
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0, 1})
    monkeypatch.setattr(threads, '_cpu_times', times)
    assert threads.busy_cores(0.0) == pytest.approx(1.0)


@pytest.fixture
def machine(monkeypatch):
    """Return the calls to torch.set_num_threads on an 8-core host with load 2.4."""
    calls = []
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(8)))
    monkeypatch.setattr(os, 'getloadavg', lambda: (2.4, 1.0, 0.5))
    monkeypatch.setattr(threads, 'cgroup_quota', lambda: None)
    monkeypatch.setattr(threads, 'busy_cores', lambda: 0.0)
    monkeypatch.setattr(torch, 'get_num_threads', lambda: 8)
    monkeypatch.setattr(torch, 'set_num_threads', calls.append)
    return calls


def test_training_threads_zero_is_the_rule_and_n_is_n(machine):
    assert threads.training_threads(0) == 6 and threads.training_threads(3) == 3


@pytest.mark.parametrize('trainer, cfg', [
    (free_slots_train.train, lambda: free_slots.load_config('tiny')),
    (latent_train.train, lambda: latent.load_config('tiny')),
    (train.train, lambda: load_config('tiny')),
])
def test_every_trainer_with_threads_0_sets_the_rules_count(machine, tmp_path, trainer, cfg):
    config = cfg()
    assert config.threads == 0                      # the shipped configs ask for the rule
    with pytest.raises(FileNotFoundError):          # threads are set before data is read
        trainer([tmp_path / 'nowhere'], tmp_path / 'out', config)
    assert machine == [6]


def test_policy_training_threads_0_sets_the_rules_count_and_restores(machine):
    with torch_threads(0):
        pass
    with torch_threads(2):
        pass
    assert machine == [6, 8, 2, 8]
