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

"""``wm-ros evaluate``: its statistics against hand-computed values, and the suite end to end."""

from dataclasses import replace
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image
import pytest

from wm_ros.episodes.seeds import episode_seed
from wm_ros.evaluate import ood, summary
from wm_ros.evaluate.evaluator import EvalConfig, starts


def _rec(policy, task, real, imagined, judged=None, state=None):
    return {'policy': policy, 'task': task, 'real': real, 'imagined': imagined,
            'imagined_reward': imagined, 'real_judged': real if judged is None else judged,
            'imagined_state': imagined if state is None else state}


def test_confusion_counts_by_hand():
    c = summary.confusion([1, 1, 0, 0, 1, 0], [1, 0, 0, 1, 1, None])
    assert (c['tp'], c['fp'], c['tn'], c['fn']) == (2, 1, 1, 1)      # the None row is skipped
    assert c['accuracy'] == pytest.approx(3 / 5)
    assert c['fpr'] == pytest.approx(1 / 2) and c['fnr'] == pytest.approx(1 / 3)
    assert math.isnan(summary.confusion([True], [True])['fpr'])       # no negatives: n/a


def test_agreement_by_hand():
    a = summary.agreement([0.2, 0.8, 0.5], [0.3, 0.6, 0.5])
    assert a['mean_abs_gap'] == pytest.approx((0.1 + 0.2 + 0.0) / 3)
    assert a['mmrv'] == 0.0 and a['spearman'] == pytest.approx(1.0)
    assert a['pearson'] == pytest.approx(np.corrcoef([0.2, 0.8, 0.5], [0.3, 0.6, 0.5])[0, 1])
    swapped = summary.agreement([0.2, 0.8], [0.8, 0.2])
    assert swapped['mmrv'] == pytest.approx(0.6) and swapped['cells'] == 2


def test_cells_and_judges_from_records():
    records = ([_rec('a', 't', True, True)] * 3 + [_rec('a', 't', False, True, state=False)]
               + [_rec('b', 't', False, False, judged=True)] * 2)
    out = summary.summarise(records, {'policies': ['a', 'b'], 'tasks': ['t'], 'seed': 0},
                            {'tabletop_s': 10.0, 'imagine_s': 2.0, 'tabletop_steps': 400,
                             'imagined_steps': 300})
    a, b = out['cells']
    assert (a['real'], a['imagined'], a['gap']) == (0.75, 1.0, 0.25)
    assert a['imagined_state'] == 0.75 and b['real_judged'] == 1.0
    assert out['judges']['real']['fp'] == 2 and out['judges']['imagined']['fp'] == 1
    assert out['timing']['speedup_vs_tabletop'] == pytest.approx(5.0)
    assert out['timing']['speedup_vs_real_time'] == pytest.approx(400 / 10 / 2.0)


def test_mmrv_is_also_reported_per_task_as_simpler_ranks_policies():
    """t1 ranks a over b in both worlds (0); t2 swaps them by 0.5: the task mean is 0.25."""
    records = ([_rec('a', 't1', True, True)] * 2 + [_rec('b', 't1', False, False)] * 2
               + [_rec('a', 't2', True, False), _rec('a', 't2', False, False)]
               + [_rec('b', 't2', False, True), _rec('b', 't2', False, False)])
    out = summary.summarise(records, {'policies': ['a', 'b'], 'tasks': ['t1', 't2'],
                                      'seed': 0}, {})
    assert out['summary']['per_task_mmrv'] == {'t1': 0.0, 't2': pytest.approx(0.5)}
    assert out['summary']['mmrv_task_mean'] == pytest.approx(0.25)


def test_ood_row_counts_only_real_changes_over_ten_points():
    before = [_rec('a', 't', True, True), _rec('a', 't', False, True)]     # 0.5 real, 1.0 imag
    row = ood._row('a', 'recolour', ['t'], before, real_edit=0.0, imagined_edit=0.5)
    assert row['real_change'] == -0.5 and row['imagined_change'] == -0.5 and row['agree']
    row = ood._row('a', 'recolour', ['t'], before, real_edit=0.0, imagined_edit=1.0)
    assert row['agree'] is False                                         # no imagined drop
    assert ood._row('a', 'x', ['t'], before, 0.55, 0.0)['agree'] is None  # 5 points: noise


