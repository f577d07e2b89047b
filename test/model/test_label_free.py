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
Label-free training from any rosbag2 MCAP: the latent-grid and free-slot families.

The robot bag here has other topic names, a 128x96 camera at 30 Hz, unstamped commands
at 50 Hz and poses at 100 Hz, and no object labels: what a robot team records.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from std_srvs.srv import Trigger

from wm_ros import image_encoding
from wm_ros.cli import main as cli
from wm_ros.episodes.collect import collect
from wm_ros.image_metrics import psnr
from wm_ros.model import free_slots, free_slots_train, latent
from wm_ros.model.bag_source import BagTopicError, read_bag, TopicMap
from wm_ros.ros.bringup import Bringup
from wm_ros.ros.probe import Probe
from wm_ros.runtime.base import ObjectReadout, RuntimeInputError
from wm_ros.runtime.free_slots_backend import TorchFreeSlotsRuntime
from wm_ros.runtime.registry import load_runtime
from wm_ros.sim.bag import typestore
from wm_ros.sim.dataset import iter_episodes

START = 1_700_000_000 * 10**9
TOPICS = TopicMap(image='/front_cam/color', command='/arm/cmd_vel', pose='/arm/pose')


def command(t: float) -> tuple[float, float]:
    """Return the velocity (m/s) the robot is sent at ``t`` s; it changes every 20 ms."""
    k = int(round(t * 50))
    return 0.15 * np.sin(0.7 * k / 5), 0.15 * np.cos(0.5 * k / 5)


def held(ms: int) -> tuple[float, float]:
    """Return the command in force at millisecond ``ms`` (sent every 20 ms, then held)."""
    return command((ms - ms % 20) / 1000)


# the arm follows its commands exactly: position = integral of the held command
PATH = np.concatenate([[[0.0, 0.05]], np.cumsum([held(ms) for ms in range(8000)], 0) * 1e-3
                       + [0.0, 0.05]])


def position(t: float) -> np.ndarray:
    """Return the arm's position at ``t`` s (a whole millisecond)."""
    return PATH[int(round(t * 1000))]


def frame(t: float, h: int = 96, w: int = 128) -> np.ndarray:
    """Return a camera frame: grey board, a dark pusher disc and an orange square."""
    img = np.full((h, w, 3), 128, np.uint8)
    rows, cols = np.mgrid[:h, :w]
    x, y = position(t)
    cx, cy = w / 2 + x / 0.25 * h / 2, h / 2 - y / 0.25 * h / 2
    img[(rows - cy) ** 2 + (cols - cx) ** 2 < 16] = (20, 20, 20)
    bx = int(w / 2 + 20 * np.sin(0.3 * t))
    img[40:52, bx - 6:bx + 6] = (230, 120, 30)
    return img


