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

"""Shadow-mode scheduling without ROS: command lookup, each re-sync rule, imagine steps."""

from pathlib import Path

import numpy as np
import pytest

from wm_ros.cli import DEFAULT_MODEL
from wm_ros.ros.shadow import CommandLog, FramePairs, JUMP_STEPS, Rules, Shadow
from wm_ros.runtime.base import CheckedRuntime, State, StateSpec

MS = 10**6                  # ns
STEP = 100 * MS             # one step at the 10 Hz control rate
FRAME = np.zeros((8, 8, 3), np.uint8)


class Kinematic(CheckedRuntime):
    """Fake family: the pusher follows the clipped command plus ``bias`` m per step."""

    backend, image_size, control_hz, max_speed = 'numpy', 8, 10.0, 0.2

    def __init__(self, bias=(0.0, 0.0), spread: float = 0.0):
        self.bias, self.spread = np.asarray(bias, np.float32), np.float32(spread)
        self.state_spec = StateSpec({'ee': (2,), 'spread': ()},
                                    {'ee': 'float32', 'spread': 'float32'})

    def _encode(self, images, ee) -> State:
        return State({'ee': ee.copy(), 'spread': np.zeros(len(ee), np.float32)})

    def _step(self, state, action) -> State:
        ee = state['ee'] + action / np.float32(self.control_hz) + self.bias
        return State({'ee': ee.astype(np.float32),
                      'spread': np.full(state.batch, self.spread, np.float32)})

    def _decode(self, state):
        return np.zeros((state.batch, 8, 8, 3), np.uint8), state['ee'].copy()


class Unsure(Kinematic):
    """The same family with the Uncertainty capability (its ensemble spread is ``spread``)."""

    def uncertainty(self, state) -> np.ndarray:
        return state['spread']


def drive(shadow: Shadow, v, n: int, ee0=(0.0, 0.0), t0: int = 0, real_drift=(0.0, 0.0)):
    """
    Send the robot's command ``v`` before each of ``n`` frames 100 ms apart; feed the frames.

    The real pusher moves as commanded (plus ``real_drift`` m per step); returns the
    predictions, one per frame (the first frame is at ``t0``).
    """
    v, ee = np.asarray(v, np.float64), np.asarray(ee0, np.float64)
    out = []
    for i in range(n):
        t = t0 + i * STEP
        if i:
            ee = ee + v / 10 + np.asarray(real_drift)
        out.append(shadow.on_frame(FRAME, ee, t))
        shadow.commands.add(t + MS, v)            # the robot's command for the next frame
    return out


def reasons(predictions) -> list:
    return [p.resync for p in predictions]


# ------------------------------------------------------------------ command lookup
def test_command_lookup_picks_the_newest_command_stamped_before_the_frame():
    log = CommandLog(max_speed=0.2)
    for t, vx in ((0, 0.10), (300, -0.10), (100, 0.15)):       # one arrived late
        log.add(t * MS, (vx, 0.0))
    assert log.at(250 * MS, 0.5).tolist() == pytest.approx([0.15, 0.0])
    assert log.at(300 * MS, 0.5).tolist() == pytest.approx([-0.10, 0.0])   # at the stamp
    assert log.at(299 * MS, 0.5).tolist() == pytest.approx([0.15, 0.0])
    assert log.at(50 * MS, 0.5).tolist() == pytest.approx([0.10, 0.0])
    assert log.at(-1, 0.5).tolist() == [0.0, 0.0]                       # nothing sent yet
    log.add(300 * MS, (0.05, 0.05))                     # same stamp, sent later: it wins
    assert log.at(300 * MS, 0.5).tolist() == pytest.approx([0.05, 0.05])


def test_command_lookup_ignores_commands_older_than_the_timeout():
    log = CommandLog(max_speed=0.2)
    log.add(1000 * MS, (0.1, -0.1))
    assert log.at(1500 * MS, 0.5).tolist() == pytest.approx([0.1, -0.1])
    assert log.at(1501 * MS, 0.5).tolist() == [0.0, 0.0]
    assert log.at(1501 * MS, 1.0).tolist() == pytest.approx([0.1, -0.1])


