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
Every command of the README's recipes runs, at tiny sizes; the README stays a guide.

The recipes are the fenced ``bash`` blocks under the README's ``## Recipes`` heading, one
test per ``###`` recipe, its commands in order in one fresh working directory (so relative
outputs such as ``out/evaluate`` or ``models/mine`` land in a temporary directory and a
later command finds what an earlier one wrote). A ``wm-ros`` command runs as written,
except for the sizes in :data:`TINY` (the documented mapping below: episodes, steps and
durations shrunk, tiny configs), then its output is checked. A line ending in ``&`` runs
in the background until the recipe's other commands end, then gets SIGINT, as a user's
Ctrl-C. ``ros2 launch`` and ``make`` lines are exempt, each with the test that covers it
(:data:`EXEMPT`). Any other command, or a ``wm-ros`` command with no entry in
:data:`TINY`, fails: a new recipe needs its tiny sizes here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import json
from pathlib import Path
import re
import shlex
import signal
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'
MAX_LINES = 400


@dataclass(frozen=True)
class Tiny:
    """How one ``wm-ros`` command runs in the test: sizes, exit codes, what it must write."""

    sizes: dict = field(default_factory=dict)    # flag -> value: replaces it or is appended
    codes: tuple = (0,)                          # accepted exit codes
    ros: bool = False                            # starts nodes: run it as its own process
    check: Callable[[list, Path, str], None] | None = None     # (argv, cwd, its output)


def _opt(argv: list, flag: str) -> str:
    """Return the value of ``flag`` in ``argv``."""
    return argv[argv.index(flag) + 1]


def _evaluation(argv, cwd, _):
    doc = json.loads((cwd / _opt(argv, '--out') / 'evaluation.json').read_text())
    policies = _opt(argv, '--policies').split(',')
    assert sorted({c['policy'] for c in doc['cells']}) == sorted(policies), doc['cells']
    assert all(c['n'] == 1 for c in doc['cells'])


def _report(argv, cwd, _):
    html = cwd / _opt(argv, '--evaluation') / 'report.html'      # beside evaluation.json
    assert 'Pearson' in html.read_text()


def _plan(argv, cwd, _):
    doc = json.loads((cwd / _opt(argv, '--out') / 'plan.json').read_text())
    assert doc['instruction'] == argv[2] and doc['subgoals'], doc
    assert (cwd / _opt(argv, '--out') / 'plan.mp4').stat().st_size > 0


def _collect(argv, cwd, _):
    assert list((cwd / _opt(argv, '--out')).glob('shard-*.npz'))


def _bag_export(argv, cwd, _):
    assert (cwd / _opt(argv, '--out') / 'metadata.yaml').is_file()


FORMATS = {'slots': 'wm_ros.object_slots', 'free_slots': 'wm_ros.free_slots',
           'latent': 'wm_ros.latent_grid', 'jepa': 'wm_ros.jepa'}


def _trained(argv, cwd, _):
    meta = json.loads((cwd / _opt(argv, '--out') / 'model.json').read_text())
    family = _opt(argv, '--family') if '--family' in argv else 'slots'
    assert meta['format'] == FORMATS[family], meta['format']


def _exported(argv, cwd, _):
    assert list((cwd / _opt(argv, '--model')).rglob('*.onnx'))


def _pusht_plan(argv, cwd, _):
    doc = json.loads((cwd / _opt(argv, '--out') / 'pusht_planner.json').read_text())
    assert doc['n'] == 1 and len(doc['wilson_pct']) == 2, doc


def _fidelity(argv, cwd, _):
    doc = json.loads((cwd / _opt(argv, '--out') / 'fidelity.json').read_text())
    assert doc, 'empty fidelity.json'


def _up(argv, _, output):
    assert f"graph '{argv[2]}' up" in output, output[-2000:]


def _demo(argv, cwd, _):
    assert (cwd / _opt(argv, '--out') / 'compare.mp4').stat().st_size > 0


