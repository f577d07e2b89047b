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
Shadow-mode scheduling in plain Python (no ROS): what the ``world_model`` node runs.

:class:`CommandLog` answers "which command did the robot have at this stamp": the newest
one stamped at or before it, zero velocity when that one is older than the command
timeout. :class:`Shadow` holds the model's state and, per real frame
(:meth:`Shadow.on_frame`), steps it with that command, returns the prediction and
re-encodes the state from the real frame when a rule says so (:data:`REASONS`). In
imagine mode :meth:`Shadow.imagine` steps with the latest fresh command. Stamps are
integer nanoseconds; the model is any :class:`~wm_ros.runtime.base.WorldModelRuntime`
(``wm_ros.runtime.load_runtime``), its :class:`~wm_ros.runtime.base.State` never read.
:class:`FramePairs` gives each real frame the pusher pose of its stamp, in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, fields
import time

import numpy as np

from wm_ros.runtime.base import State, Uncertainty

JUMP_STEPS = 2.5          # real pusher moved > this many steps at full speed: re-sync

#: Why the state was re-encoded from a real frame (the ``imagined/resync`` frame_id):
#: the first frame; every ``resync_every`` steps; predicted pusher further than
#: ``drift_threshold`` from the real one; model uncertainty above ``uncertainty_threshold``;
#: the real pusher moved further than its speed allows (an episode reset or a teleport).
REASONS = ('start', 'every', 'drift', 'uncertainty', 'jump')


class CommandLog:
    """The last ``maxlen`` velocity commands by stamp, clipped to the speed limit."""

    def __init__(self, max_speed: float, maxlen: int = 64):
        self.max_speed = float(max_speed)
        self._log: deque = deque(maxlen=maxlen)   # (stamp ns, float32[2] m/s), arrival order

    def add(self, stamp_ns: int, v) -> np.ndarray:
        """
        Log the command ``v`` (m/s, any float array of 2) sent at ``stamp_ns``.

        Returns what was logged, float32[2]: ``v`` clipped per axis to +-``max_speed`` (in
        float64 first, so 1e39 becomes the speed limit, not inf), or zero velocity when
        ``v`` has a NaN or inf.
        """
        v = np.asarray(v, np.float64).reshape(2)
        if not np.all(np.isfinite(v)):
            v = np.zeros(2)
        v = np.clip(v, -self.max_speed, self.max_speed).astype(np.float32)
        self._log.append((int(stamp_ns), v))
        return v

    def at(self, stamp_ns: int, timeout_s: float) -> np.ndarray:
        """
        Return the command in force at ``stamp_ns``, float32[2] (m/s).

        That is the newest one stamped at or before ``stamp_ns`` (of equal stamps the last
        logged); zero velocity when there is none or it is more than ``timeout_s`` older.
        """
        best_t, best_v = None, None
        for t, v in self._log:
            if t <= stamp_ns and (best_t is None or t >= best_t):
                best_t, best_v = t, v
        if best_t is None or stamp_ns - best_t > timeout_s * 1e9:
            return np.zeros(2, np.float32)
        return best_v.copy()

    def __len__(self) -> int:
        return len(self._log)


class FramePairs:
    """
    Pairs each real frame with the pusher pose of its stamp, frames kept in stamp order.

    Shadow mode steps the model once per real frame, so every frame must go, in order, with
    its own pose. A frame waits until a pose stamped at or after it is known and then goes
    with the known pose nearest its stamp. On a loaded host a camera frame and its pose
    arrive in any order, two frames before either pose: each still gets its own. When
    ``hold`` frames wait (poses late, unstamped or stopped), the oldest goes with the
    nearest pose known, so the shadow never stalls for more than ``hold`` frames. Frames
    and poses are opaque; stamps are integer nanoseconds.
    """

    def __init__(self, hold: int = 3, history: int = 64):
        self.hold = int(hold)
        self._frames: deque = deque()                  # (stamp, frame), arrival order
        self._poses: deque = deque(maxlen=history)     # (stamp, xy)
        self._newest = None                            # the newest pose stamp known

    def clear(self) -> None:
        """Forget waiting frames and known poses."""
        self._frames.clear()
        self._poses.clear()
        self._newest = None

    def frame(self, stamp_ns: int, frame) -> list[tuple]:
        """Add a frame; return the ``(frame, pose)`` pairs now ready, oldest first."""
        self._frames.append((int(stamp_ns), frame))
        out = self._ready()
        while len(self._frames) > self.hold:
            stamp, oldest = self._frames.popleft()
            if self._poses:                            # else no pose ever came: dropped
                out.append(self._pair(stamp, oldest))
        return out

    def pose(self, stamp_ns: int, xy) -> list[tuple]:
        """Add a pose; return the ``(frame, pose)`` pairs now ready, oldest first."""
        stamp = int(stamp_ns)
        self._poses.append((stamp, xy))
        self._newest = stamp if self._newest is None else max(self._newest, stamp)
        return self._ready()

    def _ready(self) -> list[tuple]:
        out = []
        while self._frames and self._newest is not None and self._newest >= self._frames[0][0]:
            out.append(self._pair(*self._frames.popleft()))
        return out

    def _pair(self, stamp: int, frame) -> tuple:
        return frame, min(self._poses, key=lambda p: abs(p[0] - stamp))[1]

    def __len__(self) -> int:
        return len(self._frames)


