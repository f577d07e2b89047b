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
Label-free training data from any rosbag2 MCAP: camera frames, commands, end-effector pose.

What a robot records is all that is read: an image topic (``sensor_msgs/msg/Image``), a
velocity command topic (``geometry_msgs/msg/TwistStamped`` or ``Twist``) and a pose topic
(``geometry_msgs/msg/PoseStamped`` or ``Pose``). Which topic is which comes from a
:class:`TopicMap` (a YAML file ``{image: ..., command: ..., pose: ...}`` or flags); no
object labels, no ``/task/spec``.

Time alignment (stamps: the message header where there is one, else the time the bag
logged it):

* frames are resampled to the model's control period (the frame nearest each tick of a
  ``1 / control_hz`` grid, within half a period and 0.6 camera periods; a 30 Hz camera
  feeds a 10 Hz model every third frame); a tick with no frame splits the bag into
  episodes there;
* the pose of a frame is interpolated linearly between the poses around its stamp;
* the action between frames ``k`` and ``k + 1`` is the command the robot held over that
  interval, averaged by time (zero-order hold; a command sent at 50 Hz is averaged, one
  sent once per frame is taken as is; before the first command: zero);
* frames are cropped to a centred square and resized (area filter) to ``image_size``.

A missing topic, or one of an unreadable type, raises :class:`BagTopicError` listing every
topic of the bag with its type, and says which flag or YAML key picks another.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from PIL import Image

from wm_ros import image_encoding
from wm_ros.config import ConfigError, from_dict
import yaml

IMAGE_TYPES = ('sensor_msgs/msg/Image',)
COMMAND_TYPES = ('geometry_msgs/msg/TwistStamped', 'geometry_msgs/msg/Twist')
POSE_TYPES = ('geometry_msgs/msg/PoseStamped', 'geometry_msgs/msg/Pose')


class BagTopicError(ValueError):
    """A topic the mapping names is not in the bag, or has a type that cannot be read."""


@dataclass(frozen=True)
class TopicMap:
    """Which bag topic holds the camera, the velocity command and the end-effector pose."""

    image: str = '/camera/image_raw'
    command: str = '/ee_twist_cmd'
    pose: str = '/ee_pose'

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides) -> 'TopicMap':
        """Read ``path`` (YAML ``{image, command, pose}``) then apply non-empty overrides."""
        data = {}
        if path:
            try:
                data = yaml.safe_load(Path(path).read_text()) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise ConfigError(f'topic map {path}: {exc}') from None
        data.update({k: v for k, v in overrides.items() if v})
        return from_dict(cls, data, source=f'topic map {path or "(flags)"}')

    def as_dict(self) -> dict:
        """Return ``{role: topic}``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Recording:
    """
    One label-free episode, read from a bag.

    ``images`` uint8[T+1, S, S, 3], ``ee_xy`` float32[T+1, 2], ``actions`` float32[T, 2]
    (m/s), ``dt`` (s); ``extra`` has the bag, topics and frame stamps. These are the
    fields a :class:`~wm_ros.sim.dataset.Episode` shares with it, so label-free training
    reads either.
    """

    images: np.ndarray
    ee_xy: np.ndarray
    actions: np.ndarray
    dt: float
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.actions)


def _stamp_ns(msg, log_ns: int) -> int:
    header = getattr(msg, 'header', None)
    if header is None:
        return log_ns
    ns = int(header.stamp.sec) * 10**9 + int(header.stamp.nanosec)
    return ns if ns > 0 else log_ns


def _check_topics(path: Path, topics: TopicMap, present: dict[str, str]) -> None:
    listing = ', '.join(f'{t} ({present[t]})' for t in sorted(present)) or 'none'
    for role, types in (('image', IMAGE_TYPES), ('command', COMMAND_TYPES),
                        ('pose', POSE_TYPES)):
        topic = getattr(topics, role)
        if topic not in present:
            raise BagTopicError(
                f'bag {path} has no {role} topic {topic!r}. Its topics: {listing}. Pick '
                f'another with --{role}-topic or `{role}:` in the --topics YAML file')
        if present[topic] not in types:
            raise BagTopicError(
                f'bag {path}: {role} topic {topic!r} is {present[topic]}; wm_ros reads '
                f'{" or ".join(types)}. Its topics: {listing}')


def read_messages(path: str | Path, topics: TopicMap) -> dict[str, list]:
    """
    Return ``{role: [(stamp_ns, message), ...]}`` sorted by stamp (see the docstring).

    A damaged or cut-off bag raises :class:`~wm_ros.sim.bag.BagReadError`.
    """
    from wm_ros.sim.bag import read_topics
    path = Path(path)
    roles = {v: k for k, v in topics.as_dict().items()}
    out: dict[str, list] = {k: [] for k in topics.as_dict()}

    def pick(present: dict[str, str]) -> list[str]:
        _check_topics(path, topics, present)
        return list(roles)
    for topic, ns, msg in read_topics(path, pick):
        out[roles[topic]].append((_stamp_ns(msg, ns), msg))
    for role in out:
        out[role].sort(key=lambda m: m[0])
    return out


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = Image.fromarray(image[top:top + s, left:left + s])
    return np.asarray(square.resize((size, size), Image.Resampling.BOX))


def _resample(stamps: np.ndarray, period_ns: float) -> list[list[int]]:
    """
    Return runs of frame indices, one frame per control tick (the nearest to it).

    A tick with no frame within ``tol`` (half a period, at most 0.6 camera periods) ends
    the run; the next run's ticks start at the next frame.
    """
    runs, run = [], []
    tol = min(period_ns / 2, 0.6 * float(np.median(np.diff(stamps)))) if len(stamps) > 1 \
        else period_ns / 2
    tick = float(stamps[0])
    while tick <= stamps[-1] + period_ns / 2:
        j = int(np.searchsorted(stamps, tick))
        near = min((k for k in (j - 1, j) if 0 <= k < len(stamps)),
                   key=lambda k: abs(stamps[k] - tick))
        if abs(stamps[near] - tick) <= tol and (not run or near > run[-1]):
            run.append(near)
            tick += period_ns
            continue
        if len(run) >= 2:
            runs.append(run)
        run = []
        after = int(np.searchsorted(stamps, tick + tol, side='right'))
        if after >= len(stamps):
            break
        tick = float(stamps[after])
    if len(run) >= 2:
        runs.append(run)
    return runs


def _held_mean(cmd_t: np.ndarray, cmd_v: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Return the time-weighted mean over [lo, hi) of a zero-order-held command."""
    if not len(cmd_t) or hi <= lo:
        return np.zeros(2)
    edges = np.concatenate([[lo], cmd_t[(cmd_t > lo) & (cmd_t < hi)], [hi]])
    total = np.zeros(2)
    for a, b in zip(edges[:-1], edges[1:]):
        k = np.searchsorted(cmd_t, a, side='right') - 1
        total += (cmd_v[k] if k >= 0 else 0.0) * (b - a)
    return total / (hi - lo)


