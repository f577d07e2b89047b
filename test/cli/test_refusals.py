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
Every ``wm-ros`` refusal is one line on stderr, exit 2, no traceback, nothing written.

The table runs in-process through ``main``; two subprocess runs check the console script
and that names are refused before any model or simulator loads.
"""

import json
import os
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from wm_ros.cli import main
from wm_ros.sim.dataset import Episode, write_shard
from wm_ros.sim.scene import Scene
from wm_ros.sim.tasks import Task, UNKNOWN

MODEL = 'wm_ros/models/world_model'
REPO = Path(__file__).resolve().parents[2]


def tiny_episode(steps: int = 3) -> Episode:
    """Return an episode of ``steps`` steps with 16 px black frames and no blocks."""
    return Episode(np.zeros((steps + 1, 16, 16, 3), np.uint8),
                   np.zeros((steps + 1, 2), np.float32), np.zeros((steps, 2), np.float32),
                   np.zeros(steps + 1, bool), np.zeros((steps + 1, 0, 3), np.float32),
                   Scene(()), Task(UNKNOWN, 'push the block'))


# what `wm-ros evaluate` writes, in the least a suite's rerun reads (a suite of no episodes)
EVALUATION = {'config': {'policies': ['bc_50'], 'tasks': ['block_to_region'], 'episodes': 1,
                         'seed': 0, 'max_steps': 5, 'max_steps_long': 5,
                         'reward': 'wm_ros/models/reward'},
              'cells': [], 'summary': {}, 'episodes': []}


def _inputs(tmp: Path) -> None:
    """Write the inputs the cases refer to: a text file, corrupt and foreign directories."""
    (tmp / 'notes.txt').write_text('not a bag\n')
    (tmp / 'empty').mkdir()
    (tmp / 'corrupt').mkdir()
    (tmp / 'corrupt' / 'evaluation.json').write_text('{"summary": {"pearson": 0.9 "n": 4}}')
    (tmp / 'corrupt' / 'floor.json').write_text('{"cells": [')
    (tmp / 'evaluation').mkdir()
    (tmp / 'evaluation' / 'evaluation.json').write_text(json.dumps(EVALUATION))
    (tmp / 'taken').mkdir()
    (tmp / 'bad.yaml').write_text('image_size: [64,\n')
    write_shard(tmp / 'shards' / 'shard-00000', [tiny_episode()])      # opens; never trained on
    write_shard(tmp / 'shard-00000', [tiny_episode()])


# (argv with {tmp} for the case's directory, words the one line must hold)
CASES = [
    (['bag', 'import', '{tmp}/notes.txt', '--out', '{tmp}/out/s.npz'], 'is not an MCAP file'),
    (['bag', 'import', '{tmp}/empty', '--out', '{tmp}/out/s.npz'], 'no metadata.yaml'),
    (['bag', 'export', '{tmp}/shard-00000', '--out', '{tmp}/taken'], 'exists'),
    (['bag', 'export', '{tmp}/shard-00000', '--episode', '-1', '--out', '{tmp}/b'], '>= 0'),
    (['bag', 'export', '{tmp}/shard-00000', '--episode', '1', '--out', '{tmp}/b'],
     'has episodes 0..0, not 1'),
    (['bag', 'recover', '{tmp}/nowhere'], 'does not exist'),
    (['up', 'sim', '--param', 'sim_robot.rate=fast'], 'rate takes a float'),
    (['up', 'sim', '--param', 'sim_robot.rate=1000'], 'rate must be <= 100'),
    (['up', 'sim', '--param', 'sim_robot.task=juggle'], 'task must be one of'),
    (['up', 'sim', '--param', 'sim_robot.speed=1'], "unknown parameter of sim_robot 'speed'"),
    (['up', 'sim', '--param', 'planner.horizon=3'], "unknown node of graph sim 'planner'"),
    (['up', 'sim', '--param', 'sim_robot.rate'], 'write node.param=value'),
    (['up', 'moon'], "unknown graph 'moon'"),
    (['up', 'robot', '--param', 'sim_robot.robot=moon'], 'robot must be one of'),
    (['up', 'sim', '--duration', '-1'], '--duration'),
    (['record', '--out', '{tmp}/taken'], 'exists'),
    (['demo', '--task', 'juggle', '--out', '{tmp}/out'], "unknown task family 'juggle'"),
    (['demo', '--duration', '0', '--out', '{tmp}/out'], 'must be a number > 0'),
    (['faults', '--case', 'meteor', '--out', '{tmp}/out'], "unknown fault case 'meteor'"),
    (['faults', '--trials', '0', '--out', '{tmp}/out'], 'must be >= 1'),
    (['soak', '--minutes', '0', '--out', '{tmp}/out'], 'must be a number > 0'),
    (['collect', '--episodes', '-3', '--out', '{tmp}/out'], 'argument --episodes: must be >= 1'),
    (['collect', '--episodes', 'ten', '--out', '{tmp}/out'], "'ten' is not a whole number"),
    (['collect', '--tasks', 'juggle', '--out', '{tmp}/out'], "unknown task family 'juggle'"),
    (['collect', '--mix', 'random=1', '--out', '{tmp}/out'], "unknown behaviour 'random'"),
    (['collect', '--mix', 'expert=lots', '--out', '{tmp}/out'], 'bad mix entry'),
    (['collect', '--mix', 'expert=0', '--out', '{tmp}/out'], 'add up to 0'),
    (['collect', '--policies', 'bc_full,juggler', '--out', '{tmp}/out'],
     "unknown policy 'juggler'"),
    (['collect', '--policies', 'bc_full', '--mix', 'expert=1', '--out', '{tmp}/out'],
     'not both'),
    (['collect', '--policies', 'expert', '--model', '{tmp}/empty', '--out', '{tmp}/out'],
     'model.json does not exist'),
    (['collect', '--image-size', '8', '--out', '{tmp}/out'], 'must be >= 16'),
    (['collect', '--robot', 'moon', '--out', '{tmp}/out'],
     "unknown robot 'moon'; choose from tabletop, pusht"),
    (['collect', '--robot', 'pusht', '--mix', 'perceived=1', '--out', '{tmp}/out'],
     "unknown PushT behaviour 'perceived'"),
    (['collect', '--robot', 'pusht', '--tasks', 'separate', '--out', '{tmp}/out'],
     "unknown PushT task family 'separate'"),
    (['collect', '--robot', 'pusht', '--policies', 'state_expert', '--out', '{tmp}/out'],
     "'state_expert' runs on the tabletop only"),
    (['collect', '--policies', 'pusht_expert', '--out', '{tmp}/out'],
     "'pusht_expert' runs on the pusht only"),
    (['collect', '--robot', 'pusht', '--control-hz', '7', '--out', '{tmp}/out'],
     'must divide'),
    (['collect', '--config', '{tmp}/bad.yaml', '--out', '{tmp}/out'], 'is not valid YAML'),
    (['train', 'world-model', '--data', '{tmp}/nowhere', '--out', '{tmp}/out'],
     'nowhere does not exist'),
    (['train', 'world-model', '--data', '{tmp}/empty', '--out', '{tmp}/out'],
     'neither a shard directory'),
    (['train', 'world-model', '--data', '{tmp}/empty'], '--data and --out are required'),
    (['train', 'world-model', '--set', 'steps', '--data', '{tmp}/empty', '--out', '{tmp}/out'],
     'is not key=value'),
    (['train', 'world-model', '--family', 'latent', '--data', '{tmp}/empty', '--out',
      '{tmp}/out'], 'neither a shard directory'),
    (['train', 'world-model', '--config', 'huge', '--data', '{tmp}/shards', '--out',
      '{tmp}/out'], "has no section 'huge'"),
    (['train', 'world-model', '--config-file', '{tmp}/bad.yaml', '--data', '{tmp}/shards',
      '--out', '{tmp}/out'], 'bad.yaml is not valid YAML'),
    (['train', 'world-model', '--set', 'lr=0.001', 'speed=9', '--data', '{tmp}/shards', '--out',
      '{tmp}/out'], "unknown key(s) ['speed']"),
    (['train', 'reward', '--config', 'huge', '--data', '{tmp}/shards', '--out', '{tmp}/out'],
     "has no section 'huge'"),
    (['train', 'policy', '--recipe', 'bc_50', '--config', 'huge', '--data', '{tmp}/shards',
      '--out', '{tmp}/out'], "unknown policy config 'huge'"),
    (['train', 'reward', '--out', '{tmp}/out'], '--data is required'),
    (['train', 'detector', '--data', '{tmp}/empty', '--out', '{tmp}/out'], 'is not a shard'),
    (['train', 'policy', '--out', '{tmp}/out'], 'give --recipe NAME or --all'),
    (['train', 'policy', '--recipe', 'bc_huge', '--out', '{tmp}/out'], "unknown recipe 'bc_huge'"),
    (['train', 'policy', '--recipe', 'bc_50', '--data', '{tmp}/empty', '--out', '{tmp}/out'],
     'is not a shard directory'),
    (['export', '--model', '{tmp}/nowhere', '--out', '{tmp}/out'], 'does not exist'),
    (['eval', 'fidelity', '--model', '{tmp}/empty', '--data', '{tmp}/empty', '--out',
      '{tmp}/out'], 'model.json does not exist'),
    (['eval', 'fidelity', '--data', '{tmp}/nowhere', '--out', '{tmp}/out'], 'does not exist'),
    (['eval', 'novel', '--horizon', '0', '--data', '{tmp}/empty'], 'must be >= 1'),
    (['evaluate', '--policies', 'bc_full,bogus', '--out', '{tmp}/out'], "unknown policy 'bogus'"),
    (['evaluate', '--edits', 'recolour,paint', '--out', '{tmp}/out'], "unknown edit 'paint'"),
    (['evaluate', '--tasks', 'juggle', '--out', '{tmp}/out'], "unknown task family 'juggle'"),
    (['evaluate', '--episodes', '0', '--out', '{tmp}/out'], 'must be >= 1'),
    (['evaluate', '--hold', '0', '--out', '{tmp}/out'], 'must be >= 1'),
    (['evaluate', '--model', '{tmp}/nowhere', '--out', '{tmp}/out'], 'does not exist'),
    (['evaluate', '--reward', '{tmp}/empty', '--out', '{tmp}/out'],
     'is not a reward model directory'),
    (['evaluate', '--real-from', '{tmp}/corrupt', '--out', '{tmp}/out'],
     'evaluation.json is not valid JSON'),
    (['report', '--evaluation', '{tmp}/corrupt'], 'corrupt/evaluation.json is not valid JSON'),
    (['report', '--evaluation', '{tmp}/nowhere'], 'no evaluation at'),
    (['report', '--evaluation', '{tmp}/evaluation', '--floor', '{tmp}/corrupt'],
     'floor.json is not valid JSON'),
    (['eval', 'closed-loop', '--policies', 'bc_full', '--out', '{tmp}/out'],
     "unknown policy 'bc_full'"),
    (['eval', 'closed-loop', '--families', 'juggle', '--out', '{tmp}/out'], 'juggle'),
    (['eval', 'closed-loop', '--settle', '-1', '--out', '{tmp}/out'], 'must be >= 0'),
    (['eval', 'closed-loop', '--detector', '{tmp}/nowhere', '--out', '{tmp}/out'],
     'detector'),
    (['eval', 'floor', '--real-from', '{tmp}/nowhere', '--out', '{tmp}/out'], 'no evaluation'),
    (['eval', 'floor', '--real-from', '{tmp}/evaluation', '--sizes', '5,0', '--out',
      '{tmp}/out'], '--sizes: must be >= 1'),
    (['eval', 'floor', '--real-from', '{tmp}/evaluation', '--jitter-mm', 'nan', '--out',
      '{tmp}/out'], '--jitter-mm'),
    (['eval', 'plan-graph', '--seeds', '1,a', '--out', '{tmp}/out'], "'a' is not a whole"),
    (['eval', 'plan-graph', '--task', 'juggle', '--out', '{tmp}/out'], 'juggle'),
    (['eval', 'plan-graph', '--limit', '0', '--out', '{tmp}/out'], '--limit'),
    (['eval', 'planner', '--suites', 'tidy', '--out', '{tmp}/out'], "unknown suite 'tidy'"),
    (['eval', 'planner', '--methods', 'guess', '--out', '{tmp}/out'], "unknown method 'guess'"),
    (['eval', 'planner', '--methods', 'policy:juggler', '--out', '{tmp}/out'], 'juggler'),
    (['eval', 'planner', '--config', 'huge', '--out', '{tmp}/out'], "no section 'huge'"),
    (['eval', 'policies', '--policies', 'noisy'], "unknown policy 'noisy'"),
    (['eval', 'policies', '--policies', '{tmp}/empty'], 'not a policy directory'),
    (['plan', '--task', 'juggle', '--out', '{tmp}/out'], "unknown task family 'juggle'"),
    (['plan', '--judge', '{tmp}/empty', '--out', '{tmp}/out'], 'not a reward model directory'),
    (['plan', '--backend', 'tensorflow', '--out', '{tmp}/out'], 'invalid choice'),
    (['plan', '--max-steps', '0', '--out', '{tmp}/out'], 'must be >= 1'),
    (['bench', 'world-model', '--baseline', '{tmp}/nowhere'], 'does not exist'),
    (['bench', 'evaluate', '--policies', 'bogus'], "unknown policy 'bogus'"),
    (['bench', 'sim', '-n', '0'], 'must be >= 1'),
    (['bench', 'planner', '--config', 'huge'], "no section 'huge'"),
    (['bench', 'moon'], 'invalid choice'),
    ([], 'the following arguments are required'),
    (['fly'], 'invalid choice'),
]


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob('*')}


def refused(argv: list[str], words: str, tmp: Path, capsys) -> str:
    """
    Run ``wm-ros argv`` ({tmp}: ``tmp``) in ``tmp``; assert a refusal; return its line.

    One line on stderr holding ``words``, exit 2, no traceback, nothing on stdout and
    nothing written under ``tmp``, not even an empty directory.
    """
    os.chdir(tmp)                          # default outputs (out/...) would land here
    before = _tree(tmp)
    code = main([a.replace('{tmp}', str(tmp)) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.endswith('\n'), err
    assert words in err and 'error' in err, err
    assert 'Traceback' not in err and out == ''
    assert _tree(tmp) == before
    return err


@pytest.mark.parametrize('argv, words', CASES, ids=[' '.join(c[0][:3]) for c in CASES])
def test_refusal_is_one_line_before_any_work(argv, words, tmp_path, monkeypatch, capsys):
    _inputs(tmp_path)
    monkeypatch.chdir(tmp_path)             # restored after the test (refused changes it)
    refused(argv, words, tmp_path, capsys)


def test_console_script_refuses_without_traceback(tmp_path):
    """The installed ``wm-ros``: a text file given as a bag is one line and exit 2."""
    script = Path(sys.executable).with_name('wm-ros')
    (tmp_path / 'notes.txt').write_text('not a bag\n')
    run = subprocess.run([str(script), 'bag', 'import', str(tmp_path / 'notes.txt'), '--out',
                          str(tmp_path / 'episode.npz')], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        f'wm-ros bag import: error: bag: {tmp_path / "notes.txt"} is not an MCAP file; give a '
        'rosbag2 directory (from `wm-ros record` or `ros2 bag record -s mcap`) or its .mcap file']
    assert run.stdout == '' and sorted(os.listdir(tmp_path)) == ['notes.txt']


def test_unknown_names_are_refused_before_any_model_or_simulator_loads():
    """An unknown policy or edit is refused from the names alone: no torch, ONNX or MuJoCo."""
    probe = ('import sys\n'
             'from wm_ros.cli import main\n'
             "codes = [main(['evaluate', '--policies', 'bc_full,juggler']),\n"
             "         main(['evaluate', '--edits', 'paint']),\n"
             "         main(['eval', 'closed-loop', '--policies', 'juggler']),\n"
             "         main(['collect', '--policies', 'juggler'])]\n"
             "heavy = [m for m in ('torch', 'onnxruntime', 'mujoco') if m in sys.modules]\n"
             'print(codes, heavy)\n')
    run = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert run.stdout.strip() == '[2, 2, 2, 2] []', run.stderr
    assert len(run.stderr.splitlines()) == 4 and 'Traceback' not in run.stderr


def test_a_bug_keeps_its_traceback(monkeypatch):
    """Only refusals worded for the user become one line; an unexpected error is raised."""
    from wm_ros.cli import evaluate

    def broken(args):
        return int('4.5')                   # a ValueError no wm_ros raise statement words
    monkeypatch.setattr(evaluate, '_report', broken)
    with pytest.raises(ValueError, match='invalid literal'):
        main(['report'])
