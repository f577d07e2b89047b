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
``wm-ros eval planner --robot pusht --goal-image``: PushT episodes toward PushT's goal image.

A tiny JEPA model trained here on a few PushT episodes plans two short episodes on PushT
itself, end to end through the CLI; the report has PushT's success with its Wilson
interval and the time per planned action. The goal images are PushT's goal state as
PushT draws it. Models the planner cannot compare with, and the tabletop, are refused
in one line.
"""

import json
import re

import numpy as np
import pytest

from wm_ros.cli import main as cli
from wm_ros.episodes.collect import collect
from wm_ros.episodes.env import Start
from wm_ros.evaluate.goal_planning import goal_images, RING_M
from wm_ros.evaluate.metrics import wilson
from wm_ros.evaluate.pusht_goals import coverage, expert_tasks, GoalTasks
from wm_ros.runtime import copy_last
from wm_ros.sim.dataset import iter_episodes
from wm_ros.sim.pusht import goal_state, PushTConfig, wrap
from wm_ros.sim.tasks import PUSHT, PUSHT_TASK


@pytest.fixture(scope='module')
def pusht_model(tmp_path_factory):
    """Return ``(model_dir, training seeds)``: a tiny JEPA trained on 4 PushT episodes."""
    data = tmp_path_factory.mktemp('pusht_episodes')
    collect(data, 4, seed=3, config=PushTConfig(), shard_size=4, max_steps=20,
            progress=False, robot='pusht')
    heldout = tmp_path_factory.mktemp('pusht_heldout')
    collect(heldout, 2, seed=4, config=PushTConfig(), shard_size=2, max_steps=20,
            progress=False, robot='pusht')
    out = tmp_path_factory.mktemp('jepa')
    assert cli(['train', 'world-model', '--family', 'jepa', '--config', 'tiny', '--data',
                str(data), '--heldout', str(heldout), '--out', str(out),
                '--set', 'steps=20']) == 0
    meta = json.loads((out / 'model.json').read_text())
    assert meta['capabilities'] == ['embedding']
    measured = meta['train']['heldout']             # open loop on the held-out seeds
    assert [m['horizon'] for m in measured] == [1, 8, 16]
    assert all(m['starts'] > 0 and m['copy_last'] > 0 for m in measured)
    return out, {ep.seed for ep in iter_episodes(data)}


def test_wilson_interval_matches_the_formula():
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    assert wilson(0, 2)[0] == 0.0 and wilson(0, 2)[1] == pytest.approx(0.6576, abs=1e-3)
    assert wilson(2, 2)[1] == 1.0 and wilson(0, 0) == (0.0, 1.0)


def test_the_goal_images_are_pushts_goal_with_the_pusher_around_it():
    images, ee = goal_images(PushTConfig(), views=4)      # each checked to show success
    assert images.shape == (4, 64, 64, 3) and images.dtype == np.uint8
    assert ee.shape == (4, 2)
    centre = goal_state(PushTConfig())[:2]                 # the goal T's centroid
    np.testing.assert_allclose(np.linalg.norm(ee - centre, axis=1), RING_M, atol=1e-3)
    assert len({img.tobytes() for img in images}) == 4     # the pusher drawn elsewhere
    same = (images == images[0]).all(-1).all(0)            # pixels every view shares
    assert same.mean() > 0.9                               # the T, goal and board


def test_eval_planner_plans_pusht_toward_its_goal_image_end_to_end(
        pusht_model, tmp_path, capsys):
    model, trained_on = pusht_model
    out = tmp_path / 'eval'
    code = cli(['eval', 'planner', '--robot', 'pusht', '--goal-image', '--model', str(model),
                '--backend', 'torch', '--episodes', '2', '--max-steps', '6', '--config',
                'tiny', '--workers', '0', '--views', '4', '--out', str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert re.search(r'PushT: [0-2] of 2 episodes solved \(\d+ %, 95 % Wilson interval '
                     r'\d+-\d+ %\); published criterion [0-2] of 2 \(\d+ %, \d+-\d+ %\); '
                     r'[0-9.]+ s per planned action', text), text
    report = json.loads((out / 'pusht_planner.json').read_text())
    assert report['n'] == 2 and 0.0 <= report['wilson_pct'][0] <= report['wilson_pct'][1]
    for episode in report['episodes']:
        assert episode['steps'] == 6 or episode['success']
        assert episode['actions'] == episode['steps'] and episode['plans'] >= 3   # repeat 2
        assert 0.0 <= episode['coverage'] <= episode['best_coverage'] <= 1.0
    assert report['s_per_action'] > 0.0
    seeds = {e['seed'] for e in report['episodes']}
    assert len(seeds) == 2 and not seeds & trained_on       # never the training seeds
    assert "| goal-image CEM, this model | PushT's goal | 2 |" in (
        out / 'pusht_planner.md').read_text()
    # the published protocol: toward where the expert had the T 25 steps later
    assert cli(['eval', 'planner', '--robot', 'pusht', '--goal-image', '--model', str(model),
                '--backend', 'torch', '--episodes', '1', '--goal-steps', '25', '--max-steps',
                '4', '--config', 'tiny', '--workers', '0', '--out', str(out)]) == 0
    report = json.loads((out / 'pusht_planner.json').read_text())
    assert report['config']['goal_steps'] == 25 and report['n'] == 1
    assert report['episodes'][0]['final_t_error_m'] > 0.0
    # both verdicts, PushT's coverage and the published planners', are reported
    assert {'coverage_any', 'published_any', 'published_final'} <= set(report)
    assert report['episodes'][0]['start_published_units'] > 0.0
    assert 'eval_state' in (out / 'pusht_planner.md').read_text()


def test_expert_goals_are_pusht_states_the_expert_reached_from_the_start():
    """The published protocol: the goal is where the expert had the T 25 steps later."""
    config = PushTConfig()
    tasks = expert_tasks(2, seed=7, goal_steps=25, config=config)
    envs = GoalTasks(config, tasks)
    try:
        starts = [Start(PUSHT, t.k, t.seed, None, PUSHT_TASK) for t in tasks]
        obs, infos = envs.reset(starts)
        for task, info, image in zip(tasks, infos, obs.image):
            moved = np.linalg.norm(task.goal[:2] - task.start[2:4])
            turned = abs(wrap(task.goal[2] - task.start[4]))
            assert moved > 0.02 or turned > np.radians(10)
            np.testing.assert_allclose(info['block_xy'][0], task.start[2:4], atol=2e-3)
            assert not info['success'] and info['coverage'] < 0.95   # the T is not there yet
            assert task.image.shape == image.shape and (task.image != image).any()
        env = envs.envs[0]                  # the goal state covers the task's goal
        obs, info = env.reset(seed=tasks[0].seed,
                              options={'state': [*tasks[0].goal_ee, *tasks[0].goal]})
        assert coverage(env, tasks[0].goal) > 0.99
        np.testing.assert_array_equal(obs['image'], tasks[0].image)    # the goal image
        env.reset(seed=tasks[0].seed, options={'state': [0.2, 0.2, *goal_state(config)]})
        assert coverage(env, goal_state(config)) == pytest.approx(env.coverage(), abs=1e-6)
    finally:
        envs.close()


def test_models_and_robots_the_goal_planner_cannot_use_are_refused(
        pusht_model, tmp_path, capsys):
    model, _ = pusht_model
    blind = copy_last.save(tmp_path / 'copy_last')
    base = ['eval', 'planner', '--goal-image', '--episodes', '1', '--out', str(tmp_path)]
    for argv, message in (
            (['--robot', 'pusht', '--model', str(blind), '--backend', 'torch'],
             'has neither \\(Embedding, ObjectReadout, ObjectPoses\\)'),
            (['--model', str(model), '--backend', 'torch'], 'runs on PushT'),
            (['--robot', 'pusht'], 'trained on PushT'),
            (['--robot', 'pusht', '--model', str(model)], 'wm-ros export'),
            (['--robot', 'mars', '--model', str(model)], "unknown robot 'mars'")):
        assert cli(base + argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and re.search(message, err), err
