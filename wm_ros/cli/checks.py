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
Checks of a ``wm-ros`` command line, made before a command does any work or writes anything.

Two kinds: ``argparse`` types (numbers in range, ``key=value``), refused by the parser in
one line, and checks the handlers call first (names against the known tables, paths that
must exist, files that must parse, shards that must open, bags that must read to their
end), which raise :class:`UsageError`. Every check here is cheap: it imports no torch,
onnxruntime or MuJoCo and loads no model (a bag is read once, without decoding).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
import json
import math
from pathlib import Path


class UsageError(Exception):
    """A refused command line; ``wm-ros`` prints the message as one line and exits with 2."""


# ------------------------------------------------------------------ argparse types
def whole(low: int = 1) -> Callable[[str], int]:
    """Return an argparse type for a whole number >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not a whole number') from None
        if value < low:
            raise argparse.ArgumentTypeError(f'must be >= {low}, got {value}')
        return value
    parse.__name__ = f'whole number >= {low}'
    return parse


def real(low: float = 0.0, strict: bool = False) -> Callable[[str], float]:
    """Return an argparse type for a finite number >= ``low`` (``strict``: > ``low``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(
                f'must be a number {">" if strict else ">="} {low:g}, got {text}')
        return value
    parse.__name__ = 'number'
    return parse


def key_value(text: str) -> tuple[str, str]:
    """Argparse type of ``--set key=value``: return ``(key, value)``."""
    key, eq, value = text.partition('=')
    if not eq or not key.strip():
        raise argparse.ArgumentTypeError(f'{text!r} is not key=value (e.g. steps=200)')
    return key.strip(), value


def wholes(option: str, values: Iterable[str], low: int = 0) -> list[int]:
    """Return the whole numbers >= ``low`` of a space or comma separated list, or refuse."""
    try:
        return [whole(low)(x) for item in values for x in str(item).split(',') if x]
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f'{option}: {exc}') from None


# ------------------------------------------------------------------ names
def one_of(option: str, names: Iterable[str], known: Iterable[str], what: str = '') -> None:
    """Refuse any of ``names`` that is not in ``known``."""
    known = list(known)
    bad = [n for n in names if n not in known]
    if bad:
        raise UsageError(f'{option}: unknown {what or "name"} {", ".join(map(repr, bad))}; '
                         f'choose from {", ".join(known)}')


def families(option: str, names: Iterable[str], extra: tuple[str, ...] = ()) -> None:
    """Refuse names that are not task families of the tabletop (or one of ``extra``)."""
    from wm_ros.sim.tasks import FAMILIES
    one_of(option, names, FAMILIES + extra, 'task family')


def policies(option: str, names: Iterable[str], experts: bool = True,
             learned: bool = True) -> None:
    """
    Refuse names that are no policy of the kinds allowed (:mod:`wm_ros.policy.registry`).

    ``experts``: the registered kinds (perception experts, the state expert); ``learned``:
    zoo names and policy directories. Reads only names and files; loads no policy.
    """
    from wm_ros.policy import registry
    for name in names:
        try:
            kind = registry.check(name)
        except registry.UnknownPolicy as exc:
            raise UsageError(f'{option}: {exc}') from None
        if kind == 'directory' and not (Path(name).expanduser() / 'policy.json').is_file():
            raise UsageError(f'{option}: {name} is not a policy directory (no policy.json); '
                             'train one with `wm-ros train policy`')
        if learned and not experts and kind not in ('zoo', 'directory'):
            raise UsageError(f'{option}: unknown policy {name!r} here: choose a zoo name '
                             f'({", ".join(registry.zoo_names())}) or a policy directory')
        if experts and not learned and kind not in registry.PERCEIVING:
            raise UsageError(f'{option}: unknown policy {name!r} here: choose one of '
                             f'{", ".join(registry.PERCEIVING)}')


