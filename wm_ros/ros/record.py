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

An rclpy node looks up each requested topic's type on the graph (every 0.1 s while a
requested topic is still missing, so topics that appear later are picked up within ~0.1 s),
subscribes with ``raw=True`` and writes the serialized CDR bytes, stamped with the receipt
time, to a new rosbag2 MCAP bag through ``rosbags`` (message definitions from its ROS 2
Jazzy typestore). The subscription QoS follows the publishers: reliable unless one of them
is best effort, transient local when all of them are (so latched topics such as
``task/instruction`` arrive); the publishers' offered QoS is stored per topic in
``metadata.yaml`` and in the MCAP channel metadata (``offered_qos_profiles``), as rosbag2 does.

Crash safety: every ``SYNC_PERIOD_S`` the pending MCAP chunk is written, flushed and
fsync'ed, and ``metadata.yaml`` (written at start) is rewritten atomically with the counts
so far. A recorder killed with SIGKILL, or a power loss, leaves a file whose complete
chunks hold everything up to the last sync; ``wm-ros bag recover BAG`` rebuilds its summary
and ``metadata.yaml``. Ctrl-C (SIGINT), SIGTERM or the end of ``duration`` closes the bag
cleanly: everything received is readable without recovery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
import functools
import importlib
import os
from pathlib import Path
import signal
import threading
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,
                                QosReliability, QosTime)
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.metadata import dump_qos_v9
from rosbags.rosbag2.storage_mcap import McapWriter
from rosbags.typesys import get_typestore, Stores
import yaml

DEFAULT_TOPICS = ('camera/image_raw', 'camera/camera_info', 'ee_pose', 'ee_twist_cmd',
                  'imagined/camera/image_raw', 'imagined/ee_pose', 'imagined/uncertainty',
                  'compare/metrics', 'task/instruction')
DISCOVERY_PERIOD_S = 0.1     # re-check the graph while a requested topic is missing
SYNC_PERIOD_S = 0.25         # pending chunk to disk (flush + fsync): the most SIGKILL loses
METADATA_PERIOD_S = 1.0      # rewrite metadata.yaml with the counts so far
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


def offered_qos(publishers) -> list[Qos]:
    """Return the publishers' offered QoS as rosbag2 stores it (``offered_qos_profiles``)."""
    def span(duration) -> QosTime:      # infinite: 2**63-1 ns -> 9223372036 s 854775807 ns
        return QosTime(*divmod(duration.nanoseconds, 10**9))

    return [Qos(QosHistory(int(q.history)), q.depth, QosReliability(int(q.reliability)),
                QosDurability(int(q.durability)), span(q.deadline), span(q.lifespan),
                QosLiveliness(int(q.liveliness)), span(q.liveliness_lease_duration),
                q.avoid_ros_namespace_conventions)
            for q in (p.qos_profile for p in publishers)]


class _SyncedMcap(McapWriter):
    """
    rosbags' MCAP storage that can write its pending chunk to disk on demand.

    Uses ``chunk``, ``close_chunk`` and ``bio`` of ``rosbags.rosbag2.storage_mcap.McapWriter``
    (rosbags 0.11); ``test_record.py`` fails loudly if a rosbags release renames them.
    """

    def sync(self):
        """Close the pending chunk (if any), flush and fsync the file."""
        chunk = self.chunk
        if chunk.bio.tell():
            if not chunk.msgs:        # only schema/channel records: a chunk without a span
                chunk.message_start_time = chunk.message_end_time = 0
            self.close_chunk()
        self.bio.flush()
        os.fsync(self.bio.fileno())


