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
What an ``evaluation.json`` written by ``wm-ros evaluate`` holds, checked when one is read.

The report, ``--real-from`` and ``wm-ros eval floor`` read evaluations; a file that is not
JSON, or a JSON object without the keys below (``{"a": 1}`` would render an empty page),
raises :class:`EvaluationFileError` naming the file and what it lacks.
"""

from __future__ import annotations

import json
from pathlib import Path

# every evaluation.json holds these (key: JSON type) and these keys of its config; a rerun
# of its suite (--real-from, eval floor) also reads the SUITE ones; the OPTIONAL sections
# have these types where present, and the rows of ROWS the keys listed
REQUIRED = {'config': dict, 'cells': list, 'summary': dict}
CONFIG = ('policies', 'tasks')
SUITE = {'episodes': list}
SUITE_CONFIG = ('episodes', 'seed', 'max_steps', 'max_steps_long', 'reward')
OPTIONAL = {'judges': dict, 'ood': list, 'ood_summary': dict, 'strips': list, 'timing': dict,
            'targets': dict, 'episodes': list}
ROWS = {'cells': ('policy', 'task'), 'ood': ('policy', 'edit'), 'episodes': ('policy', 'task'),
        'strips': ()}
HINT = 'run `wm-ros evaluate --out DIR` and pass that DIR'


class EvaluationFileError(ValueError):
    """A file that is not an ``evaluation.json`` written by ``wm-ros evaluate``."""


def check_evaluation(data, path: str | Path, suite: bool = False) -> dict:
    """
    Return ``data`` if it is an evaluation ``wm-ros evaluate`` wrote, else raise.

    ``suite``: also what rerunning its suite needs (the episodes, seed and step limits).
    :class:`EvaluationFileError` names the file and what is missing or malformed.
    """
    if not isinstance(data, dict):
        raise EvaluationFileError(f'{path} holds no JSON object, so no evaluation; {HINT}')
    required = {**REQUIRED, **(SUITE if suite else {})}
    wrong = [k for k, kind in required.items() if not isinstance(data.get(k), kind)]
    wrong += [k for k, kind in OPTIONAL.items()
              if data.get(k) is not None and not isinstance(data[k], kind) and k not in wrong]
    if 'config' not in wrong:
        config = data['config']
        wrong += [f'config.{k}' for k in CONFIG + (SUITE_CONFIG if suite else ())
                  if k not in config or (k in CONFIG and not isinstance(config[k], list))]
    for key, needs in ROWS.items():
        rows = data.get(key) if key not in wrong and isinstance(data.get(key), list) else []
        wrong += [f'{key}[{i}]' for i, row in enumerate(rows)
                  if not isinstance(row, dict) or any(n not in row for n in needs)][:1]
    if isinstance(data.get('judges'), dict):
        wrong += [f'judges.{k}' for k, v in data['judges'].items()
                  if v is not None and not isinstance(v, dict)]
    if wrong:
        raise EvaluationFileError(f'{path} is not an evaluation written by `wm-ros evaluate` '
                                  f'({", ".join(wrong)}: missing or malformed); {HINT}')
    return data


def evaluation_path(evaluation: str | Path) -> Path:
    """Return the ``evaluation.json`` that ``evaluation`` names: the file or its directory's."""
    path = Path(evaluation)
    return path if path.is_file() or path.suffix == '.json' else path / 'evaluation.json'


def load_evaluation(evaluation: str | Path, suite: bool = False) -> dict:
    """Return the evaluation in ``evaluation`` (its directory or its ``evaluation.json``)."""
    path = evaluation_path(evaluation)
    if not path.is_file():
        raise FileNotFoundError(f'no evaluation at {path}; run `wm-ros evaluate --out '
                                f'{evaluation}` first, or pass the directory it wrote')
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EvaluationFileError(f'{path} is not valid JSON ({exc}); run `wm-ros evaluate '
                                  '--out DIR` to write it again') from None
    return check_evaluation(data, path, suite)