def test_commands_are_clipped_to_the_speed_limit_and_nan_logs_zero():
    log = CommandLog(max_speed=0.2, maxlen=3)
    assert log.add(0, (1e39, -1e39)).tolist() == pytest.approx([0.2, -0.2])
    assert log.add(1, (0.05, 0.3)).tolist() == pytest.approx([0.05, 0.2])
    assert log.add(2, (np.nan, 0.1)).tolist() == [0.0, 0.0]
    assert log.at(2, 1.0).tolist() == [0.0, 0.0]
    log.add(3, (0.1, 0.1))
    assert len(log) == 3 and log.at(0, 1.0).tolist() == [0.0, 0.0]    # oldest dropped


# ------------------------------------------------------------------ re-sync rules
def test_first_frame_starts_and_the_robots_command_predicts_the_next():
    shadow = Shadow(Kinematic(), Rules(resync_every=0))
    out = drive(shadow, (0.1, -0.05), 6)
    assert out[0].resync == 'start' and out[0].image is None
    assert reasons(out[1:]) == [None] * 5
    real = np.array([0.1, -0.05]) * 5 / 10
    assert np.abs(out[-1].ee - real).max() < 1e-6
    assert out[-1].image.shape == (8, 8, 3) and shadow.horizon == 5


def test_stale_command_predicts_a_standing_robot():
    shadow = Shadow(Kinematic(), Rules(resync_every=0, drift_threshold=10.0,
                                       command_timeout=0.3))
    shadow.on_frame(FRAME, (0.0, 0.0), 0)
    shadow.commands.add(0, (0.2, 0.0))
    assert shadow.on_frame(FRAME, (0.0, 0.0), 301 * MS).ee.tolist() == [0.0, 0.0]
    assert shadow.on_frame(FRAME, (0.0, 0.0), 299 * MS).ee[0] == pytest.approx(0.02)


@pytest.mark.parametrize('every', [1, 4, 16])
def test_every_fires_each_resync_every_steps(every):
    shadow = Shadow(Kinematic(), Rules(resync_every=every))
    out = drive(shadow, (0.1, 0.0), 1 + 3 * every)
    expected = ['start'] + ([None] * (every - 1) + ['every']) * 3
    assert reasons(out) == expected
    assert shadow.horizon == 0


def test_every_zero_never_fires():
    out = drive(Shadow(Kinematic(), Rules(resync_every=0)), (0.1, 0.0), 60)
    assert reasons(out[1:]) == [None] * 59


def test_drift_fires_once_prediction_and_robot_differ_more_than_the_threshold():
    # the model overshoots by 12 mm a step: 48 mm after 4 steps (kept), 60 mm after 5
    shadow = Shadow(Kinematic(bias=(0.012, 0.0)), Rules(resync_every=0,
                                                        drift_threshold=0.05))
    out = drive(shadow, (0.1, 0.0), 11)
    assert reasons(out) == ['start'] + [None] * 4 + ['drift'] + [None] * 4 + ['drift']
    assert out[5].image is not None and out[5].ee[0] - 0.05 == pytest.approx(0.06, abs=1e-6)
    assert shadow.horizon == 0
    calm = Shadow(Kinematic(bias=(0.012, 0.0)), Rules(resync_every=0, drift_threshold=0.07))
    calm = drive(calm, (0.1, 0.0), 6)
    assert reasons(calm[1:]) == [None] * 5                       # 60 mm < 70 mm


@pytest.mark.parametrize('spread, fires', [(0.02, False), (0.031, True)])
def test_uncertainty_fires_when_the_model_is_unsure(spread, fires):
    shadow = Shadow(Unsure(spread=spread), Rules(resync_every=0, uncertainty_threshold=0.03))
    out = drive(shadow, (0.1, 0.0), 4)
    assert reasons(out[1:]) == (['uncertainty'] * 3 if fires else [None] * 3)
    assert out[-1].image is not None                      # the prediction is still returned
    assert shadow.uncertainty() == pytest.approx(0.0 if fires else spread)   # 0 after encode


