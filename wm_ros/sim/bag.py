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
Episodes to and from rosbag2 MCAP bags (the ``rosbags`` package; no ROS install needed).

Topics written, with the message types the ``sim_robot`` node publishes, so a bag
recorded on a robot with ``ros2 bag record -s mcap`` reads back the same way:

==========================  ==========================  ==================================
topic                       type                        per episode
==========================  ==========================  ==================================
``/camera/image_raw``       sensor_msgs/msg/Image       T+1 frames, rgb8
``/ee_pose``                geometry_msgs/msg/PoseStamped  T+1
``/ee_twist_cmd``           geometry_msgs/msg/TwistStamped T (action k stamped with frame k)
``/task/success``           std_msgs/msg/Bool           T+1
``/sim/block_poses``        geometry_msgs/msg/PoseArray T+1 (simulation ground truth)
``/task/instruction``       std_msgs/msg/String         1
``/task/spec``              std_msgs/msg/String         1 (JSON scene + task, simulation)
==========================  ==========================  ==================================

On import, frames are paired with the latest pose, command and success at or before
their stamp. A robot bag without ``/task/spec`` imports with an empty scene.

:func:`recover` (``wm-ros bag recover``, like ``ros2 bag reindex``) repairs a bag whose
recorder was killed: it reads the MCAP file record by record up to where it breaks off,
drops the torn last record, writes a complete file (summary, chunk and message indexes)
in its place, keeps the damaged one as ``<name>.mcap.broken`` and rewrites ``metadata.yaml``.
"""

from __future__ import annotations

import json
from pathlib import Path
import shutil
import struct

import numpy as np
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer
from rosbags.rosbag2.metadata import parse_qos
from rosbags.rosbag2.storage_mcap import decompress
from rosbags.typesys import get_types_from_msg, get_typestore, Stores

from wm_ros import image_encoding
from wm_ros.sim.dataset import Episode
from wm_ros.sim.scene import Scene
from wm_ros.sim.tasks import Task, UNKNOWN
import yaml

TOPICS = {
    'image': ('/camera/image_raw', 'sensor_msgs/msg/Image'),
    'ee': ('/ee_pose', 'geometry_msgs/msg/PoseStamped'),
    'cmd': ('/ee_twist_cmd', 'geometry_msgs/msg/TwistStamped'),
    'success': ('/task/success', 'std_msgs/msg/Bool'),
    'blocks': ('/sim/block_poses', 'geometry_msgs/msg/PoseArray'),
    'instruction': ('/task/instruction', 'std_msgs/msg/String'),
    'spec': ('/task/spec', 'std_msgs/msg/String'),
}
FRAME_ID = 'board'


def typestore():
    """Return the ROS 2 Jazzy message definitions used for bags."""
    return get_typestore(Stores.ROS2_JAZZY)


def _stamp(ts, ns: int):
    return ts.types['builtin_interfaces/msg/Time'](sec=ns // 10**9, nanosec=ns % 10**9)


def _header(ts, ns: int, frame: str = FRAME_ID):
    return ts.types['std_msgs/msg/Header'](stamp=_stamp(ts, ns), frame_id=frame)


def _pose(ts, x: float, y: float, yaw: float = 0.0):
    t = ts.types
    return t['geometry_msgs/msg/Pose'](
        position=t['geometry_msgs/msg/Point'](x=float(x), y=float(y), z=0.0),
        orientation=t['geometry_msgs/msg/Quaternion'](x=0.0, y=0.0, z=float(np.sin(yaw / 2)),
                                                      w=float(np.cos(yaw / 2))))


def export_mcap(episode: Episode, path: str | Path, start_ns: int = 1_700_000_000 * 10**9
                ) -> Path:
    """Write ``episode`` to a new rosbag2 directory ``path`` with MCAP storage."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f'{path} exists; rosbag2 writes a new directory, pick another')
    ts = typestore()
    t = ts.types
    dt_ns = int(round(episode.dt * 1e9))
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = {k: writer.add_connection(topic, kind, typestore=ts)
                 for k, (topic, kind) in TOPICS.items()}

        def put(key, ns, msg):
            writer.write(conns[key], ns, ts.serialize_cdr(msg, TOPICS[key][1]))

        spec = json.dumps({'scene': episode.scene.to_dict(), 'task': episode.task.to_dict(),
                           'behaviour': episode.behaviour, 'seed': episode.seed,
                           'dt': episode.dt})
        put('instruction', start_ns, t['std_msgs/msg/String'](data=episode.instruction))
        put('spec', start_ns, t['std_msgs/msg/String'](data=spec))
        for k in range(len(episode) + 1):
            ns = start_ns + k * dt_ns
            img = episode.images[k]
            data, step = image_encoding.encode(img, 'rgb8')
            put('image', ns, t['sensor_msgs/msg/Image'](
                header=_header(ts, ns, 'camera'), height=img.shape[0], width=img.shape[1],
                encoding='rgb8', is_bigendian=0, step=step,
                data=np.frombuffer(data, np.uint8)))
            put('ee', ns, t['geometry_msgs/msg/PoseStamped'](
                header=_header(ts, ns), pose=_pose(ts, *episode.ee_xy[k])))
            put('success', ns, t['std_msgs/msg/Bool'](data=bool(episode.success[k])))
            put('blocks', ns, t['geometry_msgs/msg/PoseArray'](
                header=_header(ts, ns), poses=[_pose(ts, *s) for s in episode.block_states[k]]))
            if k < len(episode):
                vx, vy = episode.actions[k]
                v3 = t['geometry_msgs/msg/Vector3']
                put('cmd', ns, t['geometry_msgs/msg/TwistStamped'](
                    header=_header(ts, ns), twist=t['geometry_msgs/msg/Twist'](
                        linear=v3(x=float(vx), y=float(vy), z=0.0),
                        angular=v3(x=0.0, y=0.0, z=0.0))))
    return path