class SyncedWriter(Writer):
    """A rosbag2 MCAP writer whose ``sync`` makes what it holds survive SIGKILL and power loss."""

    STORAGE_PLUGINS = {StoragePlugin.MCAP: _SyncedMcap}

    def __init__(self, path: str | Path):
        super().__init__(path, version=9, storage_plugin=StoragePlugin.MCAP)

    def sync(self, metadata: bool = True):
        """Write the pending chunk to disk and, if ``metadata``, rewrite ``metadata.yaml``."""
        self.storage.sync()
        if metadata:
            tmp = self.metapath.with_suffix('.yaml.tmp')
            with tmp.open('w') as f:
                yaml.safe_dump(self.metadata(), f, sort_keys=False)
                f.flush()
                os.fsync(f.fileno())
            tmp.replace(self.metapath)
            folder = os.open(self.path, os.O_RDONLY)   # the renames survive power loss too
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

    def metadata(self) -> dict:
        """Return ``metadata.yaml`` of what was written so far (as ``Writer.close`` does)."""
        count = sum(self.counts.values())
        start = self.min_timestamp if count else 0
        duration = self.max_timestamp - self.min_timestamp if count else 0
        name = self.storage.path.name

        def span() -> dict:               # fresh dicts: no YAML anchors in the file
            return {'duration': {'nanoseconds': duration},
                    'starting_time': {'nanoseconds_since_epoch': start}}

        return {'rosbag2_bagfile_information': {
            'version': self.version, 'storage_identifier': 'mcap',
            'relative_file_paths': [name], **span(), 'message_count': count,
            'topics_with_message_count': [
                {'topic_metadata': {
                    'name': c.topic, 'type': c.msgtype,
                    'serialization_format': c.ext.serialization_format,
                    'offered_qos_profiles': dump_qos_v9(c.ext.offered_qos_profiles),
                    'type_description_hash': c.digest},
                 'message_count': self.counts[c.id]} for c in self.connections],
            'compression_format': '', 'compression_mode': '',
            'files': [{'path': name, **span(), 'message_count': count}],
            'custom_data': None, 'ros_distro': 'rosbags'}}


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

    @property
    def missing(self) -> bool:
        """Whether a requested topic is neither recorded nor skipped yet."""
        return len(self.connections) + len(self.skipped) < len(self.topics)

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
            self.connections[topic] = self.writer.add_connection(
                topic, kind, typestore=self.typestore,
                offered_qos_profiles=offered_qos(publishers))
            self.types[topic] = kind
            qos = subscription_qos(publishers)
            self.node.create_subscription(msg_class, topic, functools.partial(self._write, topic),
                                          qos, raw=True)
            reliable = qos.reliability == ReliabilityPolicy.RELIABLE
            latched = qos.durability == DurabilityPolicy.TRANSIENT_LOCAL
            self.log(f'recording {topic} [{kind}] ({"reliable" if reliable else "best effort"}'
                     f'{", transient local" if latched else ""}) from '
                     f'{time.monotonic() - self.start:.2f} s')

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


def _drain(executor, recorder, limit_s: float = 1.0):
    """Write what DDS had already delivered when the recording was stopped (up to 1 s)."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        before = sum(recorder.counts.values())
        executor.spin_once(timeout_sec=0.05)
        if sum(recorder.counts.values()) == before:
            return


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
        recorder = Recorder(node, SyncedWriter(out), topics, log)
        recorder.writer.open()
        writer = recorder.writer
        writer.sync()                                   # metadata.yaml from the start
        log(f'recording to {out} (MCAP): {", ".join(recorder.topics)}; Ctrl-C stops')
        start = time.monotonic()
        next_check = next_sync = next_meta = start
        while not stop.is_set() and not (duration and time.monotonic() - start >= duration):
            now = time.monotonic()
            if recorder.missing and now >= next_check:
                recorder.discover()
                next_check = now + DISCOVERY_PERIOD_S
            if now >= next_sync:
                writer.sync(metadata=now >= next_meta)
                next_sync = now + SYNC_PERIOD_S
                next_meta = next_meta if now < next_meta else now + METADATA_PERIOD_S
            executor.spin_once(timeout_sec=0.02)
        _drain(executor, recorder)
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
