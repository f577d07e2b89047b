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

"""Free DDS domains: two runs on one host never pick the same one (issue 26)."""

import os
import socket
import subprocess
import sys

from wm_ros.ros import domains

PICK = """
import sys
from wm_ros.ros.domains import hold_free_domain
print(hold_free_domain(), flush=True)
sys.stdin.read()            # hold it until the test closes stdin
"""


def test_concurrent_runs_hold_different_domains_and_skip_this_one():
    """Twelve processes started at once: twelve domains, none the one this run holds."""
    procs = [subprocess.Popen([sys.executable, '-c', PICK], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(12)]
    try:
        picked = [int(p.stdout.readline()) for p in procs]
    finally:
        for p in procs:
            p.stdin.close()
            p.wait(30)
    assert len(set(picked)) == len(picked), picked
    assert int(os.environ['ROS_DOMAIN_ID']) not in picked        # conftest.py holds it
    assert all(domains.LOWEST <= d <= domains.HIGHEST for d in picked), picked


def test_a_domain_comes_free_when_its_holder_ends():
    held = domains.hold_free_domain()
    try:
        assert domains._try_lock(held) is None          # a second lock, even here, fails
        other = subprocess.run([sys.executable, '-c', f'from wm_ros.ros import domains; '
                                f'print(domains._try_lock({held}) is None)'],
                               capture_output=True, text=True, check=True)
        assert other.stdout.strip() == 'True'            # held by this process
    finally:
        domains.release(held)
    again = subprocess.run([sys.executable, '-c', f'from wm_ros.ros import domains; '
                            f'print(domains._try_lock({held}) is not None)'],
                           capture_output=True, text=True, check=True)
    assert again.stdout.strip() == 'True'


def _bind_a_domain_port() -> tuple[int, socket.socket]:
    """Bind a discovery port of some domain as a DDS participant would; return both."""
    for domain_id in range(domains.HIGHEST, domains.LOWEST, -1):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(('127.0.0.1', domains.PORT_BASE + domains.DOMAIN_GAIN * domain_id + 12))
            return domain_id, sock
        except OSError:
            sock.close()
    raise AssertionError('no domain port could be bound to try')


class _UsedFirst:
    """An rng whose shuffle puts ``first`` at the front."""

    def __init__(self, first: int):
        self.first = first

    def shuffle(self, items):
        items.sort(key=lambda d: d != self.first)


def test_a_domain_a_dds_participant_uses_is_skipped():
    """Some other program's participant (its discovery port bound) keeps the domain out."""
    domain_id, sock = _bind_a_domain_port()
    try:
        assert domains.in_use_by_dds(domain_id)
        picked = domains.hold_free_domain(_UsedFirst(domain_id))
        domains.release(picked)
        assert picked != domain_id
    finally:
        sock.close()