def _recorded(argv, cwd, _):
    from rosbags.highlevel import AnyReader
    with AnyReader([cwd / _opt(argv, '--out')]) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
    for topic in ('/camera/image_raw', '/imagined/camera/image_raw'):      # real and predicted
        assert counts.get(topic, 0) > 0, counts


# The documented mapping from a recipe's sizes to the test's: every wm-ros command of the
# recipes needs an entry (key: the command and, for groups, its sub-command).
TINY: dict[str, Tiny] = {
    'evaluate': Tiny({'--episodes': '1', '--tasks': 'block_to_region', '--max-steps': '4',
                      '--max-steps-long': '4', '--workers': '1'}, check=_evaluation),
    'report': Tiny(check=_report),
    # 1: the plan ran but the task is not solved within the tiny step limit (2 = refused)
    'plan': Tiny({'--config': 'tiny', '--max-steps': '6'}, codes=(0, 1), check=_plan),
    'collect': Tiny({'--episodes': '1', '--max-steps': '60', '--tasks': 'separate'},
                    check=_collect),
    'collect pusht': Tiny({'--episodes': '4', '--max-steps': '30'}, check=_collect),
    'eval planner pusht': Tiny({'--config': 'tiny', '--episodes': '1', '--max-steps': '6'},
                               check=_pusht_plan),
    'bag export': Tiny(check=_bag_export),
    'train world-model': Tiny({'--config': 'tiny'}, check=_trained),
    'export': Tiny(check=_exported),
    'eval fidelity': Tiny({'--episodes': '1'}, check=_fidelity),
    # durations leave a loaded 2-core host time to start the nodes (a few s when idle)
    'up': Tiny({'--duration': '12'}, ros=True, check=_up),
    'demo': Tiny({'--duration': '25'}, ros=True, check=_demo),
    'record': Tiny({'--duration': '45'}, ros=True, check=_recorded),
}
BACKGROUND_CAP_S = '120'     # a background command's --duration: SIGINT ends it long before

# Lines that are not wm-ros commands: the test that runs them instead.
EXEMPT = {
    ('ros2', 'launch'): ('test/ros/test_launch.py',
                         'runs every launch file with launch_pytest (needs a ROS 2 install '
                         'or ../shared/ros-launch-kit); no ros2 command exists in the venv'),
    ('make', 'demo'): ('test/ros/test_demo.py', 'runs the demo that `make demo` runs'),
    ('make', 'test'): ('test/', 'is the test suite itself'),
}


def recipes(text: str) -> dict[str, list[list[str]]]:
    """Return ``{recipe title: [argv, ...]}`` from the ``## Recipes`` section of ``text``."""
    section = text.split('\n## Recipes\n', 1)[1].split('\n## ', 1)[0]
    found = {}
    for part in section.split('\n### ')[1:]:
        title, body = part.split('\n', 1)
        commands = []
        for block in re.findall(r'```bash\n(.*?)```', body, re.S):
            for line in block.replace('\\\n', ' ').splitlines():
                words = shlex.split(line, comments=True)
                if words:
                    commands.append(words)
        found[title.strip()] = commands
    return found


def key(argv: list) -> str | None:
    """
    Return the :data:`TINY` key of a ``wm-ros`` command (``None`` for other programs).

    The command and, for groups, its sub-command; ``pusht`` appended for ``--robot pusht``
    (another robot's tiny sizes differ).
    """
    if argv[0] != 'wm-ros':
        return None
    name = argv[1]
    if argv[1] in ('train', 'eval', 'bag', 'bench') and len(argv) > 2:
        name = f'{argv[1]} {argv[2]}'
    if '--robot' in argv and _opt(argv, '--robot') != 'tabletop':
        name += f' {_opt(argv, "--robot")}'
    return name


