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
A refusal raised in a worker process (``--workers N``) is one line, as without workers.

The pool (:func:`wm_ros.episodes.pool.map_chunks`) carries a worker's worded error back
as the same kind of error with the same message; a bug keeps its worker's traceback. The
case is a perceiving policy on a model without an object read-out, which ``wm-ros eval
floor`` used to find only in its tabletop workers (a traceback with ``--workers 2``).
"""

import json
from pathlib import Path

import pytest

from wm_ros.cli import refusal_code
from wm_ros.episodes.pool import map_chunks
from wm_ros.episodes.seeds import episode_seed
from wm_ros.episodes.tabletop import _run_chunk, sample_starts, TabletopWorld
from wm_ros.errors import raised_by_wm_ros

from .test_refusals import refused

REPO = Path(__file__).resolve().parents[2]
NO_READOUT = str(REPO / 'wm_ros/models/free_slots')        # a family without ObjectReadout
REWARD = str(REPO / 'wm_ros/models/reward')
WORDS = "policy 'expert' reads blocks through a world model's object read-out"


def test_a_worker_refusal_comes_back_as_the_same_error():
    starts = sample_starts(['block_to_region'], 2, seed=3)
    world = TabletopWorld(NO_READOUT)
    chunks = [(world, 'expert', [s], ()) for s in starts]
    with pytest.raises(ValueError, match=WORDS) as here:
        map_chunks(_run_chunk, chunks[:1], 0)
    with pytest.raises(ValueError) as pooled:
        map_chunks(_run_chunk, chunks, 2)
    assert type(pooled.value) is type(here.value) and str(pooled.value) == str(here.value)
    assert raised_by_wm_ros(pooled.value) and refusal_code(pooled.value) == 2
    assert '_need_readout' in str(pooled.value.__cause__)   # the worker's traceback, kept


def test_a_bug_in_a_worker_keeps_its_traceback():
    with pytest.raises(ValueError, match='invalid literal') as bug:
        map_chunks(int, [('4',), ('4.5',)], 2)
    assert refusal_code(bug.value) is None                  # not worded by wm_ros: a bug
    assert 'Traceback' in str(bug.value.__cause__)          # the worker's, kept


def _suite(path: Path) -> None:
    """Write an evaluation of ``expert`` on two starts, as ``wm-ros evaluate`` would."""
    config = {'policies': ['expert'], 'tasks': ['block_to_region'], 'episodes': 2,
              'seed': 3, 'max_steps': 5, 'max_steps_long': 5, 'reward': REWARD}
    episodes = [{'policy': 'expert', 'task': 'block_to_region', 'k': k,
                 'seed': episode_seed(3, 'block_to_region', k), 'real': False,
                 'real_steps': 5, 'real_judged': False, 'real_s': 0.1} for k in range(2)]
    path.mkdir()
    (path / 'evaluation.json').write_text(json.dumps(
        {'config': config, 'cells': [], 'summary': {}, 'episodes': episodes}))


FLOOR = ['eval', 'floor', '--real-from', '{tmp}/suite', '--model', NO_READOUT, '--sizes', '1',
         '--workers', '2', '--out', '{tmp}/floor']


def test_floor_refuses_in_the_parent_before_any_worker(tmp_path, monkeypatch, capsys):
    _suite(tmp_path / 'suite')
    monkeypatch.chdir(tmp_path)
    line = refused(FLOOR, 'reads out no objects, and policies expert read blocks', tmp_path,
                   capsys)
    assert line.startswith('wm-ros eval floor: error: --model: ')


def test_floor_refusal_from_a_worker_is_one_line(tmp_path, monkeypatch, capsys):
    """Without the parent's check, the workers find it: still one line, exit 2."""
    from wm_ros.cli import checks
    monkeypatch.setattr(checks, 'readout', lambda *args: None)
    _suite(tmp_path / 'suite')
    monkeypatch.chdir(tmp_path)
    line = refused(FLOOR, WORDS, tmp_path, capsys)
    assert line.startswith('wm-ros eval floor: error: ')