def test_starts_are_the_same_for_every_run_and_differ_between_episodes():
    config = EvalConfig.tiny(('bc_50',))
    one, two = starts(config, 64), starts(config, 64)
    assert [s.seed for s in one] == [s.seed for s in two]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(one, two))
    assert len({s.seed for s in one}) == len(one) == 4
    assert episode_seed(5000, 'separate', 0) != episode_seed(5001, 'separate', 0)


def test_strip_and_strict_json():
    frames = np.arange(5 * 2 * 2 * 3, dtype=np.uint8).reshape(5, 2, 2, 3)
    s = summary.strip(frames, 3)
    assert s.shape == (2, 6, 3) and np.array_equal(s[:, 2:4], frames[2])
    assert summary.finite({'a': [float('nan'), np.float32(1.5)]}) == {'a': [None, 1.5]}


# ------------------------------------------------------------------ end to end, tiny
WORLD_MODEL = str(Path(__file__).resolve().parents[2] / 'wm_ros' / 'models' / 'world_model')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train a tiny behaviour-cloned policy and a tiny reward model on 6 episodes."""
    from wm_ros.policy.learned import get_config
    from wm_ros.policy.zoo import train_policy
    from wm_ros.reward.config import load_config
    from wm_ros.reward.train import train_reward
    from wm_ros.episodes.collect import collect
    root = tmp_path_factory.mktemp('evaluate')
    collect(root / 'data', 6, seed=3, mix={'expert': 1.0},
            families=('block_to_region', 'separate'), max_steps=40, progress=False)
    train_policy('bc_full', [root / 'data'], root / 'policy', config=get_config('tiny'))
    train_reward([root / 'data'], root / 'reward', load_config('tiny'), progress=False)
    return root


def test_tiny_suite_end_to_end_writes_every_number_and_the_report(trained, tmp_path):
    from wm_ros.evaluate.evaluator import evaluate
    from wm_ros.evaluate.report import write_report
    config = EvalConfig.tiny((str(trained / 'policy'),))
    result = evaluate(config, WORLD_MODEL, str(trained / 'reward'),
                      ood_edits=('recolour', 'rephrase'), progress=False)
    assert len(result['cells']) == 2 and all(c['n'] == 2 for c in result['cells'])
    episodes = result['episodes']
    assert len(episodes) == 4
    for c in result['cells']:                    # each rate is a mean of 2 episodes
        assert c['real'] in (0.0, 0.5, 1.0) and c['imagined'] in (0.0, 0.5, 1.0)
        rows = [e for e in episodes if e['task'] == c['task']]
        assert c['real'] == np.mean([e['real'] for e in rows])
    real = result['judges']['real']
    assert real['tp'] + real['fp'] + real['tn'] + real['fn'] == 4
    assert all(1 <= e['real_steps'] <= 12 and 1 <= e['imagined_steps'] <= 12 for e in episodes)
    assert result['timing']['imagined_steps'] > 0 and result['timing']['tabletop_s'] > 0
    parts = result['timing']['imagine_parts_s']     # where bench evaluate says time went
    assert set(parts) == {'policy', 'world_model', 'reward_model', 'state_judge'}
    assert all(v > 0 for v in parts.values()), parts
    assert sum(parts.values()) <= result['timing']['imagine_s']
    assert [r['edit'] for r in result['ood']] == ['recolour', 'rephrase']
    path = summary.write(result, tmp_path, config.strip_frames)
    data = json.loads(path.read_text())
    assert len(data['strips']) == 2
    for entry in data['strips']:
        for side in ('real', 'imagined'):
            img = np.asarray(Image.open(tmp_path / entry[side]))
            assert img.shape[0] == 64 and img.shape[1] >= 64 * 2       # several frames
    html, _ = write_report(data, tmp_path / 'report', tmp_path)
    assert 'Pearson' in html.read_text()
    # another world model on the same suite: the tabletop outcomes are taken, not rerun
    again = evaluate(config, WORLD_MODEL, str(trained / 'reward'), progress=False,
                     real_from=tmp_path)
    assert [(e['real'], e['real_judged'], e['real_steps']) for e in again['episodes']] == \
        [(e['real'], e['real_judged'], e['real_steps']) for e in episodes]
    assert again['timing']['real_from'] == str(tmp_path)
    with pytest.raises(ValueError, match='max_steps=12, this run has 11'):
        evaluate(replace(config, max_steps=11), WORLD_MODEL, str(trained / 'reward'),
                 progress=False, real_from=tmp_path)
    with pytest.raises(ValueError, match='view=camera, this run has redrawn'):
        evaluate(replace(config, view='redrawn'), WORLD_MODEL, str(trained / 'reward'),
                 progress=False, real_from=tmp_path)


def test_same_suite_gives_the_same_real_outcomes_with_more_workers(trained):
    from wm_ros.evaluate.evaluator import run_tabletop
    from wm_ros.policy import registry
    config = EvalConfig.tiny((str(trained / 'policy'),))
    group = starts(config, 64)[:3]
    jobs = [(config.policies[0], s) for s in group]
    args = (WORLD_MODEL, str(trained / 'reward'), 64, config)
    here = run_tabletop(jobs, *args, workers=0, keep=range(3))
    pooled = run_tabletop(jobs, *args, workers=2, keep=range(3))
    assert [r.steps for r in here] == [r.steps for r in pooled]
    assert [r.judged for r in here] == [r.judged for r in pooled]
    assert all(len(a.frames) == a.steps + 1 for a in here)
    assert all(np.array_equal(a.frames, b.frames) for a, b in zip(here, pooled))
    assert registry.check(str(trained / 'policy')) == 'directory'


class _Spy:
    """A policy that records what it is shown and stands still."""

    def __init__(self):
        self.seen, self.read = [], []

    def act(self, observation):
        self.seen.append(observation.image)
        self.read.append(observation.instruction)
        return np.zeros(2, np.float32)


class _Listener:
    """A judge that records the wording it is asked about and never passes a frame."""

    threshold = 0.5

    def __init__(self):
        self.texts = set()

    def score(self, images, texts):
        self.texts.update(texts)
        return np.zeros(len(images))


def _tabletop_run(start, policy, judge=None, steps=3, jitter_m=0.0):
    """Run ``start`` on a tabletop the way the evaluator's workers do; return the env."""
    from wm_ros.episodes.driver import Judging, run_episodes
    from wm_ros.episodes.env import Limits
    from wm_ros.episodes.tabletop import Tabletops
    env = Tabletops(jitter_m=jitter_m)
    judging = Judging(judge, ends=False, at_end=True) if judge is not None else None
    run_episodes(env, policy, [start], Limits(steps, steps), judging)
    return env


