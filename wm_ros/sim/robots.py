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
The reference robots by name: ``tabletop`` (MuJoCo, language tasks) and ``pusht``.

Callers that let a user choose (``wm-ros collect --robot``, ``sim_robot``'s ``robot``
parameter) refuse an unknown name with :func:`check_robot` (cheap: nothing is imported)
and build the configuration and environment with :func:`make_config` and
:func:`make_env`. Both environments share one surface: ``reset(seed, options)``,
``step(v m/s)``, ``ee_xy()``, ``ee_velocity()``, ``block_states()``, ``success()``,
``render()``, ``close()``, ``task``, ``scene`` and ``config`` (``image_size``,
``control_hz``, ``max_speed``, ``board_half``).
"""

from __future__ import annotations

from pathlib import Path

from wm_ros import config as config_files

# name -> (what it is, its config file in config/)
ROBOTS: dict[str, tuple[str, str]] = {
    'tabletop': ('the MuJoCo tabletop: blocks and language tasks (wm_ros.sim.tabletop)',
                 'tabletop.yaml'),
    'pusht': ('gym-pusht: push the T onto its goal, success at 95 % coverage '
              '(wm_ros.sim.pusht)', 'pusht.yaml'),
}


class UnknownRobot(ValueError):
    """A robot name that is not one of :data:`ROBOTS`."""


def check_robot(name: str) -> str:
    """Return ``name`` or raise :class:`UnknownRobot` listing the known robots."""
    if name not in ROBOTS:
        raise UnknownRobot(f'unknown robot {name!r}; choose one of {", ".join(ROBOTS)}')
    return name


def config_class(robot: str):
    """Return the configuration dataclass of ``robot``."""
    if check_robot(robot) == 'pusht':
        from wm_ros.sim.pusht import PushTConfig
        return PushTConfig
    from wm_ros.sim.tabletop import TabletopConfig
    return TabletopConfig


def make_config(robot: str, path: str | Path | None = None, **overrides):
    """Return ``robot``'s config from ``path`` (YAML; None: defaults) plus ``overrides``."""
    return config_files.load(config_class(robot), path, **overrides)


def make_env(robot: str, image_size: int | None = None, control_hz: float | None = None,
             max_speed: float | None = None, config=None, **overrides):
    """
    Return ``robot``'s environment.

    ``config`` (its config dataclass) or the defaults, with ``image_size``, ``control_hz``,
    ``max_speed`` and any other field of that config (``overrides``) replaced where given.
    """
    import dataclasses
    cls = config_class(robot)
    if config is not None and not isinstance(config, cls):
        raise TypeError(f'robot {robot!r} takes a {cls.__name__}, got {type(config).__name__}')
    changes = {k: v for k, v in dict(overrides, image_size=image_size, control_hz=control_hz,
                                     max_speed=max_speed).items() if v is not None}
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise config_files.ConfigError(f'robot {robot!r} has no setting(s) {unknown}; its '
                                       f'{cls.__name__} has {fields}')
    config = dataclasses.replace(config or cls(), **changes)
    if robot == 'pusht':
        from wm_ros.sim.pusht import PushTEnv
        return PushTEnv(config)
    from wm_ros.sim.tabletop import TabletopEnv
    return TabletopEnv(config)
