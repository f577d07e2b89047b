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
Which errors are refusals worded for the user, wherever they are raised.

A ``raise`` statement of wm_ros words what was wrong and what to do; an error raised by
numpy, torch or a builtin is a bug and keeps its traceback. The ``wm-ros`` guard prints
the first kind as one line (:func:`exit_code`), and the process pool
(:mod:`wm_ros.episodes.pool`) carries it from a worker to the parent as the same kind of
error with the same message.
"""

from __future__ import annotations

import linecache


def raised_by_wm_ros(exc: BaseException) -> bool:
    """Whether a ``raise`` statement of wm_ros raised ``exc`` (not numpy, torch or a builtin)."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    if not str(tb.tb_frame.f_globals.get('__name__', '')).startswith('wm_ros.'):
        return False
    line = linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
    return line.lstrip().startswith('raise ')


# what a wm_ros ``raise`` statement refuses bad input with
INPUT_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError,
                IsADirectoryError)


def exit_code(exc: BaseException) -> int | None:
    """
    Return the exit code of an error worded for the user, or None for a bug.

    2 (bad input): the package's own ``ValueError`` classes (``ModelFileError``,
    ``ShardError``, ...) and the ``ValueError``/path errors a wm_ros ``raise`` statement
    words; 1: a ``RuntimeError`` it raises explains a failure.
    """
    if isinstance(exc, ValueError) and type(exc).__module__.startswith('wm_ros.'):
        return 2
    if not raised_by_wm_ros(exc):
        return None
    if isinstance(exc, INPUT_ERRORS):
        return 2
    return 1 if isinstance(exc, RuntimeError) else None