def test_model_without_uncertainty_capability_never_resyncs_for_it():
    shadow = Shadow(Kinematic(spread=1.0), Rules(resync_every=0, uncertainty_threshold=0.0))
    out = drive(shadow, (0.1, 0.0), 4)
    assert reasons(out[1:]) == [None] * 3 and shadow.uncertainty() == 0.0


def test_jump_fires_when_the_robot_moves_further_than_its_speed_allows():
    shadow = Shadow(Kinematic(), Rules(resync_every=0, drift_threshold=10.0))
    limit = JUMP_STEPS * np.hypot(0.2, 0.2) / 10                  # 70.7 mm at 0.2 m/s, 10 Hz
    shadow.on_frame(FRAME, (0.0, 0.0), 0)
    near = shadow.on_frame(FRAME, (0.99 * limit, 0.0), STEP)
    assert near.resync is None and near.ee is not None
    far = shadow.on_frame(FRAME, (0.99 * limit - 0.2, 0.1), 2 * STEP)   # episode reset
    assert far.resync == 'jump' and far.image is None and shadow.horizon == 0
    # the state starts over from the reset position
    after = shadow.on_frame(FRAME, (0.99 * limit - 0.2, 0.1), 3 * STEP)
    assert after.resync is None
    assert after.ee.tolist() == pytest.approx([0.99 * limit - 0.2, 0.1], abs=1e-6)


def test_rules_follow_parameter_changes_and_clear_starts_over():
    shadow = Shadow(Kinematic(), Rules.from_params({'resync_every': 0, 'mode': 'shadow'}))
    assert reasons(drive(shadow, (0.1, 0.0), 4)[1:]) == [None] * 3
    shadow.rules = Rules.from_params({'resync_every': 1})
    assert shadow.on_frame(FRAME, (0.04, 0.0), 4 * STEP).resync == 'every'
    shadow.clear()
    assert shadow.on_frame(FRAME, (0.0, 0.0), 5 * STEP).resync == 'start'


def test_refused_inputs_are_reported_and_change_nothing():
    shadow = Shadow(Kinematic())
    bad = shadow.on_frame(np.zeros((4, 4, 3), np.uint8), (0.0, 0.0), 0)
    assert 'could not encode the real frame' in bad.error and '8x8' in bad.error
    assert shadow.state is None
    shadow.on_frame(FRAME, (0.0, 0.0), 0)
    refused = shadow.step((np.nan, 0.0))
    assert 'world model step failed' in refused.error and refused.image is None
    assert shadow.horizon == 0 and shadow.decode()[1].tolist() == [0.0, 0.0]


# ------------------------------------------------------------------ imagine (shipped model)
@pytest.fixture(scope='module')
def shipped():
    """Return the shipped model (ONNX Runtime) and a tabletop start frame and pusher."""
    from wm_ros.runtime import load_runtime
    from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv
    if not (Path(DEFAULT_MODEL) / 'onnx').is_dir():
        pytest.skip('shipped model export not there yet (`make model`)')
    runtime = load_runtime(DEFAULT_MODEL, 'onnxruntime', threads=1)
    env = TabletopEnv(TabletopConfig(image_size=runtime.image_size, task='block_to_region'))
    try:
        obs, _ = env.reset(seed=0)
    finally:
        env.close()
    return runtime, obs['image'], np.asarray(obs['ee_xy'])


def imagine(shipped, v, ticks: int = 5, timeout: float = 0.5) -> np.ndarray:
    """Start from the tabletop frame, send ``v`` once at 0 s, tick 10 Hz; return the pushers."""
    runtime, image, ee = shipped
    shadow = Shadow(runtime, Rules(command_timeout=timeout))
    shadow.resync(image, ee)
    shadow.commands.add(0, v)
    return np.array([shadow.imagine((i + 1) * STEP).ee for i in range(ticks)])


