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

"""Typed, frozen configuration dataclasses loaded from ``config/*.yaml`` with overrides."""

from __future__ import annotations

import dataclasses
from pathlib import Path
import typing

import yaml


class ConfigError(ValueError):
    """A configuration file or override that does not match its dataclass."""


def config_dir() -> Path:
    """Return the package's ``config/`` directory (source tree or installed share)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / 'config', here / 'config'):
        if candidate.is_dir():
            return candidate
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory('wm_ros')) / 'config'
    except Exception:  # noqa: BLE001 - ament index absent or package not installed
        raise ConfigError('cannot find the wm_ros config/ directory; pass a file path') from None


def from_dict(cls, data: dict | None, *, source: str = 'config'):
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys with their names."""
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f'unknown key(s) {unknown} in {source}; known keys: {sorted(fields)}')
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            data[key] = from_dict(hint, value, source=f'{source}: {key}')
        elif hint is float and isinstance(value, int) and not isinstance(value, bool):
            data[key] = float(value)
        elif hint in (int, float, bool, str) and not isinstance(data[key], hint):
            raise ConfigError(f'{source}: {key} must be {hint.__name__}, got {value!r}')
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            data[key] = _tuples(value)
    return cls(**data)


def _tuples(value):
    """Return nested lists as nested tuples (YAML and JSON give lists)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def load(cls, path: str | Path | None = None, section: str | None = None,
         inherit: tuple[str, ...] = (), **overrides):
    """
    Load ``cls`` from a YAML file (``section`` picks a top-level key) plus overrides.

    ``inherit`` names top-level keys shared by every section (not sections themselves): a
    section gets each of them unless it sets its own.
    """
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f'config file {path} does not exist')
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f'config file {path} is not valid YAML ({exc}); fix it or '
                              'pass another file') from None
        if section is not None:
            sections = sorted(k for k in data if k not in inherit)
            if section not in sections:
                raise ConfigError(f'{path} has no section {section!r}; it has {sections}')
            shared = {k: data[k] for k in inherit if k in data}
            data = {**shared, **(data[section] or {})}
    data.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(cls, data, source=str(path or cls.__name__))
