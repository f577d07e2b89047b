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
Torch CPU threads for training: ``threads: 0`` in a config means *the cores that are free*.

torch's own default is one thread per core it may use, whatever else runs there. Its
OpenMP threads wait for each other at every operation, so one thread that has to share its
core with another busy process holds all of them up: beside one busy process on 2 cores,
free-slot training ran 20x slower with the default than with one thread
(docs/results/training-threads.md, ``python tools/bench_threads.py``). Too few threads
costs at most the parallel speed-up; too many costs far more, so the rule leans low:

``auto = max(1, min(torch's default, cores this process may use - cores busy elsewhere))``

* cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota
  (``/sys/fs/cgroup/cpu.max``; a container limited to 2 CPUs on a 64-core host);
* cores busy elsewhere: the larger of the 1-minute load average (rounded) and the busy
  time of those cores over the last ``SAMPLE_S`` (``/proc/stat``: a process that started
  seconds ago, which the load average has hardly seen yet);
* torch's default already honours ``OMP_NUM_THREADS``.

The rule is read once, when training starts; a config's ``threads: N`` (N > 0) is used as
given.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
import time

SAMPLE_S = 0.1           # s: how long the cores' busy time is sampled


def available_cores() -> int:
    """Return the cores this process may run on (affinity, capped by a cgroup CPU quota)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                  # not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_quota()
    return max(1, min(cores, quota) if quota else cores)


def cgroup_quota(path: str | Path = '/sys/fs/cgroup/cpu.max') -> int | None:
    """Return the cgroup v2 CPU quota in whole cores (rounded up), or None if there is none."""
    try:
        quota, period = Path(path).read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == 'max':
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def _cpu_times(cpus: set[int], stat: str | Path = '/proc/stat') -> tuple[float, float]:
    """Return (busy, total) jiffies summed over the cores ``cpus`` (0, 0 where unreadable)."""
    busy = total = 0.0
    try:
        lines = Path(stat).read_text().splitlines()
    except OSError:
        return 0.0, 0.0
    for line in lines:
        name, *fields = line.split()
        if not name.startswith('cpu') or name == 'cpu' or int(name[3:]) not in cpus:
            continue
        values = [float(v) for v in fields[:8]]
        idle = values[3] + values[4]                  # idle + iowait
        busy += sum(values) - idle
        total += sum(values)
    return busy, total


def busy_cores(sample_s: float = SAMPLE_S) -> float:
    """Return how many of this process's cores were busy over the last ``sample_s`` seconds."""
    try:
        cpus = os.sched_getaffinity(0)
    except AttributeError:
        return 0.0
    busy0, total0 = _cpu_times(cpus)
    time.sleep(sample_s)
    busy1, total1 = _cpu_times(cpus)
    if total1 <= total0:
        return 0.0
    return (busy1 - busy0) / (total1 - total0) * len(cpus)


def load_average() -> float:
    """Return the 1-minute load average (0 where the system has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def auto_threads(default: int, cores: int, load: float, busy: float) -> int:
    """
    Return the rule's thread count (see the module docstring).

    ``default`` is torch's default, ``cores`` the cores this process may use, ``load`` the
    1-minute load average and ``busy`` the cores found busy just now.
    """
    elsewhere = max(int(round(load)), int(round(busy)))
    return max(1, min(default, cores - elsewhere))


def training_threads(threads: int = 0) -> int:
    """Return ``threads`` if positive, else the rule's count for this process, now."""
    if threads > 0:
        return threads
    import torch
    return auto_threads(torch.get_num_threads(), available_cores(), load_average(),
                        busy_cores())


def set_training_threads(threads: int = 0) -> int:
    """Set torch's CPU threads to :func:`training_threads` (``threads``); return the count."""
    import torch
    n = training_threads(threads)
    torch.set_num_threads(n)
    return n