def _yaw(q) -> float:
    return float(2.0 * np.arctan2(q.z, q.w))


def import_mcap(path: str | Path, image_topic: str = TOPICS['image'][0]) -> Episode:
    """Read a bag written by :func:`export_mcap` or recorded on a robot into an Episode."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f'bag {path} does not exist')
    ts = typestore()
    topics = {k: v[0] for k, v in TOPICS.items()}
    topics['image'] = image_topic
    by_topic: dict[str, list] = {k: [] for k in topics}
    with Reader(path) as reader:
        present = {c.topic for c in reader.connections}
        if image_topic not in present:
            raise ValueError(f'bag {path} has no {image_topic}; it has {sorted(present)}')
        wanted = [c for c in reader.connections if c.topic in topics.values()]
        for conn, ns, raw in reader.messages(connections=wanted):
            key = next(k for k, v in topics.items() if v == conn.topic)
            by_topic[key].append((ns, ts.deserialize_cdr(raw, conn.msgtype)))
    frames = sorted(by_topic['image'], key=lambda m: m[0])
    if len(frames) < 2:
        raise ValueError(f'bag {path} holds {len(frames)} camera frame(s); an episode needs 2+')

    def latest(key, ns, default):
        msgs = [m for t, m in by_topic[key] if t <= ns]
        return msgs[-1] if msgs else default

    images, ee, actions, success, states = [], [], [], [], []
    for k, (ns, img) in enumerate(frames):
        images.append(image_encoding.decode(img.data, img.height, img.width, img.encoding,
                                            img.step))
        pose = latest('ee', ns, None)
        ee.append([pose.pose.position.x, pose.pose.position.y] if pose else [np.nan, np.nan])
        ok = latest('success', ns, None)
        success.append(bool(ok.data) if ok else False)
        blocks = latest('blocks', ns, None)
        states.append([[p.position.x, p.position.y, _yaw(p.orientation)]
                       for p in blocks.poses] if blocks else [])
        if k < len(frames) - 1:
            cmd = latest('cmd', ns, None)
            actions.append([cmd.twist.linear.x, cmd.twist.linear.y] if cmd else [0.0, 0.0])
    spec = json.loads(by_topic['spec'][0][1].data) if by_topic['spec'] else None
    instruction = by_topic['instruction'][0][1].data if by_topic['instruction'] else ''
    dt = (frames[-1][0] - frames[0][0]) / (len(frames) - 1) / 1e9
    n_blocks = max((len(s) for s in states), default=0)
    block_states = np.array([s if len(s) == n_blocks else [[np.nan] * 3] * n_blocks
                             for s in states], np.float32).reshape(len(frames), n_blocks, 3)
    return Episode(
        np.stack(images), np.array(ee, np.float32), np.array(actions, np.float32),
        np.array(success), block_states,
        Scene.from_dict(spec['scene']) if spec else Scene(()),
        Task.from_dict(spec['task']) if spec else Task(UNKNOWN, instruction),
        spec['behaviour'] if spec else 'recorded', spec['seed'] if spec else 0,
        spec['dt'] if spec else dt)


MCAP_MAGIC = b'\x89MCAP0\r\n'
_SCHEMA, _CHANNEL, _MESSAGE, _CHUNK, _DATA_END = 0x03, 0x04, 0x05, 0x06, 0x0F


def _string(buf: bytes, i: int) -> tuple[bytes, int]:
    """Return the uint32-length-prefixed bytes at ``buf[i:]`` and the offset after them."""
    n = int.from_bytes(buf[i:i + 4], 'little')
    return buf[i + 4:i + 4 + n], i + 4 + n


def _records(buf: bytes):
    """Yield ``(opcode, body)`` of the complete records in ``buf`` (a chunk's records)."""
    i = 0
    while i + 9 <= len(buf):
        op, size = struct.unpack_from('<BQ', buf, i)
        if i + 9 + size > len(buf):
            return
        yield op, buf[i + 9:i + 9 + size]
        i += 9 + size


def _bag_file(path: Path) -> Path:
    """Return the one MCAP file of the bag directory ``path``; errors say what is wrong."""
    if not path.exists():
        raise FileNotFoundError(f'bag {path} does not exist')
    if path.is_file() and path.suffix == '.mcap':
        return path
    files = sorted(path.glob('*.mcap')) if path.is_dir() else []
    if len(files) != 1:
        found = f'{len(files)} ({", ".join(f.name for f in files)})' if files else 'none'
        raise ValueError(f'{path} is not a rosbag2 MCAP bag (.mcap files in it: {found}); '
                         'pass the directory that `wm-ros record --out` or '
                         '`ros2 bag record -s mcap` wrote, or its one .mcap file')
    return files[0]


def _is_complete(mcap: Path) -> bool:
    """Whether ``mcap`` ends with a footer and its bag opens with ``rosbags``."""
    with mcap.open('rb') as f:
        if f.seek(0, 2) < 8 + 37:
            return False
        f.seek(-37, 2)
        tail = f.read()
    if tail[0] != 0x02 or tail[-8:] != MCAP_MAGIC:
        return False
    try:
        with Reader(mcap.parent):
            return True
    except (ReaderError, OSError, KeyError, ValueError):
        return False


def _old_hashes(bag: Path) -> dict[tuple[str, str], str]:
    """Return ``{(topic, type): type_description_hash}`` from an old ``metadata.yaml``."""
    try:
        info = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
        return {(t['topic_metadata']['name'], t['topic_metadata']['type']):
                t['topic_metadata']['type_description_hash']
                for t in info['topics_with_message_count']}
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return {}


def _type_hash(msgtype: str, msgdef: str) -> str:
    """Return the RIHS01 hash of ``msgtype``: from the Jazzy typestore or its definition."""
    store = typestore()
    if msgtype not in store.fielddefs:
        store.register(get_types_from_msg(msgdef, msgtype))
    return store.hash_rihs01(msgtype)


def recover(path: str | Path) -> dict:
    """
    Rebuild the summary and ``metadata.yaml`` of the cut-off MCAP bag ``path``.

    Returns ``{'file', 'broken', 'counts': {topic: n}, 'start_ns', 'end_ns', 'lost_bytes'}``;
    ``broken`` is None (and nothing changes) when the bag was already complete.
    """
    mcap = _bag_file(Path(path))
    bag = mcap.parent
    with mcap.open('rb') as f:
        head = f.read(8)
    if head != MCAP_MAGIC:
        raise ValueError(f'{mcap} is not an MCAP file (it starts with {head!r}); '
                         'nothing was changed')
    if _is_complete(mcap):
        with Reader(bag) as reader:
            counts = {c.topic: c.msgcount for c in reader.connections}
            return {'file': mcap, 'broken': None, 'counts': counts, 'lost_bytes': 0,
                    'start_ns': reader.start_time, 'end_ns': reader.end_time}
    hashes = _old_hashes(bag)
    tmp = bag / '.recover'
    shutil.rmtree(tmp, ignore_errors=True)           # left by an interrupted recovery
    tmp.mkdir()
    writer = Writer(tmp / mcap.stem, version=9, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    schemas: dict[int, tuple[str, str]] = {}
    conns: dict[int, object] = {}
    counts: dict[str, int] = {}
    span = [2**63 - 1, 0]

    def take(op: int, body: bytes):
        if op == _SCHEMA:
            sid = int.from_bytes(body[:2], 'little')
            name, i = _string(body, 2)
            _, i = _string(body, i)                               # encoding
            schemas[sid] = (name.decode(), _string(body, i)[0].decode())
        elif op == _CHANNEL:
            cid, sid = struct.unpack_from('<HH', body)
            topic, i = _string(body, 4)
            encoding, i = _string(body, i)
            meta, _ = _string(body, i)
            pairs, j = {}, 0
            while j < len(meta):
                key, j = _string(meta, j)
                pairs[key.decode()], j = _string(meta, j)
            if cid in conns or sid not in schemas:
                return
            msgtype, msgdef = schemas[sid]
            qos = parse_qos(pairs.get('offered_qos_profiles', b'').decode())
            digest = hashes.get((topic.decode(), msgtype)) or _type_hash(msgtype, msgdef)
            conns[cid] = writer.add_connection(
                topic.decode(), msgtype, msgdef=msgdef, rihs01=digest,
                serialization_format=encoding.decode(), offered_qos_profiles=qos)
            counts.setdefault(topic.decode(), 0)
        elif op == _MESSAGE:
            cid, _, stamp = struct.unpack_from('<HIQ', body)
            if cid in conns:
                writer.write(conns[cid], stamp, body[22:])
                counts[conns[cid].topic] += 1
                span[:] = min(span[0], stamp), max(span[1], stamp)

    with mcap.open('rb') as f:
        f.seek(8)
        end = f.seek(0, 2)
        f.seek(8)
        good = 8                                  # end of the last complete record
        while (head := f.read(9)) and len(head) == 9:
            op, size = struct.unpack('<BQ', head)
            body = f.read(size) if size <= end - good else b''
            if len(body) < size:
                break                             # torn last record
            if op == _DATA_END:
                good = end                        # the data section is complete
                break
            if op == _CHUNK:
                start_t, _, raw_size, crc = struct.unpack_from('<QQQI', body)
                compression, i = _string(body, 28)
                n = int.from_bytes(body[i:i + 8], 'little')
                try:
                    raw = decompress(body[i + 8:i + 8 + n], compression.decode(), raw_size, crc)
                except ReaderError:
                    break                         # a damaged chunk: keep what came before
                for rec in _records(raw):
                    take(*rec)
            else:
                take(op, body)
            good = f.tell()
    writer.close()
    broken = mcap.with_name(mcap.name + '.broken')
    k = 1
    while broken.exists():
        broken, k = mcap.with_name(f'{mcap.name}.broken.{k}'), k + 1
    mcap.replace(broken)
    (tmp / mcap.stem / mcap.name).replace(mcap)
    (tmp / mcap.stem / 'metadata.yaml').replace(bag / 'metadata.yaml')
    shutil.rmtree(tmp)
    return {'file': mcap, 'broken': broken, 'counts': counts, 'lost_bytes': end - good,
            'start_ns': span[0] if sum(counts.values()) else 0, 'end_ns': span[1]}
