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


"""What the command groups of ``wm-ros`` share: the shipped artefacts and argument helpers."""

from __future__ import annotations

import argparse
from pathlib import Path

from wm_ros import artefacts

DEFAULT_MODEL = str(artefacts.WORLD_MODEL)
DEFAULT_REWARD = str(artefacts.REWARD)


def number(text: str):
    """Return ``text`` as an int, a float or a bool where it reads as one, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {'true': True, 'false': False}.get(text.lower(), text)


def items(values: list[str]) -> list[str]:
    """Return the non-empty entries of values given space and/or comma separated."""
    return [x for item in values for x in item.split(',') if x]


def write_report(module, report: dict, out: str) -> str:
    """
    Write ``report`` into ``out`` by ``module.write`` and print ``module.table`` of it.

    Returns ``'wrote <path>'`` (``'wrote <path> and <path>'``) for the command's last line.
    """
    paths = module.write(report, out)
    print(module.table(report))
    return 'wrote ' + ' and '.join(str(p) for p in ([paths] if isinstance(paths, Path) else paths))


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line: what was wrong, where help is."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_defaults(cli_prog=self.prog)    # the innermost (sub)command's, for messages

    def error(self, message: str):
        """Print ``message`` in one line on stderr and exit with 2 (a usage error)."""
        text = ' '.join(message.split())
        self.exit(2, f'{self.prog}: error: {text} (see `{self.prog} --help`)\n')
