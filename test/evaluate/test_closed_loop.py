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

"""``wm-ros eval closed-loop``, its statistics and the degraded policies."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from wm_ros.cli import DEFAULT_MODEL, main as cli
from wm_ros.evaluate import closed_loop
from wm_ros.evaluate.metrics import bootstrap_ci, mmrv, pearson
from wm_ros.interfaces import Observation
from wm_ros.policy.degraded import Laggy, Noisy, Slow

FAMILIES = ('block_to_region', 'separate')
POLICIES = ('expert', 'noisy')


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp('closed_loop')
    code = cli(['eval', 'closed-loop', '--model', DEFAULT_MODEL, '--families', *FAMILIES,
                '--policies', ','.join(POLICIES), '--episodes', '3', '--workers', '0',
                '--out', str(out)])
    assert code == 0
    return out, json.loads((out / 'closed_loop.json').read_text())


def test_writes_every_cell_to_json_and_markdown(run):
    out, report = run
    cells = {(c['policy'], c['family']) for c in report['cells']}
    assert cells == {(p, f) for p in POLICIES for f in FAMILIES}
    assert len(report['episodes']) == len(POLICIES) * len(FAMILIES) * 3
    md = (out / 'closed_loop.md').read_text()
    for p in POLICIES:
        for f in FAMILIES:
            assert f'| {p} | {f} | 3 |' in md
    assert 'MMRV' in md and 'Pearson' in md


def test_numbers_are_consistent(run):
    _, report = run
    for c in report['cells'] + report['per_policy'] + [report['overall']]:
        assert c['gap_pts'] == pytest.approx(c['imagined_pct'] - c['real_pct'])
        assert sum(c['causes'].values()) == c['disagreements']
        assert 0.0 <= c['replay_agreement'] <= 1.0
        assert 0.0 <= c['replay_agreement_any'] <= 1.0
        assert 0.0 <= c['replay_agreement_at_success'] <= 1.0
        assert c['real_ci_pct'][0] <= c['real_pct'] <= c['real_ci_pct'][1]
    for e in report['episodes']:
        assert (e['cause'] == '') == (e['real_success'] == e['imagined_success'])
        assert e['real_steps'] <= 120 and e['imagined_steps'] <= 120
        # a real success goes on 10 steps (policy acting) before the replay is compared
        assert e['settle_steps'] == (10 if e['real_success'] else 0)
    assert report['overall']['n'] == len(report['episodes'])
    o = report['overall']
    assert o['mean_abs_gap_pts'] == pytest.approx(
        np.mean([abs(c['gap_pts']) for c in report['cells']]))


def test_the_perception_expert_solves_tabletop_episodes(run):
    _, report = run
    solved = [e for e in report['episodes'] if e['policy'] == 'expert' and e['real_success']]
    assert solved, 'the perception expert solved no tabletop episode'
    assert all(e['real_steps'] < 120 for e in solved)     # the tabletop ends at success


def test_seeds_are_fixed_per_family_and_episode():
    a = closed_loop.episode_seed(1000, 'separate', 3)
    assert a == closed_loop.episode_seed(1000, 'separate', 3)
    assert len({a, closed_loop.episode_seed(1000, 'separate', 4),
                closed_loop.episode_seed(1000, 'make_line', 3),
                closed_loop.episode_seed(1001, 'separate', 3)}) == 4


def test_any_perceiving_kind_is_a_policy_here_and_others_are_refused_with_the_list(tmp_path):
    out = tmp_path / 'biased'
    code = cli(['eval', 'closed-loop', '--model', DEFAULT_MODEL, '--families', 'separate',
                '--policies', 'expert_sideways', '--episodes', '1', '--workers', '0',
                '--no-physics-replay', '--out', str(out)])
    assert code == 0
    report = json.loads((out / 'closed_loop.json').read_text())
    assert [e['policy'] for e in report['episodes']] == ['expert_sideways']
    with pytest.raises(ValueError, match='expert_sideways'):
        closed_loop.evaluate(DEFAULT_MODEL, policies=['bc_full'], episodes=1)


def test_causes():
    assert closed_loop.cause(True, True, {}) == ''
    assert closed_loop.cause(True, False, {}) == 'timeout'
    assert closed_loop.cause(False, True, {}) == 'hallucination'
    assert closed_loop.cause(True, False, {'misread': {'red cube': 'red moon'}}) == 'misread'


def test_mmrv_on_hand_made_vectors():
    assert mmrv([0.1, 0.5, 0.9], [0.2, 0.4, 0.8]) == 0.0          # same order
    assert mmrv([0.2, 0.8], [0.8, 0.2]) == pytest.approx(0.6)     # one swapped pair
    # swapping the two close policies costs little, the far ones a lot
    assert mmrv([0.1, 0.5, 0.55], [0.1, 0.55, 0.5]) == pytest.approx(0.1 / 3)
    assert mmrv([0.1, 0.5, 0.9], [0.9, 0.5, 0.1]) == pytest.approx((0.8 + 0.4 + 0.8) / 3)


def test_pearson_and_bootstrap():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([0, 1, 0, 1], [0, 0, 1, 1]) == pytest.approx(0.0)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    lo, hi = bootstrap_ci(np.r_[np.ones(10), np.zeros(10)])
    assert 0.25 < lo < 0.5 < hi < 0.75
    assert bootstrap_ci(np.ones(5)) == (1.0, 1.0)


class _Echo:
    """Inner policy whose action is ``0.01 * [t, 0]``: shows which frame a wrapper passed."""

    def set_task(self, scene, task):
        pass

    def reset(self):
        pass

    def act(self, observation):
        return np.array([observation.t, 0.0], np.float32) * 0.01


def _obs(t):
    return Observation(np.zeros((4, 4, 3), np.uint8), np.zeros(2, np.float32), '', t)


def test_degraded_policies_are_deterministic_for_a_seed():
    def actions(policy):
        policy.set_task(None, None)
        return np.array([policy.act(_obs(t)) for t in range(40)])
    a, b = actions(Noisy(_Echo(), seed=5)), actions(Noisy(_Echo(), seed=5))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, actions(Noisy(_Echo(), seed=6)))
    noisy = Noisy(_Echo(), seed=5)
    assert np.array_equal(actions(noisy), actions(noisy))         # set_task restarts it
    assert np.abs(a).max() <= 0.2
    assert np.allclose(actions(Slow(_Echo())), 0.5 * actions(_Echo()))
    lag = actions(Laggy(_Echo(), lag=3))[:, 0] / 0.01
    assert np.allclose(lag, np.maximum(np.arange(40) - 3, 0))


def test_a_family_without_object_read_out_is_checked_through_a_detector(tmp_path):
    free_slots = str(Path(DEFAULT_MODEL).parent / 'free_slots')   # label-free, no read-out
    code = cli(['eval', 'closed-loop', '--model', free_slots, '--families',
                'block_to_region', '--policies', 'expert', '--episodes', '2', '--workers', '0',
                '--out', str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / 'closed_loop.json').read_text())
    assert report['config']['readout'].endswith('world_model')      # the shipped read-out
    assert len(report['episodes']) == 2
    # the perception expert reads the camera through the detector and solves the tabletop
    assert any(e['real_success'] for e in report['episodes']), report['episodes']
    assert all(e['first_frame'] == {} for e in report['episodes'])  # every block found


def test_the_judge_places_a_block_a_frame_does_not_show_where_it_was_last_seen():
    from wm_ros.runtime.base import Objects
    from wm_ros.reward.task_judge import TaskJudge
    from wm_ros.sim.tasks import sample_episode
    scene, task = sample_episode('block_to_region', np.random.default_rng(3))
    kinds = tuple(scene.names)
    xy = np.array([[b.x, b.y] for b in scene.blocks], np.float32)
    n = len(kinds)

    def objects(pos, present):
        return Objects(kinds, np.arange(n)[None], np.asarray(present)[None],
                       np.asarray(pos, np.float32)[None], np.zeros((1, n), np.float32))
    judge = TaskJudge(task, kinds)
    judge.start(objects(xy, np.ones(n, bool)))
    i = scene.names.index(task.blocks[0])
    hidden = np.ones(n, bool)
    hidden[i] = False
    moved = xy.copy()
    moved[i] = (0.9, -0.9)                   # garbage where the block is not seen
    verdict = judge.judge(objects(moved, hidden))
    assert verdict['unseen'] == [task.blocks[0]]
    assert np.allclose(verdict['block_xy'][judge.names.index(task.blocks[0])], xy[i])
    assert verdict['success'] == judge.judge(objects(xy, np.ones(n, bool)))['success']


def test_physics_replay_bounds_what_open_loop_replay_can_reach(run):
    """Every episode is replayed on the tabletop from the read and from the jittered start."""
    _, report = run
    assert report['config']['physics_replay'] is True
    for e in report['episodes']:
        assert e['physics_replay_from_read'] in (True, False, None)
        assert e['physics_replay_jitter'] in (True, False)
    o = report['overall']
    assert 0.0 <= o['physics_replay_jitter'] <= 1.0
    done = [e for e in report['episodes'] if e['physics_replay_from_read'] is not None]
    assert done, 'no episode could be replayed from the read start'
    assert o['physics_replay_from_read'] == pytest.approx(
        np.mean([e['physics_replay_from_read'] == e['real_final_success'] for e in done]))


def test_tabletop_replay_from_the_true_start_reproduces_the_episode():
    """The physics replay is deterministic: the true start gives the real verdict."""
    from wm_ros.episodes.env import Limits
    from wm_ros.evaluate.closed_loop import tabletop as real
    world = real.RealWorld(DEFAULT_MODEL, limits=Limits(60, 60, settle=10),
                           physics_replay=True)
    robot = real.Robot(world)
    seed = closed_loop.episode_seed(1000, 'block_to_region', 0)
    start = real.sample(real.tabletop_config(robot.runtime, world.limits), 'block_to_region',
                        0, seed, closed_loop.policy_seed(1000, 'block_to_region', 0, 'expert'))
    e, = robot.run('expert', [start])
    assert e.physics_jitter is not None and len(e.actions) == e.decided + (10 if e.success else 0)
    assert robot.replay(start.scene, start.task, e.actions) == e.final_success
    read = real.read_scene(robot.runtime, start.image, start.ee, start.scene)
    moved = [np.hypot(a.x - b.x, a.y - b.y) for a, b in zip(read.blocks, start.scene.blocks)]
    assert [b.name for b in read.blocks] == [b.name for b in start.scene.blocks]
    assert 0 < max(moved) < 0.01          # the read is close to the truth, never identical
    jit = start.scene.jittered(np.random.default_rng(0), 0.001)
    shift = [np.hypot(a.x - b.x, a.y - b.y) for a, b in zip(jit.blocks, start.scene.blocks)]
    assert 0 < max(shift) < 0.006


def test_the_outcome_does_not_depend_on_the_number_of_workers(run, tmp_path):
    """Tabletop episodes in 2 worker processes end exactly as in this process."""
    _, report = run
    out = tmp_path / 'two'
    assert cli(['eval', 'closed-loop', '--model', DEFAULT_MODEL, '--families', FAMILIES[0],
                '--policies', POLICIES[1], '--episodes', '3', '--workers', '2',
                '--out', str(out)]) == 0
    two = json.loads((out / 'closed_loop.json').read_text())['episodes']
    one = [e for e in report['episodes'] if e['family'] == FAMILIES[0] and
           e['policy'] == POLICIES[1]]
    assert [{k: v for k, v in e.items() if k != 'real_s'} for e in two] == \
        [{k: v for k, v in e.items() if k != 'real_s'} for e in one]