@pytest.mark.parametrize('value', [-1e39, -1e308, -5e-324], ids=str)
def test_extreme_commands_move_the_imagined_pusher_like_the_tabletop(shipped, value):
    # the pusher starts at (0.05, -0.05) in scene 0; -x is free board
    got = imagine(shipped, (value, 0.0))
    want = imagine(shipped, (max(value, -0.2), 0.0))      # what the tabletop clips it to
    assert np.all(np.isfinite(got))
    moved = got[-1] - shipped[2]
    print(f'imagined pusher moved {moved.round(4).tolist()} m in 5 steps at {value} m/s')
    if value < -1:
        assert moved[0] == pytest.approx(-0.1, abs=0.01) and abs(moved[1]) < 0.01
    assert np.abs(got - want).max() < 1e-6


def test_imagined_pusher_stops_once_the_command_is_stale(shipped):
    ee = imagine(shipped, (-0.1, 0.0), ticks=8, timeout=0.35)
    steps = np.linalg.norm(np.diff(np.vstack([shipped[2], ee]), axis=0), axis=1)
    print('imagined pusher steps, m:', steps.round(4).tolist())
    assert np.all(steps[:3] > 0.008)                  # 10 mm a step while fresh (0.3 s)
    assert np.all(steps[3:] < 0.002)                  # then zero velocity


def test_rules_defaults_match_the_node_parameters():
    node = pytest.importorskip('wm_ros.ros.world_model_node')
    for name, value in vars(Rules()).items():
        assert node.PARAMS[name].default == value, name


# ------------------------------------------------------------------ frames and their poses
MS = 10**6


def test_each_frame_goes_with_the_pose_of_its_stamp_whatever_the_arrival_order():
    pairs = FramePairs()
    assert pairs.pose(0, 'p0') == []
    assert pairs.frame(100 * MS, 'f1') == []             # its pose is not here yet: it waits
    assert pairs.pose(100 * MS, 'p1') == [('f1', 'p1')]
    # a loaded host: two frames, then both poses; each frame gets its own, in order
    assert pairs.frame(200 * MS, 'f2') == [] and pairs.frame(300 * MS, 'f3') == []
    assert pairs.pose(200 * MS, 'p2') == [('f2', 'p2')]
    assert pairs.pose(300 * MS, 'p3') == [('f3', 'p3')]
    assert pairs.pose(400 * MS, 'p4') == [] and pairs.frame(400 * MS, 'f4') == [('f4', 'p4')]
    assert len(pairs) == 0


def test_a_faster_pose_stream_gives_each_frame_the_nearest_pose():
    pairs = FramePairs()
    for t in range(0, 100, 10):                          # 100 Hz poses
        pairs.pose(t * MS, f'p{t}')
    assert pairs.frame(43 * MS, 'f') == [('f', 'p40')]
    assert pairs.frame(120 * MS, 'g') == []              # until a pose at or after it
    assert pairs.pose(118 * MS, 'p118') == [] and pairs.pose(125 * MS, 'p125') == [('g', 'p118')]


def test_frames_whose_poses_never_catch_up_still_go_after_hold_frames_in_order():
    pairs = FramePairs(hold=3)
    for t in range(5):                                   # no pose at all: the oldest are
        assert pairs.frame((t + 1) * 100 * MS, f'x{t}') == []    # dropped, not piled up
    assert len(pairs) == 3
    assert pairs.pose(1, 'p') == []                      # a pose stream stamped far behind
    out = [pair for t in range(3) for pair in pairs.frame((t + 6) * 100 * MS, f'f{t}')]
    assert out == [('x2', 'p'), ('x3', 'p'), ('x4', 'p')] and len(pairs) == 3
    pairs.clear()
    assert len(pairs) == 0 and pairs.frame(1, 'x') == []
