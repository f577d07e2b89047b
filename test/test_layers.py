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
The package's shape: imports point down the layers, no module imports itself back, no giant.

The import graph is read from the sources with ``ast`` (every import, function-local ones
and ``TYPE_CHECKING`` ones included; relative imports resolved), so the check needs no
import of ``wm_ros`` and sees imports that a run might not reach.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'wm_ros'
# wm_ros/*.py (config, interfaces, language, image_encoding, artefacts) are the core layer
LAYERS = ('core', 'sim', 'model', 'runtime', 'reward', 'policy', 'episodes', 'plan', 'rl',
          'evaluate', 'ros', 'bench', 'cli')
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    """Return the dotted name of a source file of the package (a package for __init__)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def sources() -> dict[str, Path]:
    """Return every module of the package by dotted name."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob('*.py'))}


def layer(module: str) -> str:
    """Return the layer of a ``wm_ros`` module (core for ``wm_ros`` and ``wm_ros/*.py``)."""
    parts = module.split('.')
    if len(parts) == 1 or (PACKAGE / f'{parts[1]}.py').is_file():
        return 'core'
    return parts[1]


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """Return the ``wm_ros`` modules that ``module`` imports, anywhere in its source."""
    is_package = path.name == '__init__.py'
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:                       # relative: from the importing package
                anchor = module.split('.')
                anchor = anchor[:len(anchor) - node.level + is_package]
                base = '.'.join(anchor + ([base] if base else []))
            # ``from pkg import name`` imports the module pkg.name when there is one
            targets = [f'{base}.{a.name}' if f'{base}.{a.name}' in known else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:      # ``import a.b.Class`` -> a.b
                target = target.rpartition('.')[0]
            if target and target != module:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    """Return ``{module: the wm_ros modules it imports}`` for the whole package."""
    modules = sources()
    return {m: imported(m, p, set(modules)) for m, p in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(start):
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_every_subpackage_has_a_layer():
    unknown = sorted({layer(m) for m in sources()} - set(LAYERS))
    assert not unknown, (f'wm_ros subpackages {unknown} have no place in the layer order '
                         f'{LAYERS}: add them to LAYERS in {__file__}')


def test_imports_point_down_the_layers():
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = [f'{src} ({layer(src)}) -> {dst} ({layer(dst)})'
              for src, targets in sorted(import_graph().items()) for dst in sorted(targets)
              if rank.get(layer(dst), -1) > rank.get(layer(src), len(LAYERS))]
    assert not upward, ('imports against the layer order ' + ' < '.join(LAYERS)
                        + ' (move the shared code down or the importer up):\n  '
                        + '\n  '.join(upward))


def test_no_module_imports_itself_back():
    graph = import_graph()
    loops = []
    for component in cycles(graph):
        edges = [f'{a} -> {b}' for a in component for b in sorted(graph[a]) if b in component]
        loops.append(f'{len(component)} modules: ' + ', '.join(edges))
    assert not loops, ('circular imports (function-local ones count; move what both need '
                       'into a module below them):\n  ' + '\n  '.join(loops))


def test_cycle_finder_sees_a_loop_through_three_modules():
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a', 'd'}, 'd': set(), 'e': {'e'}}
    assert cycles(graph) == [['a', 'b', 'c']]


def test_no_module_or_function_is_too_long():
    offenders = []
    for path in sources().values():
        text = path.read_text()
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            offenders.append(f'{path.relative_to(PACKAGE.parent)}: {lines} lines')
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    offenders.append(f'{path.relative_to(PACKAGE.parent)}:{node.lineno} '
                                     f'{node.name}(): {length} lines')
    assert not offenders, (f'over {MAX_MODULE_LINES} lines a module or {MAX_FUNCTION_LINES} '
                           'a function (split by responsibility):\n  '
                           + '\n  '.join(offenders))
