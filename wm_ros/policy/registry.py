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
Find a policy by name: the zoo, the perceiving experts, the scripted expert, directories.

Kinds register ``name -> 'module:function'`` here (imported lazily, as the runtimes'
registry does), so :func:`check` answers from names alone, without torch, and an unknown
name is refused at once with the list of known ones. :func:`make` builds a batched
:class:`~wm_ros.policy.base.Policy` for the episode driver; what a kind needs (a world
model to perceive through, the board and speed limit) comes in a :class:`PolicyContext`.

* zoo names: every directory of the shipped zoo (``wm_ros/models/policies/<name>``, a
  :class:`~wm_ros.policy.learned.LearnedPolicy`; one ``act_batch`` call per step);
* any other policy directory (a path holding ``policy.json``), the same way;
* ``expert``, ``noisy``, ``slow``, ``laggy``: the perception expert and its degraded
  variants (:mod:`wm_ros.policy.degraded`), one instance per episode seeded with its
  ``policy_seed``; they read blocks through the world model's object read-out;
* ``expert_sideways``: the perception expert whose every command carries a constant
  sideways velocity (:mod:`wm_ros.policy.biased`: 0.75 x max speed, to the command's left),
  so it pushes blocks off-centre, into neighbours and corners (issue 27);
* ``state_expert``: the scripted expert on the simulator's physics state (the ceiling a
  pixel policy imitating it could reach); on the tabletop only;
* ``pusht_expert``, ``pusht_noisy``, ``pusht_explore``: the scripted PushT behaviours
  (:mod:`wm_ros.policy.pusht_expert`) on PushT's true state; on PushT only.

A kind made for one robot says so (``robot``; :func:`robot_of`), so callers can refuse it
on the other robot before any episode runs.

Adding a kind is one :func:`register` line and a builder ``f(name, context) -> Policy``.
"""

from __future__ import annotations

from dataclasses import dataclass
import importlib
from pathlib import Path

from wm_ros import artefacts

PERCEIVING = ('expert', 'noisy', 'slow', 'laggy', 'expert_sideways')


class UnknownPolicy(ValueError):
    """A policy name that is neither registered, nor in the zoo, nor a directory."""


@dataclass(frozen=True)
class Kind:
    """A registered kind: its builder, what it is, and whether it perceives via a model."""

    name: str
    target: str             # 'package.module:function' (name, PolicyContext) -> Policy
    description: str
    perceives: bool = False  # reads blocks with a world model's ObjectReadout
    robot: str = ''          # the one robot it runs on ('': any)


@dataclass(frozen=True)
class PolicyContext:
    """What building a policy may need: the world model to perceive with, board and limits."""

    runtime: object = None          # a WorldModelRuntime (perceiving kinds only)
    board_half: float = 0.25        # m
    max_speed: float = 0.2          # m/s
    control_hz: float = 10.0

    @classmethod
    def of(cls, runtime, board_half: float = 0.25) -> 'PolicyContext':
        """Return the context of ``runtime``'s robot (its speed limit and control rate)."""
        return cls(runtime, board_half, runtime.max_speed, runtime.control_hz)


_KINDS: dict[str, Kind] = {}


def register(name: str, target: str, description: str, perceives: bool = False,
             robot: str = '') -> None:
    """Register kind ``name`` built by ``target`` (``'package.module:function'``)."""
    _KINDS[name] = Kind(name, target, description, perceives, robot)


register('expert', 'wm_ros.policy.registry:perceiving', 'perception expert: the scripted '
         'controller on blocks the world model reads off each frame', perceives=True,
         robot='tabletop')
register('noisy', 'wm_ros.policy.registry:perceiving', 'perception expert + Gaussian action '
         'noise and random bursts', perceives=True, robot='tabletop')
register('slow', 'wm_ros.policy.registry:perceiving', 'perception expert at half speed',
         perceives=True, robot='tabletop')
register('laggy', 'wm_ros.policy.registry:perceiving', 'perception expert acting on the frame '
         'of 3 steps ago', perceives=True, robot='tabletop')
register('expert_sideways', 'wm_ros.policy.registry:perceiving', 'perception expert whose '
         'commands carry a constant sideways velocity (0.75 x max speed, left of the command)',
         perceives=True, robot='tabletop')
register('state_expert', 'wm_ros.policy.registry:state_expert', 'the scripted expert on the '
         "simulator's physics state (tabletop only)", robot='tabletop')