def shrink(argv: list, sizes: dict) -> list:
    """Return ``argv`` with every flag of ``sizes`` set to its tiny value (appended if absent)."""
    argv = list(argv)
    for flag, value in sizes.items():
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


RECIPES = recipes(README.read_text())


def test_readme_is_a_short_guide_whose_links_resolve():
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_LINES, 'README over 400 lines: move detail to docs/'
    for heading in ('## Two commands', '## Recipes', '## Extending', '## Layout'):
        assert f'\n{heading}' in text, heading
    links = re.findall(r'\]\(([^)#]+)(?:#[^)]*)?\)', text)
    assert len(links) >= 15, links                      # the status table links its pages
    missing = [link for link in links if not link.startswith('http')
               and not (ROOT / link).exists()]
    assert not missing, f'README links to files that do not exist: {missing}'
    assert 'make test' in (ROOT / '.ci' / 'run').read_text()     # what the README says CI runs


def test_every_recipe_command_is_covered():
    assert len(RECIPES) >= 5 and all(RECIPES.values()), RECIPES
    uncovered = []
    for commands in RECIPES.values():
        for argv in commands:
            k = key(argv)
            exempt = EXEMPT.get(tuple(argv[:2]))
            if exempt:
                assert (ROOT / exempt[0]).exists(), exempt
            elif k not in TINY:
                uncovered.append(' '.join(argv))
    assert not uncovered, ('recipe commands with no tiny sizes in test/test_readme.py TINY '
                           f'(nor exempt): {uncovered}')


def _run(argv: list, cwd: Path, monkeypatch, capfd) -> tuple[int, str]:
    """Run one foreground wm-ros command in ``cwd``; return its exit code and output."""
    if TINY[key(argv)].ros:
        done = subprocess.run([sys.executable, '-m', 'wm_ros.cli', *argv[1:]], cwd=cwd,
                              capture_output=True, text=True, timeout=600)
        return done.returncode, done.stdout + done.stderr
    from wm_ros.cli import main
    monkeypatch.chdir(cwd)
    capfd.readouterr()
    code = main(argv[1:])
    out, err = capfd.readouterr()
    return code, out + err


def _params():
    """One case per recipe; those that start nodes carry the ``ros`` marker."""
    for title in sorted(RECIPES):
        ros = any(TINY.get(key(argv), Tiny()).ros for argv in RECIPES[title])
        yield pytest.param(title, marks=[pytest.mark.ros] if ros else [])


@pytest.mark.parametrize('title', _params())
def test_recipe_runs_at_tiny_sizes(title, tmp_path, monkeypatch, capfd):
    background = []
    try:
        for argv in RECIPES[title]:
            if key(argv) not in TINY:
                continue                    # exempt (test_every_recipe_command_is_covered)
            tiny = TINY[key(argv)]
            if argv[-1] == '&':
                argv = shrink(argv[:-1], {**tiny.sizes, '--duration': BACKGROUND_CAP_S})
                log = (tmp_path / f'background-{len(background)}.log').open('w')
                background.append((argv, log, subprocess.Popen(
                    [sys.executable, '-m', 'wm_ros.cli', *argv[1:]], cwd=tmp_path,
                    stdout=log, stderr=subprocess.STDOUT)))
                continue
            argv = shrink(argv, tiny.sizes)
            code, output = _run(argv, tmp_path, monkeypatch, capfd)
            assert code in tiny.codes, f'{" ".join(argv)} exited {code}:\n{output[-3000:]}'
            if tiny.check:
                tiny.check(argv, tmp_path, output)
        for argv, log, proc in background:
            assert proc.poll() is None, f'{" ".join(argv)} ended early'
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=120)
            log.close()
            output = Path(log.name).read_text()
            assert code == 0, f'{" ".join(argv)} exited {code} on SIGINT:\n{output[-3000:]}'
            TINY[key(argv)].check(argv, tmp_path, output)
    finally:
        for _, log, proc in background:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
