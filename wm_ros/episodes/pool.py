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
The one way episodes fan out over processes: chunks through a pool of worker processes.

``map_chunks(fn, chunks, workers)`` calls the module-level ``fn(*chunk)`` for every chunk
in ``workers`` spawned processes (0: here, in order) and returns the results in chunk
order. A worker keeps what it loads between chunks (``fn`` caches its models, e.g. with
``functools.lru_cache``), so models load once per worker; the results never depend on
the number of workers. A chunk is the unit a Ray task would take when the work outgrows
one host.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
import multiprocessing


def map_chunks(fn: Callable, chunks: Sequence[tuple], workers: int) -> list:
    """Return ``[fn(*chunk) for chunk in chunks]``, computed in ``workers`` processes."""
    if workers <= 0:
        return [fn(*chunk) for chunk in chunks]
    ctx = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(min(workers, max(1, len(chunks))), mp_context=ctx) as pool:
        return list(pool.map(fn, *zip(*chunks))) if chunks else []
