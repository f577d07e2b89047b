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
Damaged or foreign data is refused in one line naming the file and what to do.

Shards that are cut off, not ``.npz``, lack arrays or have a broken index; MCAP bags with a
valid header whose content is cut off or damaged (refused with ``wm-ros bag recover``);
JSON objects given as an evaluation or a noise floor that ``wm-ros`` did not write. Each
is refused before the command writes anything (:func:`test.cli.test_refusals.refused`).
"""

import json
from pathlib import Path
import shutil
import struct

import numpy as np
import pytest

from wm_ros.sim.bag import export_mcap, import_mcap
from wm_ros.sim.dataset import ARRAYS, read_shard, ShardError, write_shard

from .test_refusals import EVALUATION, refused, tiny_episode


def _shard_dir(root: Path, name: str, npz: bytes | None = None, index: str | None = None
               ) -> None:
    """Write a one-episode shard under ``root/name``, then replace its files' bytes."""
    shard = write_shard(root / name / 'shard-00000', [tiny_episode()])
    if npz is not None:
        shard.write_bytes(npz)
    if index is not None:
        shard.with_suffix('.json').write_text(index)


def _message_lengths(mcap: bytes) -> list[int]:
    """Return the offsets of the length fields of the message records in the first chunk."""
    i = 8 + 9 + struct.unpack_from('<Q', mcap, 9)[0]         # after the header record
    assert mcap[i] == 0x06, 'the bag starts with a chunk'
    n = struct.unpack_from('<I', mcap, i + 9 + 28)[0]           # compression name length
    j, end = i + 9 + 28 + 4 + n + 8, i + 9 + struct.unpack_from('<Q', mcap, i + 1)[0]
    found = []
    while j < end:
        op, size = struct.unpack_from('<BQ', mcap, j)
        if op == 0x05:
            found.append(j + 1)
        j += 9 + size
    return found