def edits(option: str, names: Iterable[str]) -> None:
    """Refuse names that are no OOD edit."""
    from wm_ros.evaluate.edits import EditError, parse_edit
    for name in names:
        try:
            parse_edit(name)
        except EditError as exc:
            raise UsageError(f'{option}: {exc}') from None


# ------------------------------------------------------------------ paths and files
def exists(option: str, path: str | Path | None, what: str = 'path') -> None:
    """Refuse a ``path`` that does not exist (None or '' passes: the option is unused)."""
    if path and not Path(path).expanduser().exists():
        raise UsageError(f'{option}: {what} {path} does not exist')


def new(option: str, path: str | Path) -> None:
    """Refuse a ``path`` that exists already (a command that writes a new directory)."""
    if Path(path).exists():
        raise UsageError(f'{option}: {path} exists; give a new path')


def model(option: str, path: str | Path, backend: str | None = None) -> None:
    """Refuse a world-model directory without readable metadata or a runtime for ``backend``."""
    from wm_ros.model.config import ModelFileError
    from wm_ros.runtime.registry import model_format, registered
    exists(option, path, 'model directory')
    try:
        fmt = model_format(path)
    except ModelFileError as exc:
        raise UsageError(f'{option}: {exc}') from None
    formats = {f for f, _ in registered()}
    if fmt not in formats:
        raise UsageError(f'{option}: {path} holds model format {fmt!r}; this wm_ros knows '
                         f'{", ".join(sorted(formats))}')
    if backend and (fmt, backend) not in registered():
        raise UsageError(f'{option}: no {backend} runtime for {path} (format {fmt}); '
                         'choose another --backend')


def readout(option: str, path: str | Path, names: Iterable[str]) -> None:
    """
    Refuse policies that perceive through the model ``path`` when it reads out no objects.

    Loads the model's ONNX runtime, and only when one of ``names`` perceives (what a
    worker process would otherwise find after the pool started).
    """
    from wm_ros.policy import registry
    perceiving = [n for n in names if registry.perceives(n)]
    if not perceiving:
        return
    from wm_ros.runtime import load_runtime
    from wm_ros.runtime.base import ObjectReadout
    runtime = load_runtime(path, 'onnxruntime', threads=1)
    if not isinstance(runtime, ObjectReadout):
        raise UsageError(f'{option}: {path} ({type(runtime).__name__}) reads out no objects, '
                         f'and policies {", ".join(perceiving)} read blocks through it; give '
                         'a model of the object-slot family')


def reward(option: str, path: str | Path | None) -> None:
    """Refuse a reward-model directory without ``reward.json`` (None or '' passes)."""
    if not path:
        return
    exists(option, path, 'reward model directory')
    if not (Path(path) / 'reward.json').is_file():
        raise UsageError(f'{option}: {path} is not a reward model directory (no reward.json); '
                         'train one with `wm-ros train reward` or pass wm_ros/models/reward')


def data(option: str, paths: Iterable[str], bags: bool = True) -> None:
    """
    Refuse data paths that are not shard directories (or, with ``bags``, rosbag2 bags).

    Every shard must open with every array its index lists, and every bag must read to
    its end (:func:`shard`, :func:`readable_bag`), so damaged data is refused before a
    command writes anything.
    """
    for path in map(Path, paths):
        if not path.exists():
            raise UsageError(f'{option}: {path} does not exist; collect episodes with '
                             '`wm-ros collect --out DIR` or record a bag with `wm-ros record`')
        if bags and ((path / 'metadata.yaml').is_file() or path.suffix == '.mcap'):
            mcap_bag(option, path)
            continue
        if not (path.is_dir() and any(path.glob('shard-*.npz'))):
            kinds = 'a shard directory (shard-*.npz) nor a rosbag2 bag' if bags else \
                'a shard directory (shard-*.npz)'
            raise UsageError(f'{option}: {path} is {"neither" if bags else "not"} {kinds}; '
                             'collect episodes with `wm-ros collect --out DIR`')
        for file in sorted(path.glob('shard-*.npz')):
            shard(option, file)