def test_judges_read_the_tasks_own_wording_under_a_rephrasing(trained):
    """A rephrasing tests the policy; the judges still judge the task in its own words."""
    from wm_ros.evaluate.edits import apply_scene, EDITS
    from wm_ros.evaluate.rollouts import imagine
    from wm_ros.policy.base import PerRow
    from wm_ros.runtime import load_runtime
    config = replace(EvalConfig.tiny(('spy',)), max_steps=3)
    start = starts(config, 64)[0]
    _, task = apply_scene(start.scene, start.task, EDITS['rephrase'], np.random.default_rng(0))
    assert task.canonical == start.task.instruction != task.instruction
    start = replace(start, task=task)
    spy, judge = _Spy(), _Listener()
    _tabletop_run(start, PerRow(lambda _: spy), judge)
    assert len(spy.read) == 3 and set(spy.read) == {task.instruction}   # the rephrasing
    assert judge.texts == {task.canonical}                 # the tabletop's judge the task
    judge = _Listener()
    imagine(load_runtime(WORLD_MODEL, 'onnxruntime'), judge, 'bc_50', [start], config)
    assert judge.texts == {task.canonical}                 # and so does imagination's


def test_redrawn_view_shows_tabletop_policies_the_models_drawing(trained):
    from wm_ros.episodes.tabletop import TabletopWorld
    from wm_ros.image_metrics import psnr
    from wm_ros.policy.base import PerRow, redraw, Redrawn
    from wm_ros.runtime import load_runtime
    runtime = load_runtime(WORLD_MODEL, 'onnxruntime', threads=1)
    start = starts(EvalConfig.tiny(('spy',)), 64)[0]
    spy = _Spy()
    _tabletop_run(start, Redrawn(PerRow(lambda _: spy), runtime))
    assert len(spy.seen) == 3
    drawn = redraw(runtime, start.image[None], start.ee[None])[0]
    assert np.array_equal(spy.seen[0], drawn)           # the drawing, not the camera frame
    assert not np.array_equal(drawn, start.image) and drawn.shape == start.image.shape
    assert psnr(drawn[None], start.image[None])[0] > 25  # ... of the same scene
    camera = _Spy()
    _tabletop_run(start, PerRow(lambda _: camera))
    assert np.array_equal(camera.seen[0], start.image)
    with pytest.raises(ValueError, match="'camera', 'redrawn'"):
        EvalConfig(view='dream')
    with pytest.raises(ValueError, match='world model'):
        TabletopWorld(view='redrawn')