@pytest.fixture(scope='module')
def inputs(tmp_path_factory) -> Path:
    """Build every damaged input once: shards, bags, JSON files."""
    root = tmp_path_factory.mktemp('inputs')
    good = write_shard(root / 'shards' / 'shard-00000', [tiny_episode()]).read_bytes()
    _shard_dir(root, 'cut', npz=good[:len(good) // 2])
    _shard_dir(root, 'noise', npz=np.random.default_rng(0).bytes(4000))
    _shard_dir(root, 'index', index='{"format_version": 1, "episodes": [')
    arrays = {f'e0.{n}': getattr(tiny_episode(), n) for n in ARRAYS if n != 'actions'}
    _shard_dir(root, 'unpacked')
    np.savez_compressed(root / 'unpacked' / 'shard-00000.npz', **arrays)
    _shard_dir(root, 'short')                          # its arrays' lengths disagree
    np.savez_compressed(root / 'short' / 'shard-00000.npz', **arrays,
                        **{'e0.actions': np.zeros((1, 2), np.float32)})
    bag = export_mcap(tiny_episode(), root / 'bag')
    data = next(bag.glob('*.mcap')).read_bytes()
    for name, damage in (('cutbag', lambda b: b[:len(b) * 3 // 5]),
                         ('flipbag', _flipped), ('specbag', _spec_damaged)):
        shutil.copytree(bag, root / name)
        (root / name / 'bag.mcap').write_bytes(damage(data))
    odd_rows = {**EVALUATION, 'cells': [1], 'judges': {'real': 0.9}}
    for name, obj in (('foreign', {'a': 1}), ('oddcells', {**EVALUATION, 'cells': 3}),
                      ('oddrows', odd_rows),
                      ('nosuite', {'config': {'policies': ['bc_50'], 'tasks': ['separate']},
                                   'cells': [], 'summary': {}}),
                      ('evaluation', EVALUATION)):
        (root / name).mkdir()
        (root / name / 'evaluation.json').write_text(json.dumps(obj))
    (root / 'foreign' / 'floor.json').write_text('{"a": 1}')
    return root


def _flipped(data: bytes) -> bytes:
    """Return ``data`` with a message record in the middle claiming 2 GB (footer intact)."""
    out = bytearray(data)
    at = _message_lengths(data)
    out[at[len(at) // 2]:at[len(at) // 2] + 8] = struct.pack('<Q', 2**31)
    return bytes(out)


def _spec_damaged(data: bytes) -> bytes:
    """Return ``data`` with the JSON of its ``/task/spec`` message broken (records intact)."""
    i = data.index(b'"scene"')
    return data[:i] + b'\0\0\0' + data[i + 3:]


RECOVER = 'wm-ros bag recover {tmp}/'
SHARD = 'shard-00000.npz is damaged'
AGAIN = 'collect it again with `wm-ros collect --out DIR`'
CASES = [
    (['train', 'world-model', '--data', '{tmp}/cut', '--out', '{tmp}/out'], f'cut/{SHARD}'),
    (['train', 'world-model', '--data', '{tmp}/shards', '{tmp}/noise', '--out', '{tmp}/out'],
     'noise/shard-00000.npz is damaged (not an .npz archive'),
    (['train', 'reward', '--data', '{tmp}/unpacked', '--out', '{tmp}/out'],
     'array(s) its index lists are missing, e.g. e0.actions'),
    (['train', 'reward', '--data', '{tmp}/shards', '--heldout', '{tmp}/cut', '--out',
      '{tmp}/out'], f'--heldout: shard {{tmp}}/cut/{SHARD}'),
    (['train', 'policy', '--recipe', 'bc_50', '--data', '{tmp}/cut', '--out', '{tmp}/out'],
     AGAIN),
    (['train', 'detector', '--data', '{tmp}/index', '--out', '{tmp}/out'],
     'index/shard-00000.json is damaged (not valid JSON'),
    (['eval', 'fidelity', '--data', '{tmp}/noise', '--out', '{tmp}/out'], 'not an .npz'),
    (['eval', 'novel', '--data', '{tmp}/cut'], f'cut/{SHARD}'),
    (['bag', 'export', '{tmp}/cut/shard-00000', '--out', '{tmp}/b'], f'cut/{SHARD}'),
    (['bag', 'export', '{tmp}/short/shard-00000', '--out', '{tmp}/b'],
     'episode 0 has 4 images for 1 actions, not one more'),
    (['train', 'world-model', '--data', '{tmp}/short', '--out', '{tmp}/out'],
     f'short/{SHARD} (episode 0 has 4 images'),
    (['bag', 'import', '{tmp}/cutbag', '--out', '{tmp}/o/s.npz'], RECOVER + 'cutbag`'),
    (['bag', 'import', '{tmp}/cutbag/bag.mcap', '--out', '{tmp}/o/s.npz'],
     RECOVER + 'cutbag/bag.mcap`'),
    (['bag', 'import', '{tmp}/flipbag', '--out', '{tmp}/o/s.npz'], RECOVER + 'flipbag`'),
    (['bag', 'import', '{tmp}/specbag', '--out', '{tmp}/o/s.npz'],
     '/task/spec message is damaged'),
    (['train', 'world-model', '--data', '{tmp}/cutbag', '--out', '{tmp}/out'],
     RECOVER + 'cutbag`'),
    (['train', 'world-model', '--family', 'latent', '--data', '{tmp}/flipbag/bag.mcap',
      '--out', '{tmp}/out'], RECOVER + 'flipbag/bag.mcap`'),
    (['train', 'world-model', '--data', '{tmp}/bag/bag.mcap', '--out', '{tmp}/out'],
     'is an MCAP file; the slots family reads a bag from its directory'),
    (['report', '--evaluation', '{tmp}/foreign'],
     'foreign/evaluation.json is not an evaluation written by `wm-ros evaluate` (config, '
     'cells, summary: missing or malformed)'),
    (['report', '--evaluation', '{tmp}/oddcells/evaluation.json'], '(cells: missing'),
    (['report', '--evaluation', '{tmp}/oddrows'], '(cells[0], judges.real: missing'),
    (['report', '--evaluation', '{tmp}/evaluation', '--floor', '{tmp}/foreign'],
     'foreign/floor.json is not a noise floor written by `wm-ros eval floor`'),
    (['evaluate', '--real-from', '{tmp}/nosuite', '--out', '{tmp}/out'],
     '(episodes, config.episodes, config.seed'),
    (['eval', 'floor', '--real-from', '{tmp}/foreign', '--out', '{tmp}/out'],
     'is not an evaluation written by `wm-ros evaluate`'),
]


@pytest.mark.parametrize('argv, words', CASES, ids=[' '.join(c[0][:4]) for c in CASES])
def test_damaged_input_is_one_line_before_any_work(argv, words, inputs, tmp_path,
                                                   monkeypatch, capsys):
    shutil.copytree(inputs, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    refused(argv, words.replace('{tmp}', str(tmp_path)), tmp_path, capsys)


def test_read_shard_names_the_damaged_shard(inputs):
    """At the source: every kind of damage is a ShardError naming the file, not numpy's."""
    for name in ('cut', 'noise', 'index', 'unpacked', 'short'):
        with pytest.raises(ShardError, match=f'{name}/shard-00000.*collect it again'):
            read_shard(inputs / name / 'shard-00000')


def test_recover_repairs_what_import_refused(inputs, tmp_path, capsys):
    """The command the refusal names works: after it, the bag is no longer refused."""
    from wm_ros.cli import main
    bag = shutil.copytree(inputs / 'flipbag', tmp_path / 'flipbag')
    assert main(['bag', 'recover', str(bag)]) == 0
    assert 'recovered' in capsys.readouterr().out
    kept = import_mcap(bag)                  # the frames before the damaged record
    assert 2 <= len(kept.images) < len(tiny_episode().images)
