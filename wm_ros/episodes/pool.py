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

A refusal a worker raises (an error wm_ros words for the user,
:func:`wm_ros.errors.exit_code`) reaches the caller as the same kind of error with the same
message, raised here (the worker's traceback as its cause), so ``wm-ros`` prints it as one
line as it does with ``workers=0``; chunks not yet started are cancelled. Any other error
is raised as the pool raises it, with the worker's traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
import multiprocessing
import pickle

from wm_ros.errors import exit_code


class _Refused(Exception):
    """A worker's refusal on its way to the parent: ``(error class, message)``."""


class _Calling:
    """``fn(*chunk)`` in a worker; a refusal worded by wm_ros travels as :class:`_Refused`."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, chunk: tuple):
        try:
            return self.fn(*chunk)
        except Exception as exc:
            if exit_code(exc) is None:           # a bug: its traceback comes along
                raise
            kind = next(k for k in type(exc).__mro__ if _picklable(k))
            raise _Refused(kind, str(exc)) from exc      # its traceback: the cause


def _picklable(kind: type) -> bool:
    try:
        pickle.dumps(kind)
        return True
    except Exception:                            # a class defined inside a function
        return False


def _rebuilt(kind: type, message: str) -> Exception:
    """Return ``kind(message)``, or its nearest base that takes only a message."""
    for cls in kind.__mro__:
        try:
            return cls(message)
        except Exception:                        # a constructor with other arguments
            continue
    return RuntimeError(message)


def map_chunks(fn: Callable, chunks: Sequence[tuple], workers: int) -> list:
    """Return ``[fn(*chunk) for chunk in chunks]``, computed in ``workers`` processes."""
    if workers <= 0:
        return [fn(*chunk) for chunk in chunks]
    if not chunks:
        return []
    ctx = multiprocessing.get_context('spawn')
    pool = ProcessPoolExecutor(min(workers, len(chunks)), mp_context=ctx)
    try:
        return list(pool.map(_Calling(fn), chunks))
    except _Refused as exc:
        error, cause = _rebuilt(*exc.args), exc.__cause__
    finally:
        pool.shutdown(cancel_futures=True)       # after a failure: no chunk starts
    raise error from cause
