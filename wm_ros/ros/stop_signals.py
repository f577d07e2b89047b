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
How a node hears that it must stop: SIGINT, SIGTERM and SIGHUP, and nothing raised.

Used by :func:`wm_ros.ros.common.run` (the main loop of every node) and by ``wm-ros up``
(:func:`wm_ros.ros.bringup.up`), and :func:`die_with_parent` by nodes that ``wm-ros up``
started.
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
import faulthandler
import os
import signal
import socket
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STACKS_SIGNAL = signal.SIGUSR1          # write every thread's stack to stderr, go on running
PARENT_ENV = 'WM_ROS_PARENT_PID'        # set by the bring-up runner for the nodes it starts
PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """
    Ask the kernel for SIGTERM when the runner that started this node dies (Linux).

    Only where ``$WM_ROS_PARENT_PID`` names the parent (``wm-ros up`` sets it). If that
    parent is already gone, SIGTERM is sent now. Returns whether the request was made.
    """
    parent = os.environ.get(PARENT_ENV, '')
    if not parent.isdigit() or not os.path.exists('/proc/self'):
        return False
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != int(parent):      # it died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)
    return True


class StopSignals:
    """
    SIGINT, SIGTERM and SIGHUP ask a node to stop; nothing is ever raised from a handler.

    (An exception raised by a signal handler lands wherever the main thread happens to be;
    inside a ``__del__`` Python swallows it, and a node once ignored Ctrl-C that way.) The
    handler only sets :attr:`event`, which the spin loop checks. Each signal also writes a
    byte to a socket (``signal.set_wakeup_fd``, done by the C-level handler even while the
    main thread is inside a slow callback, a model step) that wakes a thread of ours at
    once: it runs ``on_signal`` (the node's ``on_shutdown``: a commanding node's final zero
    twist) and wakes the executor. Later signals change nothing; the stop runs once.

    ``STACKS_SIGNAL`` (SIGUSR1) makes the process write every thread's stack to stderr and
    go on: faulthandler's C handler, which needs no GIL, so it answers even when a thread
    holds the GIL in a call that never returns (then no Python handler or thread of ours
    can run). ``wm-ros up`` sends it to a node that outlived SIGTERM before killing it.
    """

    def __init__(self):
        self.event = threading.Event()
        self.signum: int | None = None
        self._previous: dict = {}
        self._wakeup_fd = -1
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)

    def install(self) -> bool:
        """Install the handlers (main thread only; elsewhere say False and do nothing)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handler)
        faulthandler.register(STACKS_SIGNAL, all_threads=True)
        self._wakeup_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        return True

    def _handler(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        self.event.set()

    def watch(self, on_signal: Callable[[], None]) -> threading.Thread:
        """Call ``on_signal()`` from a thread of its own as soon as a stop signal arrives."""
        wanted = {int(s) for s in STOP_SIGNALS}

        def loop():
            while True:
                try:
                    data = self._reader.recv(64)
                except OSError:
                    return
                if not data:            # uninstall() closed the socket
                    return
                if wanted & set(data):
                    self.event.set()
                    on_signal()
                    return
        thread = threading.Thread(target=loop, name='stop-signals', daemon=True)
        thread.start()
        return thread

    def uninstall(self, restore_handlers: bool = True):
        """
        Put the previous wake-up fd (and handlers) back and end the watching thread.

        A process about to exit keeps its handlers (``restore_handlers=False``): a late
        second Ctrl-C then changes nothing instead of raising ``KeyboardInterrupt``.
        """
        if self._previous:
            signal.set_wakeup_fd(self._wakeup_fd)
            for sig, handler in self._previous.items():
                if restore_handlers:
                    signal.signal(sig, handler)
            self._previous = {}
        with contextlib.suppress(OSError):
            self._reader.shutdown(socket.SHUT_RDWR)     # wakes a thread blocked in recv
        self._writer.close()
        self._reader.close()


class Once:
    """Call ``fn`` once; a second caller waits until the first call has finished."""

    def __init__(self, fn: Callable[[], None]):
        self.fn, self.done = fn, False
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            if not self.done:
                self.done = True
                self.fn()