@dataclass(frozen=True)
class Rules:
    """When :class:`Shadow` re-encodes the state (the ``world_model`` parameters)."""

    resync_every: int = 16                # steps since the last re-sync (0: never)
    drift_threshold: float = 0.05         # m, predicted vs real pusher
    uncertainty_threshold: float = 0.03   # m, the model's own error estimate
    command_timeout: float = 0.5          # s, older commands count as zero velocity

    @classmethod
    def from_params(cls, params: Mapping) -> 'Rules':
        """Pick this class's fields out of a parameter mapping (others are ignored)."""
        return cls(**{f.name: params[f.name] for f in fields(cls) if f.name in params})


@dataclass(frozen=True)
class Prediction:
    """
    What one frame or tick produced.

    ``image`` uint8[S,S,3] and ``ee`` float32[2] (m) are the predicted frame and pusher
    (None when nothing was stepped); ``resync`` the reason the state was then re-encoded
    from the real frame (None: it was not); ``error`` what the runtime refused (the state
    is then as before that call).
    """

    image: np.ndarray | None = None
    ee: np.ndarray | None = None
    resync: str | None = None
    error: str | None = None


class Shadow:
    """
    The world model's state beside a robot, and the rules that keep it in step.

    ``state`` is None until the first :meth:`resync` (or :meth:`on_frame`); ``horizon``
    counts the steps since the last re-sync; ``step_ms`` is the last step + decode time.
    """

    def __init__(self, runtime, rules: Rules | None = None, maxlen: int = 64):
        self.runtime, self.rules = runtime, rules or Rules()
        self.commands = CommandLog(runtime.max_speed, maxlen)
        # how far the robot can move in one step at full speed on both axes, m
        self.step_reach = float(np.hypot(1, 1) * runtime.max_speed / runtime.control_hz)
        self.state: State | None = None
        self.horizon, self.step_ms = 0, 0.0
        self.last_real_ee: np.ndarray | None = None

    def clear(self) -> None:
        """Forget the state: the next real frame starts over (reason ``start``)."""
        self.state, self.horizon, self.last_real_ee = None, 0, None

    def uncertainty(self) -> float:
        """Return the model's uncertainty of the current state, m (0 if it has none)."""
        if self.state is None or not isinstance(self.runtime, Uncertainty):
            return 0.0
        return float(self.runtime.uncertainty(self.state)[0])

    def resync(self, rgb: np.ndarray, ee) -> None:
        """
        Encode the state from a real frame ``rgb`` uint8[S,S,3] and pusher ``ee`` [2] (m).

        Raises ``ValueError`` (the runtime's message) when the runtime refuses them; the
        state is then unchanged.
        """
        self.state = self.runtime.encode(np.asarray(rgb)[None],
                                         np.asarray(ee, np.float64).reshape(1, 2))
        self.horizon = 0

    def decode(self) -> tuple[np.ndarray, np.ndarray]:
        """Render the current state: image uint8[S,S,3], pusher ee float32[2] (m)."""
        images, ee = self.runtime.decode(self.state)
        return images[0], ee[0]

    def step(self, v) -> Prediction:
        """Step the state by one command ``v`` [2] (m/s, clipped to the speed limit)."""
        if self.state is None:
            return Prediction(error='nothing to step yet: re-sync from a real frame first')
        v = np.asarray(v, np.float64).reshape(1, 2)     # the runtime clips, in float64
        start = time.perf_counter()
        try:
            state = self.runtime.step(self.state, v)
            images, ee = self.runtime.decode(state)
        except ValueError as exc:
            return Prediction(error=f'world model step failed: {exc}')
        self.state, self.horizon = state, self.horizon + 1
        self.step_ms = 1000 * (time.perf_counter() - start)
        return Prediction(images[0], ee[0])

    def imagine(self, stamp_ns: int) -> Prediction:
        """Step with the command in force at ``stamp_ns`` (zero when stale)."""
        return self.step(self.commands.at(stamp_ns, self.rules.command_timeout))

    def on_frame(self, rgb: np.ndarray, ee_real, stamp_ns: int) -> Prediction:
        """
        Predict the real frame stamped ``stamp_ns`` from the previous one; re-sync if due.

        ``rgb`` uint8[S,S,3] and ``ee_real`` [2] (m) are the real frame and pusher. The
        state is stepped with the command the robot had at ``stamp_ns``; the prediction
        is returned with the re-sync reason, if any (see :data:`REASONS`; rules are tried
        in that order). ``start`` and ``jump`` re-encode without predicting.
        """
        ee_real = np.asarray(ee_real, np.float64).reshape(2)
        last, self.last_real_ee = self.last_real_ee, ee_real
        if self.state is None:
            return self._resync(rgb, ee_real, 'start')
        if last is not None and np.linalg.norm(ee_real - last) > JUMP_STEPS * self.step_reach:
            # the robot moved further than its speed limit allows: an episode reset or a
            # teleport, not something to predict; start over from this frame
            return self._resync(rgb, ee_real, 'jump')
        out = self.imagine(stamp_ns)
        if out.error:
            return out
        rules, reason = self.rules, None
        if rules.resync_every and self.horizon >= rules.resync_every:
            reason = 'every'
        elif np.linalg.norm(out.ee - ee_real) > rules.drift_threshold:
            reason = 'drift'
        elif self.uncertainty() > rules.uncertainty_threshold:
            reason = 'uncertainty'
        if reason is None:
            return out
        done = self._resync(rgb, ee_real, reason)
        return Prediction(out.image, out.ee, done.resync, done.error)

    def _resync(self, rgb, ee, reason: str) -> Prediction:
        try:
            self.resync(rgb, ee)
        except ValueError as exc:
            return Prediction(error=f'could not encode the real frame: {exc}')
        return Prediction(resync=reason)
