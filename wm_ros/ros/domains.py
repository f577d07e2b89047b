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
A DDS domain no other run on this host is using (tests, ``wm-ros up``, ``wm-ros faults``).

A domain is taken while some process holds its lock file (``flock``, released by the
kernel when that process ends, however it ends) or while a DDS participant of any program
has bound one of the domain's unicast discovery ports (7400 + 250 d + 10 + 2 i, the RTPS
default port mapping that Fast DDS and Cyclone DDS use). :func:`hold_free_domain` picks a
random domain that is neither and locks it for the life of the calling process, so two
runs started at the same moment cannot pick the same one. Domain 0 (the ROS default, a
robot's) is never picked; 232 is the highest id whose ports fit in 16 bits.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
import random
import tempfile

LOWEST, HIGHEST = 1, 232
PORT_BASE, DOMAIN_GAIN, PARTICIPANTS = 7400, 250, 30
LOCK_DIR = Path(tempfile.gettempdir()) / 'wm_ros-dds-domains'

_held: dict[int, int] = {}        # domain id -> fd of its lock file, held by this process


def _bound_udp_ports() -> set[int]:
    """Return the local UDP ports bound on this host (Linux ``/proc``; empty elsewhere)."""
    ports = set()
    for table in ('/proc/net/udp', '/proc/net/udp6'):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local = line.split()[1]
            ports.add(int(local.rsplit(':', 1)[1], 16))
    return ports


def in_use_by_dds(domain_id: int, ports: set[int] | None = None) -> bool:
    """Return whether a DDS participant on this host seems to use ``domain_id``."""
    ports = _bound_udp_ports() if ports is None else ports
    first = PORT_BASE + DOMAIN_GAIN * domain_id + 10
    return any(p in ports for p in range(first, first + 2 * PARTICIPANTS))


def _try_lock(domain_id: int) -> int | None:
    """Lock ``domain_id`` for this process; return the lock's fd, or None when taken."""
    try:
        if not LOCK_DIR.is_dir():
            LOCK_DIR.mkdir(exist_ok=True)
            LOCK_DIR.chmod(0o1777)      # sticky and shared: every user's runs lock here
        fd = os.open(LOCK_DIR / f'{domain_id}.lock', os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:                     # another user's lock file: theirs
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.write(fd, f'{os.getpid()}\n'.encode())
    return fd


def hold_free_domain(rng: random.Random | None = None) -> int:
    """
    Return a random domain id no other run on this host uses, locked for this process.

    The lock lasts until :func:`release` or the end of this process. Raises
    ``RuntimeError`` when every domain is taken.
    """
    rng = rng or random.SystemRandom()
    ports = _bound_udp_ports()
    candidates = [d for d in range(LOWEST, HIGHEST + 1) if d not in _held]
    rng.shuffle(candidates)
    for domain_id in candidates:
        if in_use_by_dds(domain_id, ports):
            continue
        fd = _try_lock(domain_id)
        if fd is not None:
            _held[domain_id] = fd
            return domain_id
    raise RuntimeError(f'every DDS domain {LOWEST}-{HIGHEST} is in use on this host; stop '
                       'some ROS runs or set ROS_DOMAIN_ID yourself')


def release(domain_id: int) -> None:
    """Give back a domain taken with :func:`hold_free_domain` (no-op if not held)."""
    fd = _held.pop(domain_id, None)
    if fd is not None:
        os.close(fd)
