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
Shared pieces of the wm_ros nodes: QoS, parameters, diagnostics, commands, main (``run``).

QoS (see ROS_CONVENTIONS.md): image and state publishers are reliable with QoS overrides
allowed; image subscribers use the sensor-data profile; commands are reliable, depth 1;
the task instruction is transient-local so late joiners get it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import faulthandler
import math
import os
import sys
import threading
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import TwistStamped
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
import rclpy
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)
from rclpy.qos_overriding_options import QoSOverridingOptions
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image

from wm_ros.ros.messages import twist_msg
from wm_ros.ros.stop_signals import die_with_parent, Once, StopSignals

SENSOR_QOS = qos_profile_sensor_data
STATE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
COMMAND_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         history=HistoryPolicy.KEEP_LAST)
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)

FAULT_HOLD_S = 2.0          # s a reported input fault stays on /diagnostics
SPIN_PERIOD_S = 0.05        # longest a signal waits for the executor to wake up
STOP_DEADLINE_S = 4.0       # s after a stop signal: stacks dumped, exit (up escalates at 5)

OK, WARN, ERROR, STALE = (DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR,
                          DiagnosticStatus.STALE)


def image_publisher(node: Node, topic: str):
    """Return a node's ``Image`` publisher on ``topic``: ``STATE_QOS``, overridable at launch."""
    return node.create_publisher(
        Image, topic, STATE_QOS,
        qos_overriding_options=QoSOverridingOptions.with_default_policies())


@dataclass(frozen=True)
class Param:
    """A node parameter: default, description, optional range/choices, read-only flag."""

    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    read_only: bool = False

    def check(self, name: str, value: Any) -> str | None:
        """Return an error message for ``value``, or None when it is valid."""
        if self.choices and value not in self.choices:
            return f'{name} must be one of {list(self.choices)}, got {value!r}'
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                return f'{name} must be finite, got {value}'
            if self.low is not None and value < self.low:
                return f'{name} must be >= {self.low}, got {value}'
            if self.high is not None and value > self.high:
                return f'{name} must be <= {self.high}, got {value}'
        return None


def declare(node: Node, params: dict[str, Param], on_change: Callable[[dict], None] | None = None
            ) -> dict[str, Any]:
    """
    Declare ``params`` with descriptors, validate them, and return their current values.

    Start-up values that fail validation raise ``ValueError`` (the node exits with the
    message). Later changes are validated in the set-parameters callback (no side effects)
    and applied through ``on_change`` in the post-set callback.
    """
    values = {}
    for name, p in params.items():
        desc = ParameterDescriptor(description=p.description, read_only=p.read_only)
        if p.choices:
            desc.additional_constraints = f'one of {list(p.choices)}'
        if p.low is not None and p.high is not None:
            if isinstance(p.default, float):
                desc.floating_point_range = [FloatingPointRange(
                    from_value=float(p.low), to_value=float(p.high), step=0.0)]
            elif isinstance(p.default, int) and not isinstance(p.default, bool):
                desc.integer_range = [IntegerRange(from_value=int(p.low), to_value=int(p.high),
                                                   step=1)]
        values[name] = node.declare_parameter(name, p.default, desc).value
        error = p.check(name, values[name])
        if error:
            raise ValueError(f'{node.get_name()}: {error}')

    def validate(changes):
        for change in changes:
            spec = params.get(change.name)
            if spec is not None:
                error = spec.check(change.name, change.value)
                if error:
                    return SetParametersResult(successful=False, reason=error)
        return SetParametersResult(successful=True)

    def apply(changes):
        update = {c.name: c.value for c in changes if c.name in params}
        values.update(update)
        if on_change and update:
            on_change(update)

    node.add_on_set_parameters_callback(validate)
    node.add_post_set_parameters_callback(apply)
    return values