def test_bad_requests_fail_before_any_episode_runs(trained):
    from wm_ros.evaluate.edits import EditError
    from wm_ros.evaluate.evaluator import evaluate
    from wm_ros.evaluate.rollouts import imagine
    from wm_ros.reward import load_reward
    from wm_ros.runtime import load_runtime
    from wm_ros.sim.tasks import TaskError
    reward = str(trained / 'reward')
    with pytest.raises(ValueError, match='bc_full'):            # the message lists the zoo
        evaluate(EvalConfig.tiny(('no_such_policy',)), WORLD_MODEL, reward, progress=False)
    with pytest.raises(TaskError, match='block_to_region'):
        evaluate(EvalConfig(policies=(str(trained / 'policy'),), tasks=('juggle',)),
                 WORLD_MODEL, reward, progress=False)
    with pytest.raises(EditError, match='recolour'):
        evaluate(EvalConfig.tiny((str(trained / 'policy'),)), WORLD_MODEL, reward,
                 ood_edits=('paint_it_black',), progress=False)
    config = EvalConfig.tiny((str(trained / 'policy'),))
    small = [replace(s, image=s.image[::2, ::2]) for s in starts(config, 64)[:1]]
    with pytest.raises(ValueError, match='64'):
        imagine(load_runtime(WORLD_MODEL, 'onnxruntime'), load_reward(reward),
                config.policies[0], small, config)


class _Blinking:
    """A judge that passes every other imagined frame (a flickering false positive)."""

    threshold = 0.5

    def __init__(self):
        self.calls = 0

    def score(self, images, texts):
        self.calls += 1
        return np.full(len(images), 1.0 if self.calls % 2 else 0.0)


def test_hold_asks_the_judge_for_frames_in_a_row_before_an_imagined_success():
    from wm_ros.evaluate.rollouts import imagine
    from wm_ros.runtime import load_runtime
    runtime = load_runtime(WORLD_MODEL, 'onnxruntime')
    config = EvalConfig.tiny(('bc_50',))
    group = starts(config, 64)
    once = imagine(runtime, _Blinking(), 'bc_50', group, config)
    assert all(r.success and r.steps == 1 for r in once)        # the first passed frame
    held = imagine(runtime, _Blinking(), 'bc_50', group, replace(config, hold=2))
    assert not any(r.success for r in held)                    # never two in a row
    assert all(r.steps == config.max_steps and r.passed_run == 1 for r in held)
    with pytest.raises(ValueError, match='hold'):
        replace(config, hold=0)