def shard(option: str, path: str | Path) -> int:
    """Refuse a shard that is missing or damaged (cheap: nothing is decompressed)."""
    from wm_ros.sim.dataset import check_shard, ShardError
    try:
        return check_shard(path)
    except (ShardError, FileNotFoundError) as exc:
        raise UsageError(f'{option}: {exc}') from None


def mcap_bag(option: str, path: str | Path) -> None:
    """Refuse a path that is neither a rosbag2 directory nor an MCAP file, or is damaged."""
    path = Path(path)
    exists(option, path, 'bag')
    if path.is_dir():
        if not (path / 'metadata.yaml').is_file():
            raise UsageError(f'{option}: {path} is not a rosbag2 bag (no metadata.yaml); '
                             'if its recorder was killed, run `wm-ros bag recover` first')
    else:
        with open(path, 'rb') as f:
            head = f.read(8)
        if path.suffix != '.mcap' or head != b'\x89MCAP0\r\n':
            raise UsageError(f'{option}: {path} is not an MCAP file; give a rosbag2 directory '
                             '(from `wm-ros record` or `ros2 bag record -s mcap`) or its .mcap '
                             'file')
    readable_bag(option, path)


def readable_bag(option: str, path: str | Path) -> None:
    """Refuse a bag that does not read to its end (reads every record, decodes none)."""
    from wm_ros.sim.bag import BagReadError, check_bag
    try:
        check_bag(path)
    except BagReadError as exc:
        raise UsageError(f'{option}: {exc}') from None


def json_file(option: str, path: str | Path, hint: str) -> dict:
    """Return the JSON object in ``path``, or refuse naming the file and what to do."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f'{option}: {path} does not exist; {hint}') from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f'{option}: {path} is not valid JSON ({exc}); {hint}') from None
    if not isinstance(data, dict):
        raise UsageError(f'{option}: {path} holds no JSON object; {hint}')
    return data


def evaluation(option: str, path: str | Path, suite: bool = False) -> dict:
    """
    Return the evaluation in ``path`` (a directory or its JSON file), or refuse it.

    It must hold what ``wm-ros evaluate`` writes (``suite``: also what rerunning its suite
    reads, for ``--real-from`` and ``eval floor``).
    """
    from wm_ros.evaluate.evaluation_file import (EvaluationFileError, evaluation_path,
                                                 load_evaluation)
    file = evaluation_path(path)
    if not file.is_file():
        raise UsageError(f'{option}: no evaluation at {file}; run `wm-ros evaluate --out '
                         f'{path}` first, or pass the directory it wrote')
    try:
        return load_evaluation(file, suite)
    except EvaluationFileError as exc:
        raise UsageError(f'{option}: {exc}') from None


def floor(option: str, path: str | Path) -> None:
    """Refuse a noise floor that is missing, corrupt or foreign: a directory or its JSON."""
    path = Path(path)
    file = path / 'floor.json' if path.is_dir() or not path.suffix else path
    hint = 'run `wm-ros eval floor --real-from EVALUATION --out DIR` and pass that DIR'
    data = json_file(option, file, hint)
    kinds = {'sizes': dict, 'records': list, 'jitter_m': (int, float)}
    lacking = [key for key, kind in kinds.items() if not isinstance(data.get(key), kind)]
    if lacking:
        raise UsageError(f'{option}: {file} is not a noise floor written by `wm-ros eval '
                         f'floor` (it lacks {", ".join(lacking)}); {hint}')


def config_section(option: str, name: str, section: str) -> None:
    """Refuse a ``section`` that ``config/<name>`` does not have."""
    import yaml

    from wm_ros.config import config_dir
    path = config_dir() / name
    try:
        sections = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f'{option}: cannot read {path}: {exc}') from None
    if section not in sections:
        raise UsageError(f'{option}: {path} has no section {section!r}; it has '
                         f'{", ".join(sorted(sections))}')