register('pusht_expert', 'wm_ros.policy.registry:pusht_scripted', 'the scripted PushT expert '
         "on the T's true pose (PushT only)", robot='pusht')
register('pusht_noisy', 'wm_ros.policy.registry:pusht_scripted', 'the PushT expert + Gaussian '
         'action noise and random bursts (PushT only)', robot='pusht')
register('pusht_explore', 'wm_ros.policy.registry:pusht_scripted', 'random motion drawn '
         'toward the T half the time, for contact-rich data (PushT only)', robot='pusht')


def registered() -> dict[str, Kind]:
    """Return a copy of the registered kinds (zoo names and directories come on top)."""
    return dict(_KINDS)


def zoo_names() -> list[str]:
    """Return the names of the shipped zoo (directories with a ``policy.json``)."""
    return sorted(p.parent.name for p in Path(artefacts.POLICIES).glob('*/policy.json'))


def known() -> list[str]:
    """Return every name :func:`make` accepts (besides policy directories)."""
    return sorted([*_KINDS, *zoo_names()])


def check(name: str) -> str:
    """
    Return the kind of ``name`` (a registered kind, ``'zoo'`` or ``'directory'``).

    Cheap (names and paths only, no model is loaded); raise :class:`UnknownPolicy` listing
    the known names for anything else.
    """
    if name in _KINDS:
        return name
    if name in zoo_names():
        return 'zoo'
    if name and Path(name).expanduser().is_dir():
        return 'directory'
    raise UnknownPolicy(f'unknown policy {name!r}: choose one of {", ".join(known())}, or '
                        'give a policy directory (one with policy.json)')


def perceives(name: str) -> bool:
    """Return whether policy ``name`` reads blocks through a world model."""
    kind = check(name)
    return kind in _KINDS and _KINDS[kind].perceives


def robot_of(name: str) -> str:
    """Return the one robot policy ``name`` is made for ('' when it may run on any)."""
    kind = check(name)
    return _KINDS[kind].robot if kind in _KINDS else ''


def make(name: str, context: PolicyContext | None = None):
    """Return policy ``name`` as a batched :class:`~wm_ros.policy.base.Policy`."""
    context = context or PolicyContext()
    kind = check(name)
    if kind in ('zoo', 'directory'):
        from wm_ros.policy.base import Batched
        return Batched(_load_learned(name, kind))
    module, function = _KINDS[kind].target.split(':')
    return getattr(importlib.import_module(module), function)(name, context)


def _load_learned(name: str, kind: str):
    from wm_ros.policy.zoo import load_policy
    return load_policy(Path(artefacts.POLICIES) / name if kind == 'zoo' else name)


def _need_readout(name: str, runtime) -> None:
    from wm_ros.runtime.base import ObjectReadout
    if runtime is None or not isinstance(runtime, ObjectReadout):
        raise ValueError(f"policy {name!r} reads blocks through a world model's object "
                         f'read-out; {type(runtime).__name__ if runtime else "no model"} has '
                         'none (no ObjectReadout): give a model of the object-slot family')


def perceiving(name: str, context: PolicyContext):
    """Build ``name`` of :data:`PERCEIVING`: one seeded instance per episode."""
    from wm_ros.policy.base import PerRow
    _need_readout(name, context.runtime)

    def start(episode):
        policy = single(name, context, episode.policy_seed)
        policy.set_task(episode.scene, episode.task)
        policy.reset()
        return policy
    return PerRow(start)


def single(name: str, context: PolicyContext, seed: int = 0):
    """Return one single-row perceiving policy (call ``set_task`` before it acts)."""
    from wm_ros.policy.degraded import make_policy
    _need_readout(name, context.runtime)
    if name == 'expert_sideways':
        from wm_ros.policy.biased import Sideways
        return Sideways(make_policy('expert', context.runtime, seed, context.board_half),
                        seed, context.runtime.max_speed)
    return make_policy(name, context.runtime, seed, context.board_half)


def state_expert(name: str, context: PolicyContext):
    """Build the scripted expert that reads the simulator's block positions."""
    from wm_ros.policy.expert import BatchStateExpert
    return BatchStateExpert(context.board_half, context.max_speed, context.control_hz)


def pusht_scripted(name: str, context: PolicyContext):
    """Build a scripted PushT behaviour (``pusht_expert``, ``pusht_noisy``, ``pusht_explore``)."""
    from wm_ros.policy.pusht_expert import PushTScripted
    return PushTScripted(name.removeprefix('pusht_'), context.board_half, context.max_speed,
                         context.control_hz)