class Diagnostics:
    """Publishes one ``DiagnosticStatus`` for a node on ``/diagnostics``."""

    def __init__(self, node: Node, name: str | None = None, hardware_id: str = 'wm_ros'):
        self.node = node
        self.name = name or f'{node.get_name()}'
        self.hardware_id = hardware_id
        self.pub = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.level, self.message, self.values = OK, 'starting', {}
        self._lock = threading.Lock()       # a watchdog may report from its own thread

    def report(self, level: bytes, message: str, **values):
        """Set the status (and key/values) and publish it now."""
        with self._lock:
            self.level, self.message = level, message
            self.values.update(values)
        self.publish()

    def publish(self):
        """Publish the current status."""
        with self._lock:
            status = DiagnosticStatus(level=self.level, name=self.name, message=self.message,
                                      hardware_id=self.hardware_id)
            status.values = [KeyValue(key=k, value=str(v)) for k, v in self.values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.pub.publish(msg)


class FaultLog:
    """
    A node's input faults: counted per kind, logged at most once per ``every_s`` per kind.

    A repeated fault logs once, then again after ``every_s`` with how many were not logged;
    :meth:`counts` go on ``/diagnostics``; the latest fault is what the node reports for
    ``FAULT_HOLD_S`` (:meth:`held`).
    """

    def __init__(self, node: Node, every_s: float = 2.0):
        self.node, self.every_s = node, every_s
        self.count: dict[str, int] = {}
        self._logged: dict[str, float] = {}
        self._quiet: dict[str, int] = {}
        self.last = (OK, '', -math.inf)

    def report(self, kind: str, level: bytes, message: str):
        """Count a fault of ``kind``; log it unless the same kind was logged lately."""
        now = time.monotonic()
        self.count[kind] = self.count.get(kind, 0) + 1
        self.last = (level, message, now)
        if now - self._logged.get(kind, -math.inf) < self.every_s:
            self._quiet[kind] = self._quiet.get(kind, 0) + 1
            return
        quiet = self._quiet.pop(kind, 0)
        if quiet:
            message += f' ({quiet} more like it since the last report)'
        if level == ERROR:        # rclpy wants one severity per call site
            self.node.get_logger().error(message)
        else:
            self.node.get_logger().warning(message)
        self._logged[kind] = now

    def held(self, level: bytes, message: str) -> tuple[bytes, str]:
        """Return the latest fault while it is recent, else ``(level, message)``."""
        if time.monotonic() - self.last[2] < FAULT_HOLD_S:
            return self.last[0], self.last[1]
        return level, message

    def counts(self) -> dict[str, int]:
        """Return ``{'faults_<kind>': n}`` for ``/diagnostics``."""
        return {f'faults_{k}': n for k, n in sorted(self.count.items())}


class Ticker:
    """
    Calls ``fn`` every ``period_s`` on a thread of its own until :meth:`stop`.

    For a commanding node's watchdog: a slow callback of the node's executor (a model step)
    cannot hold it up. (rclpy's multi-threaded executor was tried: its own overhead delayed
    the watchdog by up to 0.5 s on a 2-core host.)
    """

    def __init__(self, period_s: float, fn: Callable[[], None], name: str = 'watchdog'):
        self.period_s, self.fn = period_s, fn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self):
        next_t = time.monotonic()
        while not self._stop.is_set():
            try:
                self.fn()
            except Exception as exc:  # noqa: BLE001 - a watchdog must outlive a bad tick
                print(f'[ERROR] {self._thread.name}: {exc}', flush=True)
            next_t = max(next_t + self.period_s, time.monotonic())
            self._stop.wait(next_t - time.monotonic())

    def stop(self):
        """Stop calling ``fn`` and wait for the thread."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)


class Commander:
    """
    The one way a node commands the robot: ``TwistStamped`` on ``ee_twist_cmd``.

    Thread-safe, so a watchdog on its own thread (:class:`Ticker`) and a slow policy step
    never interleave a stale action after a zero. After :meth:`stop` nothing else is sent, so the
    zero twist a stopping node publishes is the last command it ever gives.
    """

    def __init__(self, node: Node, frame_id: str, topic: str = 'ee_twist_cmd'):
        self.node, self.frame_id = node, frame_id
        self.pub = node.create_publisher(TwistStamped, topic, COMMAND_QOS)
        self.last = (0.0, 0.0)
        self.stopped = False
        self._lock = threading.Lock()

    def send(self, v, still_valid: Callable[[], bool] | None = None) -> bool:
        """Publish ``v = (vx, vy)`` unless stopped or ``still_valid()`` is False; say if sent."""
        with self._lock:
            if self.stopped or (still_valid is not None and not still_valid()):
                return False
            self.pub.publish(twist_msg(self.node, v, self.frame_id))
            self.last = (float(v[0]), float(v[1]))
            return True

    def stop(self, wait_s: float = 0.5) -> bool:
        """
        Publish the final zero twist and wait until every subscriber has it.

        Returns False when a reliable subscriber did not acknowledge it within ``wait_s``.
        """
        with self._lock:
            self.stopped = True
            self.pub.publish(twist_msg(self.node, (0.0, 0.0), self.frame_id))
            self.last = (0.0, 0.0)
        return self.pub.wait_for_all_acked(Duration(seconds=wait_s))


def run(node_factory: Callable[[], Node], args=None, exit_process: bool = True) -> int:
    """
    Create the node, spin until SIGINT/SIGTERM/SIGHUP or shutdown; exit 1 on bad setup.

    Signals are handled here (:class:`StopSignals`) rather than by rclpy, whose handlers
    shut the context down before the node could publish: however the node stops (a signal
    at any moment, also during a slow callback or a second one while it stops, an
    exception in a callback), its ``on_shutdown()`` (a commanding node's zero twist) runs
    once while the node can still publish; after a signal the loop ends as soon as the
    running callback returns. The exit code is 0 when stopped, 1 when the node could not
    be set up. With ``exit_process`` the process then ends at once (``os._exit`` after
    the node, rclpy and its log files are closed and stdout flushed): Python's own
    teardown of torch and friends took 1-5 s on a loaded 2-core host, and whoever stops
    the node waits for it. No ``atexit`` handler runs.
    """
    code = _run(node_factory, args, exit_process)
    if exit_process:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _run(node_factory: Callable[[], Node], args, exit_process: bool) -> int:
    signals = StopSignals()
    signals.install()                   # before anything slow: no signal is missed
    die_with_parent()                   # started by `wm-ros up`: stop if it dies
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = executor = stop = None
    try:
        node = node_factory()
        stop = Once(lambda: _shutdown(node))
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        signals.watch(lambda: (_deadline(exit_process), stop(), executor.wake()))
        while rclpy.ok() and not signals.event.is_set():
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    except ExternalShutdownException:
        pass
    except (ValueError, FileNotFoundError) as exc:
        print(f'[FATAL] {exc}', flush=True)
        return 1
    finally:
        if stop is not None:
            stop()                      # waits if the signal thread is already at it
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
        signals.uninstall(restore_handlers=not exit_process)
    return 0


def _deadline(exit_process: bool):
    """
    Bound the time from a stop signal to the end of a node process: ``STOP_DEADLINE_S``.

    A callback stuck in a call that never returns, or a teardown that hangs, would keep the
    process alive (its zero twist is already out). faulthandler's own C thread, which needs
    no GIL, then writes every thread's stack to stderr (the node's log says where it hung)
    and ends the process with code 1. Only where the process ends anyway (``exit_process``).
    """
    if exit_process:
        faulthandler.dump_traceback_later(STOP_DEADLINE_S, exit=True)


def _shutdown(node: Node):
    stop = getattr(node, 'on_shutdown', None)
    if stop is None or not rclpy.ok():
        return
    try:
        stop()
    except Exception as exc:  # noqa: BLE001 - report, then go on shutting down
        print(f'[ERROR] {node.get_name()}: on_shutdown failed: {exc}', flush=True)


class RateMeter:
    """Exponentially averaged event rate (Hz), for diagnostics."""

    def __init__(self):
        self.last, self.rate = None, 0.0

    def tick(self) -> float:
        """Record an event; return the current rate estimate."""
        now = time.monotonic()
        if self.last is not None:
            dt = max(now - self.last, 1e-6)
            self.rate = 1.0 / dt if self.rate == 0 else 0.9 * self.rate + 0.1 / dt
        self.last = now
        return self.rate