def read_bag(path: str | Path, topics: TopicMap | None = None, image_size: int = 64,
             control_hz: float = 10.0) -> list[Recording]:
    """Return the label-free episodes of one bag (see the module docstring)."""
    topics = topics or TopicMap()
    msgs = read_messages(path, topics)
    frames = msgs['image']
    if len(frames) < 2:
        raise ValueError(f'bag {path} holds {len(frames)} frame(s) on {topics.image}; '
                         'an episode needs 2+')
    if not msgs['pose']:
        raise ValueError(f'bag {path} has no messages on {topics.pose}')
    stamps = np.array([t for t, _ in frames], np.int64)
    pose_t = np.array([t for t, _ in msgs['pose']], np.float64)
    pose_xy = np.array([[_pose_of(m).position.x, _pose_of(m).position.y]
                        for _, m in msgs['pose']], np.float64)
    cmd_t = np.array([t for t, _ in msgs['command']], np.int64)
    cmd_v = np.array([[_twist_of(m).linear.x, _twist_of(m).linear.y]
                      for _, m in msgs['command']], np.float64).reshape(-1, 2)
    period = 1e9 / control_hz
    episodes = []
    for run in _resample(stamps, period):
        t = stamps[run]
        images = np.stack([_resize(image_encoding.decode(
            frames[i][1].data, frames[i][1].height, frames[i][1].width,
            frames[i][1].encoding, frames[i][1].step), image_size) for i in run])
        ee = np.stack([np.interp(t, pose_t, pose_xy[:, k]) for k in range(2)], 1)
        actions = np.array([_held_mean(cmd_t, cmd_v, int(a), int(b))
                            for a, b in zip(t[:-1], t[1:])])
        episodes.append(Recording(
            images, ee.astype(np.float32), actions.astype(np.float32), 1.0 / control_hz,
            {'bag': str(path), 'topics': topics.as_dict(), 'stamps_ns': t.tolist()}))
    if not episodes:
        raise ValueError(f'bag {path}: no run of 2+ frames at {control_hz} Hz on '
                         f'{topics.image}')
    return episodes


def _pose_of(msg):
    return msg.pose if hasattr(msg, 'header') else msg


def _twist_of(msg):
    return msg.twist if hasattr(msg, 'header') else msg
