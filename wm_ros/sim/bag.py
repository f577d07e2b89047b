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

A bag whose recorder was killed is repaired by :mod:`wm_ros.sim.bag_recover`; reading a
damaged or cut-off bag raises :class:`BagReadError`, which names the file and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
import json
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import get_typestore, Stores

from wm_ros import image_encoding
from wm_ros.sim.dataset import Episode
from wm_ros.sim.scene import Scene
from wm_ros.sim.tasks import Task, UNKNOWN

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


class BagReadError(ValueError):
    """A bag whose file cannot be read to the end: cut off, or damaged after its header."""


def _unreadable(path: Path, exc: Exception) -> BagReadError:
    return BagReadError(f'bag {path} cannot be read ({type(exc).__name__}: {exc}): it is '
                        f'damaged or was cut off; repair it with `wm-ros bag recover {path}` '
                        '(it keeps the messages before the damage), then read it again')


def read_topics(path: str | Path, pick: Callable[[dict[str, str]], Collection[str]]
                ) -> list[tuple[str, int, object]]:
    """
    Return ``(topic, log_ns, message)`` of the bag's topics that ``pick`` names, in bag order.

    ``pick({topic: type})`` sees every topic of the bag; it raises for a bag that lacks one
    it needs. A file that cannot be opened or read to the end raises :class:`BagReadError`.
    """
    path = Path(path)
    ts = typestore()
    reader = _open(path)
    try:
        topics = set(pick({c.topic: c.msgtype for c in reader.connections}))
        wanted = [c for c in reader.connections if c.topic in topics]
        for c in wanted:
            if c.msgtype not in ts.fielddefs:
                raise ValueError(f'bag {path}: topic {c.topic} has type {c.msgtype}, which '
                                 'wm_ros cannot decode')
        return [(c.topic, ns, _decode(path, ts, c, ns, raw))
                for c, ns, raw in _raw_messages(path, reader, wanted)]
    finally:
        reader.close()


def check_bag(path: str | Path) -> None:
    """
    Raise :class:`BagReadError` unless the bag opens and every record of it reads.

    Reads the file once and decodes no message (what a command checks before it works).
    """
    path = Path(path)
    reader = _open(path)
    try:
        for _ in _raw_messages(path, reader, list(reader.connections)):
            pass
    finally:
        reader.close()


def _open(path: Path) -> Reader:
    """Return the open reader of the bag ``path``; :class:`BagReadError` if it cannot open."""
    if not path.exists():
        raise FileNotFoundError(f'bag {path} does not exist')
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:                     # rosbags raises anything on damaged bytes
        raise _unreadable(path, exc) from None
    return reader


def _raw_messages(path: Path, reader: Reader, wanted: list):
    """Yield ``reader``'s raw messages of ``wanted``; :class:`BagReadError` where it breaks."""
    messages = reader.messages(connections=wanted)
    while True:
        try:
            item = next(messages)
        except StopIteration:
            return
        except Exception as exc:                 # a torn record, a bad chunk, ...
            raise _unreadable(path, exc) from None
        yield item


def _decode(path: Path, ts, connection, ns: int, raw: bytes):
    """Return the message in ``raw``; :class:`BagReadError` if its bytes are damaged."""
    try:
        return ts.deserialize_cdr(raw, connection.msgtype)
    except Exception as exc:
        raise BagReadError(
            f'bag {path}: a {connection.msgtype} message on {connection.topic} (logged at '
            f'{ns} ns) cannot be decoded ({type(exc).__name__}: {exc}): its bytes are '
            'damaged, which `wm-ros bag recover` cannot repair; record the bag again') from None


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
    topics = {k: v[0] for k, v in TOPICS.items()}
    topics['image'] = image_topic
    by_topic: dict[str, list] = {k: [] for k in topics}

    def pick(present: dict[str, str]) -> Collection[str]:
        if image_topic not in present:
            raise ValueError(f'bag {path} has no {image_topic}; it has {sorted(present)}')
        return topics.values()
    for topic, ns, msg in read_topics(path, pick):
        key = next(k for k, v in topics.items() if v == topic)
        by_topic[key].append((ns, msg))
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
    instruction = by_topic['instruction'][0][1].data if by_topic['instruction'] else ''
    dt = (frames[-1][0] - frames[0][0]) / (len(frames) - 1) / 1e9
    spec = _spec(path, by_topic['spec'][0][1].data, dt) if by_topic['spec'] else None
    n_blocks = max((len(s) for s in states), default=0)
    block_states = np.array([s if len(s) == n_blocks else [[np.nan] * 3] * n_blocks
                             for s in states], np.float32).reshape(len(frames), n_blocks, 3)
    return Episode(
        np.stack(images), np.array(ee, np.float32), np.array(actions, np.float32),
        np.array(success), block_states, *(spec or (Scene(()), Task(UNKNOWN, instruction),
                                                    'recorded', 0, dt)))


def _spec(path: str | Path, text: str, dt: float) -> tuple:
    """
    Return ``(scene, task, behaviour, seed, dt)`` from a ``/task/spec`` message's JSON.

    ``wm-ros bag export`` writes all five; ``sim_robot`` publishes only the scene and task
    (and its episode number): the bag recorded from it is then a ``recorded`` episode of seed
    0 at the ``dt`` its camera frames show.
    """
    try:
        spec = json.loads(text)
        return (Scene.from_dict(spec['scene']), Task.from_dict(spec['task']),
                str(spec.get('behaviour', 'recorded')), int(spec.get('seed', 0)),
                float(spec.get('dt', dt)))
    except (ValueError, KeyError, TypeError) as exc:
        raise BagReadError(f'bag {path}: its {TOPICS["spec"][0]} message is damaged '
                           f'({type(exc).__name__}: {exc}); record the bag again') from None
