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
``wm-ros record``: ``ros2 bag record -s mcap`` for machines with only the PyPI ROS wheels.

An rclpy node looks up each requested topic's type on the graph (again every second, so
topics that appear later are picked up), subscribes with ``raw=True`` and writes the
serialized CDR bytes, stamped with the receipt time, to a new rosbag2 MCAP bag through
``rosbags`` (message definitions from its ROS 2 Jazzy typestore). The subscription QoS
follows the publishers: reliable unless one of them is best effort, transient local when
all of them are (so latched topics such as ``task/instruction`` arrive). Ctrl-C (SIGINT),
SIGTERM or the end of ``duration`` closes the bag cleanly: everything received is readable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
import functools
import importlib
from pathlib import Path
import signal
import threading
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_typestore, Stores

DEFAULT_TOPICS = ('camera/image_raw', 'camera/camera_info', 'ee_pose', 'ee_twist_cmd',
                  'imagined/camera/image_raw', 'imagined/ee_pose', 'imagined/uncertainty',
                  'compare/metrics', 'task/instruction')
DISCOVERY_PERIOD_S = 1.0     # re-check the graph for topics not yet recorded
FIRST_DISCOVERY_S = 1.0      # at start, look every 0.1 s for this long
QUEUE_DEPTH = 100


def message_class(type_name: str):
    """Return the rclpy message class of ``'pkg/msg/Name'``."""
    pkg, kind, name = type_name.split('/')
    return getattr(importlib.import_module(f'{pkg}.{kind}'), name)


def subscription_qos(publishers) -> QoSProfile:
    """Return a QoS that receives from all ``publishers`` (TopicEndpointInfo list)."""
    profiles = [p.qos_profile for p in publishers]
    reliable = all(q.reliability == ReliabilityPolicy.RELIABLE for q in profiles)
    latched = bool(profiles) and all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL
                                     for q in profiles)
    return QoSProfile(
        depth=QUEUE_DEPTH, history=HistoryPolicy.KEEP_LAST,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


class Recorder:
    """Subscribes to ``topics`` as they appear and writes raw messages to ``writer``."""

    def __init__(self, node: Node, writer: Writer, topics: Iterable[str],
                 log: Callable[[str], None] = print):
        self.node, self.writer, self.log = node, writer, log
        self.typestore = get_typestore(Stores.ROS2_JAZZY)
        self.topics = list(dict.fromkeys(node.resolve_topic_name(t) for t in topics))
        self.types: dict[str, str] = {}
        self.connections = {}
        self.counts = dict.fromkeys(self.topics, 0)
        self.skipped: dict[str, str] = {}
        self.start = time.monotonic()

    def discover(self):
        """Subscribe to every requested topic that now has a publisher."""
        on_graph = dict(self.node.get_topic_names_and_types())
        for topic in self.topics:
            if topic in self.connections or topic in self.skipped or topic not in on_graph:
                continue
            publishers = self.node.get_publishers_info_by_topic(topic)
            if not publishers:        # known only from subscribers: wait for a publisher
                continue
            kind = on_graph[topic][0]
            if len(on_graph[topic]) > 1:
                self.log(f'warning: {topic} has types {on_graph[topic]}; recording {kind}')
            try:
                msg_class = message_class(kind)
                self.typestore.generate_msgdef(kind, ros_version=2)
            except Exception as exc:  # noqa: BLE001 - unknown type in rclpy or typestore
                self.skipped[topic] = f'type {kind} cannot be recorded here ({exc})'
                self.log(f'warning: not recording {topic}: {self.skipped[topic]}')
                continue
            self.connections[topic] = self.writer.add_connection(topic, kind,
                                                                 typestore=self.typestore)
            self.types[topic] = kind
            qos = subscription_qos(publishers)
            self.node.create_subscription(msg_class, topic, functools.partial(self._write, topic),
                                          qos, raw=True)
            reliable = qos.reliability == ReliabilityPolicy.RELIABLE
            latched = qos.durability == DurabilityPolicy.TRANSIENT_LOCAL
            self.log(f'recording {topic} [{kind}] ({"reliable" if reliable else "best effort"}'
                     f'{", transient local" if latched else ""}) from '
                     f'{time.monotonic() - self.start:.1f} s')

    def _write(self, topic: str, data: bytes):
        self.writer.write(self.connections[topic], self.node.get_clock().now().nanoseconds, data)
        self.counts[topic] += 1

    def summary(self) -> str:
        """Return the per-topic message counts as a table."""
        width = max((len(t) for t in self.topics), default=0)
        lines = []
        for topic in self.topics:
            what = self.types.get(topic) or self.skipped.get(topic) or 'never published'
            lines.append(f'  {topic:<{width}}  {self.counts[topic]:>7}  {what}')
        return '\n'.join(lines)


def record(out: str | Path, topics: Iterable[str] = DEFAULT_TOPICS, duration: float = 0.0,
           stop: threading.Event | None = None, log: Callable[[str], None] | None = None
           ) -> dict[str, int]:
    """
    Record ``topics`` into the new MCAP bag ``out`` until Ctrl-C, ``stop`` or ``duration`` s.

    Returns the message count per (resolved) topic.
    """
    out = Path(out)
    if out.exists():
        raise FileExistsError(f'{out} exists; a rosbag2 recording needs a new directory, '
                              'pick another --out')
    log = log or functools.partial(print, flush=True)
    stop = stop or threading.Event()
    # our own SIGINT/SIGTERM handlers: stop spinning, then close the bag (not mid-write)
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {s: signal.signal(s, lambda *_: stop.set())
                    for s in (signal.SIGINT, signal.SIGTERM)}
    node = executor = writer = recorder = None
    try:
        node = Node('wm_ros_record')
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        recorder = Recorder(node, Writer(out, version=9, storage_plugin=StoragePlugin.MCAP),
                            topics, log)
        recorder.writer.open()
        writer = recorder.writer
        log(f'recording to {out} (MCAP): {", ".join(recorder.topics)}; Ctrl-C stops')
        start = time.monotonic()
        next_check = start
        while not stop.is_set() and not (duration and time.monotonic() - start >= duration):
            now = time.monotonic()
            if now >= next_check:
                recorder.discover()
                period = 0.1 if now - start < FIRST_DISCOVERY_S else DISCOVERY_PERIOD_S
                next_check = now + period
            executor.spin_once(timeout_sec=0.05)
    finally:
        if writer is not None:
            writer.close()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    log(f'bag {out} closed: {sum(recorder.counts.values())} messages\n{recorder.summary()}')
    return recorder.counts
