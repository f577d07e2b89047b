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
The ``planner`` node's scheduling, without ROS: the planner runs on a worker thread.

A plan takes 0.03-1 s on a CPU, longer than a control period, so the node never calls the
planner from its executor. Frames (newest only) and instructions go into a
:class:`PlanRunner`; its worker thread starts (decomposes) an instruction on the newest
frame, then acts once on each new frame, and hands every outcome to the node as a
:class:`Result`. Meanwhile the node keeps receiving frames and its watchdog asks
:meth:`PlanRunner.busy_for` to command zero velocity while a plan takes longer than the
input timeout.

Rules: a frame is acted on at most once, and frames that came while the planner was busy
are skipped except the newest; a new instruction is started on the newest frame (waiting
for the first frame if there is none) and supersedes the action being computed (it is
dropped); a refused instruction (``PlanRefused``) stops acting until the next one; an
unreadable frame gives no action; any other planner error stops acting.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
import threading
import time

import numpy as np

from wm_ros.plan.decompose import PlanRefused

ZERO = np.zeros(2, np.float32)


@dataclass(frozen=True)
class Result:
    """
    One outcome of the worker, for the node to publish.

    ``event``: ``started`` (instruction decomposed), ``refused`` (``message`` says why),
    ``acted`` (``action`` for a frame), ``idle`` (a frame but nothing to do: no instruction,
    refused), ``error`` (``message``). ``action``: float32[2] m/s, zero unless ``acted``.
    ``status``: the planner's ``status()`` plus ``refused``. ``video`` (uint8[H,S,S,3]) and
    ``paths`` (name -> float[H,2] m) only when this action came with a new plan.
    """

    event: str
    status: dict
    action: np.ndarray = field(default_factory=lambda: ZERO.copy())
    message: str = ''
    video: np.ndarray | None = None
    paths: dict | None = None
    seconds: float = 0.0           # planner time of this turn


def refused_status(status: dict, instruction: str, reason: str) -> dict:
    """Return the status of a refused instruction: the keys of ``status``, nothing planned."""
    def blank(v):
        return False if isinstance(v, bool) else type(v)() if isinstance(
            v, (int, float, str, list, dict)) else None
    return {**{k: blank(v) for k, v in status.items()}, 'instruction': instruction,
            'failed': True, 'message': reason, 'refused': True}


class PlanRunner:
    """Runs a :class:`~wm_ros.plan.planner.HierarchicalPlanner` on a worker thread."""

    def __init__(self, planner, on_result: Callable[[Result], None],
                 clock: Callable[[], float] = time.monotonic):
        self.planner, self.on_result, self.clock = planner, on_result, clock
        self.active = False                 # a started instruction the planner acts on
        self._refused: dict | None = None   # status of the last instruction, if refused
        self._cv = threading.Condition()
        self._frame = None                  # (image uint8[S,S,3], ee float[2], received s)
        self._new = False
        self._request: tuple[str, Future] | None = None
        self._busy_since: float | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name='planner', daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ inputs (any thread)
    def frame(self, image: np.ndarray, ee: np.ndarray, received: float | None = None):
        """Hand over the newest camera image, uint8[S,S,3], with the pusher at ``ee`` (m)."""
        with self._cv:
            self._frame = (image, np.asarray(ee, np.float64),
                           self.clock() if received is None else received)
            self._new = True
            self._cv.notify()

    def clear_frames(self):
        """Forget the newest frame (the input stream changed); wait for the next one."""
        with self._cv:
            self._frame, self._new = None, False

    def frame_age(self) -> float:
        """Return seconds since the newest frame was received (inf when there is none)."""
        with self._cv:
            return np.inf if self._frame is None else self.clock() - self._frame[2]

    def instruct(self, instruction: str) -> Future:
        """
        Start ``instruction`` on the newest frame; return a Future of ``(ok, message)``.

        A request not yet started is superseded (its Future gets ``(False, ...)``).
        """
        future: Future = Future()
        with self._cv:
            if self._request is not None:
                self._request[1].set_result((False, f'superseded by "{instruction}"'))
            self._request = (instruction, future)
            self._cv.notify()
        return future

    def busy_for(self) -> float:
        """Return how long the planner has been working on the current turn (0 when idle)."""
        with self._cv:
            return 0.0 if self._busy_since is None else self.clock() - self._busy_since

    def stop(self, timeout: float = 2.0):
        """Stop the worker after its current turn (waits up to ``timeout`` s)."""
        with self._cv:
            self._stopped = True
            if self._request is not None:
                self._request[1].set_result((False, 'the planner is stopping'))
                self._request = None
            self._cv.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # ------------------------------------------------------------------ worker
    def _loop(self):
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._stopped or self._new or (
                    self._request is not None and self._frame is not None))
                if self._stopped:
                    return
                frame, request = self._frame, self._request
                self._request, self._new = None, False
            try:
                if request is not None:
                    self._start(request, frame)
                if self.active:
                    self._act(frame)
                else:
                    self._emit(Result('idle', self.status()))
            except Exception as exc:  # noqa: BLE001 - the worker must outlive a bad turn
                self.active = False
                self._emit(Result('error', self.status(), message=f'planner failed: {exc!r}; '
                                  'stopped acting until the next instruction'))

    def _start(self, request: tuple[str, Future], frame):
        instruction, future = request
        t0 = self._busy()
        try:
            steps = self.planner.start(instruction, frame[0], frame[1])
        except PlanRefused as exc:
            self.active = False
            self._refused = refused_status(self.planner.status(), instruction, str(exc))
            self._emit(Result('refused', self._refused, message=str(exc),
                              seconds=self.clock() - t0))
            future.set_result((False, str(exc)))
            return
        except Exception as exc:
            future.set_result((False, f'could not start "{instruction}": {exc}'))
            raise
        finally:
            self._idle()
        self.active, self._refused = True, None
        text = '; '.join(s.text for s in steps)
        self._emit(Result('started', self.status(), message=text, seconds=self.clock() - t0))
        future.set_result((True, f'planning "{instruction}": {len(steps)} sub-goal(s) of task '
                                 f'1 of {len(self.planner.tasks)}: {text}'))

    def _act(self, frame):
        t0 = self._busy()
        plans = self.planner.plans
        try:
            action = np.asarray(self.planner.act(frame[0], frame[1]), np.float32)
        except ValueError as exc:        # a frame the model cannot read: no action from it
            self._emit(Result('error', self.status(), message=f'unreadable frame: {exc}'))
            return
        finally:
            self._idle()
        with self._cv:
            if self._request is not None:
                return                   # superseded by a new instruction: drop it
        planned = self.planner.plans != plans
        video = self.planner.video if planned and len(self.planner.video) else None
        self._emit(Result('acted', self.status(), action, video=video,
                          paths=dict(self.planner.plan_paths) if planned else None,
                          seconds=self.clock() - t0))

    def status(self) -> dict:
        """Return where the planner is, plus ``refused`` (call from the worker thread only)."""
        if self._refused is not None:
            return self._refused
        return {**self.planner.status(), 'refused': False}

    def _busy(self) -> float:
        with self._cv:
            self._busy_since = self.clock()
            return self._busy_since

    def _idle(self):
        with self._cv:
            self._busy_since = None

    def _emit(self, result: Result):
        try:
            self.on_result(result)
        except Exception as exc:  # noqa: BLE001 - a publishing problem must not stop planning
            print(f'[ERROR] planner: handling a {result.event} result failed: {exc!r}',
                  flush=True)