def write_robot_bag(path, seconds: float = 6.0, gap_at: float | None = None):
    """Write the robot bag; ``gap_at`` drops camera frames for 0.5 s from then."""
    ts = typestore()
    t = ts.types
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        image = writer.add_connection(TOPICS.image, 'sensor_msgs/msg/Image', typestore=ts)
        cmd = writer.add_connection(TOPICS.command, 'geometry_msgs/msg/Twist', typestore=ts)
        pose = writer.add_connection(TOPICS.pose, 'geometry_msgs/msg/PoseStamped',
                                     typestore=ts)
        other = writer.add_connection('/diagnostics', 'std_msgs/msg/String', typestore=ts)
        writer.write(other, START, ts.serialize_cdr(t['std_msgs/msg/String'](data='ok'),
                                                    'std_msgs/msg/String'))
        for ms in range(int(seconds * 1000)):
            ns = START + ms * 10**6
            stamp = t['builtin_interfaces/msg/Time'](sec=ns // 10**9, nanosec=ns % 10**9)
            header = t['std_msgs/msg/Header'](stamp=stamp, frame_id='base')
            if ms % 10 == 0:
                x, y = map(float, position(ms / 1000))
                msg = t['geometry_msgs/msg/PoseStamped'](header=header, pose=t[
                    'geometry_msgs/msg/Pose'](position=t['geometry_msgs/msg/Point'](
                        x=x, y=y, z=0.1), orientation=t['geometry_msgs/msg/Quaternion'](
                        x=0.0, y=0.0, z=0.0, w=1.0)))
                writer.write(pose, ns, ts.serialize_cdr(msg, 'geometry_msgs/msg/PoseStamped'))
            if ms % 20 == 0:
                vx, vy = map(float, command(ms / 1000))
                v3 = t['geometry_msgs/msg/Vector3']
                msg = t['geometry_msgs/msg/Twist'](linear=v3(x=vx, y=vy, z=0.0),
                                                   angular=v3(x=0.0, y=0.0, z=0.0))
                writer.write(cmd, ns, ts.serialize_cdr(msg, 'geometry_msgs/msg/Twist'))
            in_gap = gap_at is not None and gap_at <= ms / 1000 < gap_at + 0.5
            if ms % 33 == 0 and not in_gap:
                img = frame(ms / 1000)
                data, step = image_encoding.encode(img, 'rgb8')
                msg = t['sensor_msgs/msg/Image'](header=header, height=96, width=128,
                                                 encoding='rgb8', is_bigendian=0, step=step,
                                                 data=np.frombuffer(data, np.uint8))
                writer.write(image, ns, ts.serialize_cdr(msg, 'sensor_msgs/msg/Image'))
    return path


@pytest.fixture(scope='module')
def robot_bag(tmp_path_factory):
    return write_robot_bag(tmp_path_factory.mktemp('bags') / 'robot')


def test_bag_is_resampled_aligned_and_resized(robot_bag):
    (ep,) = read_bag(robot_bag, TOPICS, image_size=64, control_hz=10.0)
    stamps = (np.array(ep.extra['stamps_ns']) - START) // 10**6          # ms
    assert ep.images.shape[1:] == (64, 64, 3) and 55 <= len(ep.images) <= 61
    assert not hasattr(ep, 'block_states')               # no labels read or needed
    # one frame per 10 Hz tick (a 30 Hz camera: every third frame, within 0.6 its period)
    assert np.abs(stamps - stamps[0] - 100 * np.arange(len(stamps))).max() <= 20
    # the pose of each frame is interpolated at its stamp
    assert np.abs(ep.ee_xy - np.stack([position(ms / 1000) for ms in stamps])).max() < 1e-4
    # the action between two frames is the time-average of the held 50 Hz command
    expect = np.array([np.mean([held(ms) for ms in range(lo, hi)], axis=0)
                       for lo, hi in zip(stamps[:-1], stamps[1:])])
    assert np.abs(ep.actions - expect).max() < 1e-4
    # the frame was cropped to a square and resized: the orange square is still there
    orange = (ep.images[..., 0] > 180) & (ep.images[..., 2] < 90)
    assert orange.sum((1, 2)).min() > 10


def test_a_camera_gap_splits_the_bag_into_episodes(tmp_path):
    bag = write_robot_bag(tmp_path / 'gappy', seconds=5.0, gap_at=2.0)
    episodes = read_bag(bag, TOPICS, image_size=32, control_hz=10.0)
    assert len(episodes) == 2
    assert sum(len(e.images) for e in episodes) < 50 - 3


def test_wrong_topic_names_list_what_the_bag_has(robot_bag, tmp_path):
    with pytest.raises(BagTopicError) as err:
        read_bag(robot_bag, TopicMap(image='/camera/image_raw', command=TOPICS.command,
                                     pose=TOPICS.pose))
    text = str(err.value)
    assert "no image topic '/camera/image_raw'" in text and '--image-topic' in text
    for topic, kind in ((TOPICS.image, 'sensor_msgs/msg/Image'),
                        (TOPICS.command, 'geometry_msgs/msg/Twist'),
                        ('/diagnostics', 'std_msgs/msg/String')):
        assert f'{topic} ({kind})' in text
    with pytest.raises(BagTopicError, match="pose topic '/diagnostics' is std_msgs/msg/String"):
        read_bag(robot_bag, TopicMap(image=TOPICS.image, command=TOPICS.command,
                                     pose='/diagnostics'))
    # through the CLI: exit code 2 and the same message, nothing written
    topics = tmp_path / 'topics.yaml'
    topics.write_text('image: /cam\ncommand: /arm/cmd_vel\npose: /arm/pose\n')
    out = tmp_path / 'never'
    assert cli(['train', 'world-model', '--family', 'latent', '--config', 'tiny',
                '--data', str(robot_bag), '--topics', str(topics), '--out', str(out)]) == 2
    assert not out.exists()


@pytest.fixture(scope='module')
def trained(robot_bag, tmp_path_factory):
    out = tmp_path_factory.mktemp('latent') / 'model'
    code = cli(['train', 'world-model', '--family', 'latent', '--config', 'tiny',
                '--data', str(robot_bag), '--image-topic', TOPICS.image,
                '--command-topic', TOPICS.command, '--pose-topic', TOPICS.pose,
                '--set', 'steps=40', '--out', str(out)])
    assert code == 0
    return out


def test_latent_family_trains_from_a_bag_without_labels(trained):
    meta = json.loads((trained / 'model.json').read_text())
    assert meta['format'] == latent.FORMAT and meta['train']['topics'] == TOPICS.as_dict()
    assert meta['train']['final_loss'] < 0.8 * meta['train']['first_loss'], meta['train']
    assert set(meta['state']) == {'z', 'ee'}


def test_latent_runtimes_agree_and_keep_the_contract(trained, robot_bag):
    (ep,) = read_bag(robot_bag, TOPICS, image_size=64)
    assert cli(['export', '--model', str(trained)]) == 0
    torch_rt = load_runtime(trained, 'torch')
    ort_rt = load_runtime(trained, 'onnxruntime')
    assert not isinstance(torch_rt, ObjectReadout)      # no objects: consumers check
    actions = ep.actions[None, :12].repeat(3, 0)
    frames = []
    for rt in (torch_rt, ort_rt):
        state = rt.encode(ep.images[:3], ep.ee_xy[:3])
        states = list(rt.rollout(state, actions))
        images, ee = rt.decode(states[-1])
        assert images.shape == (3, 64, 64, 3) and images.dtype == np.uint8
        frames.append(images.astype(int))
        # the pusher follows the commands: 12 steps of dt * action from where it started
        assert np.abs(ee - (ep.ee_xy[:3] + 0.1 * actions.sum(1))).max() < 0.02
        with pytest.raises(RuntimeInputError, match='NaN'):
            rt.step(state, np.full((3, 1, 2), np.nan, np.float32))
        with pytest.raises(RuntimeInputError, match='64x64'):
            rt.encode(np.zeros((1, 32, 32, 3), np.uint8), np.zeros((1, 2)))
    assert np.abs(frames[0] - frames[1]).max() <= 2


@pytest.fixture(scope='module')
def tabletop(tmp_path_factory):
    """Return expert episodes where blocks get pushed (block states only to check)."""
    out = tmp_path_factory.mktemp('tabletop')
    collect(out, 6, seed=11, mix={'expert': 1.0}, shard_size=6, max_steps=60, progress=False)
    return list(iter_episodes(out))


def test_discovery_redraws_the_first_frame_and_finds_every_block(tabletop):
    cfg = free_slots.load_config('tiny')
    model = free_slots.FreeSlotsModel(cfg)
    rt = TorchFreeSlotsRuntime(model)
    images = np.stack([ep.images[0] for ep in tabletop])
    state = rt.encode(images, np.stack([ep.ee_xy[0] for ep in tabletop]))
    drawn, _ = rt.decode(state)
    assert psnr(drawn, images).min() > 40.0                       # redrawn as it was seen
    found = state['present'].sum(1)
    assert (found == [len(ep.scene.blocks) for ep in tabletop]).mean() >= 0.8, found


def test_tracker_keeps_each_slot_on_its_block(tabletop):
    """Slot identity is stable: the block a slot starts on is the one it is on later."""
    cfg = free_slots.load_config('tiny')
    checked, kept, moved = 0, 0, 0
    for ep in tabletop:
        tr = free_slots_train.track(ep.images, ep.ee_xy, cfg)
        true = ep.block_states[:, :, :2]
        for k in np.flatnonzero(tr['present']):
            start = np.argmin(np.linalg.norm(true[0] - tr['track'][0, k], axis=-1))
            for t in np.flatnonzero(tr['seen'][:, k]):
                checked += 1
                kept += np.argmin(np.linalg.norm(true[t] - tr['track'][t, k], axis=-1)) == start
            moved += np.linalg.norm(true[-1, start] - true[0, start]) > 0.02
    assert moved >= 3                                # the expert pushed blocks around
    assert checked > 500 and kept / checked >= 0.98, (kept, checked)


def test_free_slots_train_from_a_bag_without_labels_and_export(robot_bag, tmp_path):
    out = tmp_path / 'free'
    assert cli(['train', 'world-model', '--family', 'free_slots', '--config', 'tiny',
                '--data', str(robot_bag), '--image-topic', TOPICS.image, '--command-topic',
                TOPICS.command, '--pose-topic', TOPICS.pose, '--out', str(out)]) == 0
    meta = json.loads((out / 'model.json').read_text())
    assert meta['format'] == free_slots.FORMAT and meta['train']['tracked_share'] > 0.9
    assert cli(['export', '--model', str(out)]) == 0
    (ep,) = read_bag(robot_bag, TOPICS, image_size=64)
    actions = ep.actions[None, :10].repeat(2, 0)
    frames = []
    for backend in ('torch', 'onnxruntime'):
        rt = load_runtime(out, backend)
        state = rt.encode(ep.images[:2], ep.ee_xy[:2])
        assert state['present'].sum(1).tolist() == [1, 1]      # the orange square
        images, ee = rt.decode(rt.step(state, actions))
        frames.append(images.astype(int))
        assert np.abs(ee - (ep.ee_xy[:2] + 0.1 * actions.sum(1))).max() < 0.01
    assert np.abs(frames[0] - frames[1]).max() <= 1


@pytest.mark.ros
def test_train_from_a_bag_recorded_from_the_sim_graph_without_block_poses(tmp_path):
    """`wm-ros record` of camera, pose and command only; a label-free model trains on it."""
    bringup = Bringup('sim', {'sim_robot': {'task': 'separate', 'seed': 7}},
                      log_dir=tmp_path).start()
    bag, log = tmp_path / 'robot', tmp_path / 'record.log'
    topics = ('camera/image_raw', 'ee_pose', 'ee_twist_cmd')
    probe = Probe('test_record_reset')
    recorder = None
    try:
        with log.open('w') as out:
            recorder = subprocess.Popen(
                [sys.executable, '-m', 'wm_ros.cli', 'record', '--out', str(bag), '--topics',
                 *topics, '--duration', '30'], stdout=out, stderr=subprocess.STDOUT)
        # the expert may have solved the first episode before the recorder subscribed (a
        # loaded host starts processes slowly): once all three are recorded, start another
        assert probe.spin(60, lambda: all(f'recording /{t} ' in log.read_text() for t in topics)
                          or recorder.poll() is not None), log.read_text()
        reset = probe.node.create_client(Trigger, 'sim_robot/reset')
        assert reset.wait_for_service(timeout_sec=30), bringup.log('sim_robot')
        future = reset.call_async(Trigger.Request())
        assert probe.spin(30, future.done) and future.result().success
        code = recorder.wait(timeout=120)
    finally:
        probe.close()
        if recorder is not None and recorder.poll() is None:
            recorder.kill()
        codes = bringup.stop()
    assert code == 0, log.read_text()
    assert codes['sim_robot'] == 0, bringup.log('sim_robot')
    episodes = read_bag(bag, TopicMap(), image_size=64, control_hz=10.0)
    frames = sum(len(e.images) for e in episodes)
    assert frames >= 30, (frames, log.read_text())    # 30 s at 10 Hz, less start-up
    moved = max(np.abs(e.ee_xy[-1] - e.ee_xy[0]).max() for e in episodes)
    assert moved > 0.02, [len(e.images) for e in episodes]    # the expert drove the pusher
    out = tmp_path / 'model'
    assert cli(['train', 'world-model', '--family', 'free_slots', '--config', 'tiny',
                '--data', str(bag), '--out', str(out)]) == 0
    meta = json.loads((out / 'model.json').read_text())
    # the live graph's timing decides where the expert's pusher dwells (a block under it or
    # pushed against another is not tracked in those frames): 1.0 in most runs, 0.67 seen
    # once in CI; a tracker that loses its blocks stays far below half
    assert meta['train']['tracked_share'] > 0.5, meta['train']


def test_free_slots_push_a_block_on_instead_of_passing_into_it():
    import torch
    model = free_slots.FreeSlotsModel(free_slots.load_config('tiny'))
    reach = torch.full((1, 3, 3), 0.04)                          # three discs of 2 cm
    present = torch.tensor([[1.0, 1.0, 0.0]])
    pos = torch.tensor([[[0.0, 0.0], [0.03, 0.0], [0.035, 0.0]]])  # 1 cm into each other
    touching = torch.zeros(1, 3, 3)                              # gap before the step: 0
    out = model.separate(present, pos, reach, touching)
    gap = float(torch.linalg.norm(out[0, 1] - out[0, 0])) - 0.04
    assert gap > -0.002, out                                     # pushed apart
    assert torch.allclose(out[0, 2], pos[0, 2])                  # an empty slot never moves
    assert torch.allclose(out[0, :2].mean(0), pos[0, :2].mean(0), atol=1e-6)  # both moved
    overlapping = torch.full((1, 3, 3), -0.01)                   # they overlapped before
    assert torch.allclose(model.separate(present, pos, reach, overlapping), pos, atol=1e-6)