def test_jittered_starts_move_every_block_alike_for_every_policy():
    from wm_ros.policy.base import PerRow
    config = replace(EvalConfig.tiny(('spy',)), max_steps=2, jitter_m=0.002)
    start = starts(config, 64)[0]
    moved = []
    for _ in range(2):                         # two policies from one start: the same moves
        env = _tabletop_run(start, PerRow(lambda _: _Spy()), steps=2, jitter_m=0.002)
        moved.append(np.array([[b.x - a.x, b.y - a.y]
                               for a, b in zip(start.scene.blocks, env.envs[0].scene.blocks)]))
    assert np.array_equal(moved[0], moved[1])
    assert 0 < np.abs(moved[0]).max() < 0.01 and np.all(moved[0] != 0)
    with pytest.raises(ValueError, match='jitter_m'):
        EvalConfig(jitter_m=-0.001)


def test_noise_floor_pairs_each_twin_with_its_real_episode(trained, tmp_path):
    from wm_ros.cli import main as cli
    from wm_ros.evaluate import floor
    from wm_ros.evaluate.evaluator import evaluate, reuse_real
    from wm_ros.evaluate.report import load_evaluation, write_report
    config = replace(EvalConfig.tiny((str(trained / 'policy'), 'expert')), max_steps=30)
    result = evaluate(config, WORLD_MODEL, str(trained / 'reward'), progress=False)
    summary.write(result, tmp_path / 'suite', config.strip_frames)
    # unmoved starts: the twin is the real suite again (a nanometre already moves a contact)
    same = floor.noise_floor(tmp_path / 'suite', WORLD_MODEL, 0.0, (1, 2), workers=1)
    records = same['records']
    steps = [r['real_steps'] for r in records]
    assert len(set(steps)) > 1                 # the expert's successes end at their own steps
    assert steps == [r['imagined_steps'] for r in records]
    assert [r['real'] for r in records] == [r['imagined'] for r in records]
    twin, model = same['sizes'][2]['twin'], same['sizes'][2]['world_model']
    assert twin['mean_abs_gap'] == 0 and twin['episode_agreement'] == 1.0
    assert model['mean_abs_gap'] == pytest.approx(result['summary']['mean_abs_gap'])
    assert same['sizes'][1]['twin']['cells'] == 4
    assert 'noise floor' in floor.table(same)
    assert json.loads(floor.write(same, tmp_path / 'floor').read_text())['jitter_m'] == 0
    # the report shows it beside the targets, for this suite only
    assert cli(['report', '--evaluation', str(tmp_path / 'suite'), '--out',
                str(tmp_path / 'report'), '--floor', str(tmp_path / 'floor')]) == 0
    assert 'Noise floor of this suite' in (tmp_path / 'report' / 'report.html').read_text()
    kept = json.loads((tmp_path / 'report' / 'report.json').read_text())['floor']
    assert kept['sizes']['2']['twin']['mean_abs_gap'] == 0 and 'records' not in kept
    other = dict(same, records=same['records'][1:])
    with pytest.raises(ValueError, match='not on this evaluation'):
        write_report(load_evaluation(tmp_path / 'suite'), tmp_path / 'other', floor=other)
    with pytest.raises(ValueError, match='sizes'):
        floor.noise_floor(tmp_path / 'suite', WORLD_MODEL, 0.001, (3,))
    with pytest.raises(ValueError, match='jitter_m'):
        floor.noise_floor(tmp_path / 'suite', WORLD_MODEL, -0.001, (2,))
    with pytest.raises(FileNotFoundError, match='wm-ros evaluate'):
        floor.noise_floor(tmp_path / 'nothing', WORLD_MODEL)
    jobs = [(config.policies[1], s) for s in starts(config, 64)]
    with pytest.raises(ValueError, match='jitter_m'):
        reuse_real(tmp_path / 'suite', replace(config, jitter_m=0.001), str(trained / 'reward'),
                   jobs)
