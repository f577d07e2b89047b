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
The artefacts shipped inside the package, named once (``wm_ros/models/``).

Each is reproduced by a ``make`` target (docs/architecture.md, "Data and artefacts"):
``make model``, ``make study``, ``make reward``, ``make policies``; the label-free model
by ``wm-ros train world-model --family free_slots``. :func:`read_metadata` is the check
every artefact's JSON metadata gets (format and version) before its weights are read.
"""

from __future__ import annotations

import json
from pathlib import Path

MODELS = Path(__file__).resolve().parent / 'models'
WORLD_MODEL = MODELS / 'world_model'            # supervised object slots, 64x64 (default)
WORLD_MODEL_128 = MODELS / 'world_model_128'    # the same family at 128x128 (resolution study)
FREE_SLOTS = MODELS / 'free_slots'              # label-free object slots
REWARD = MODELS / 'reward'                      # vision-language success classifier
POLICIES = MODELS / 'policies'                  # the behaviour-cloned zoo, one directory each


def read_metadata(path: Path, fmt: str, version: int, error: type[Exception], what: str,
                  redo: str = '') -> dict:
    """
    Return the JSON metadata file ``path`` of a ``fmt`` artefact at format ``version``.

    Raises ``error`` naming the file when it is not valid JSON, of another format (``what``
    names the artefact expected) or of another version; ``redo`` is appended to each
    message (how to make a good one).
    """
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f'{path} is corrupt, not valid JSON ({exc}){redo}') from None
    if not isinstance(meta, dict) or meta.get('format') != fmt:
        found = meta.get('format') if isinstance(meta, dict) else None
        raise error(f'{path} is not {what} (format {found!r}){redo}')
    if meta.get('format_version') != version:
        raise error(f'{path} has format_version {meta.get("format_version")}, this wm_ros '
                    f'reads {version}{redo}')
    return meta
