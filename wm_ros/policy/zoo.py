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
The policy zoo: named behaviour-cloning recipes of known, different real quality.

Evaluating policies in imagination needs policies whose real success rates are spread
out, and whose weaknesses are known. Each :class:`Recipe` of :data:`ZOO` trains a
:class:`~wm_ros.policy.learned.LearnedPolicy` with one lever turned: how many
demonstrations, which behaviours (clean expert vs noisy), whose action labels, how long
it trains, and what it reads of the instruction (``colour_only`` ignores shape words).

``wm-ros train policy --all`` trains every recipe into ``wm_ros/models/policies/<name>``
and measures its real success on the tabletop (:mod:`wm_ros.evaluate.zoo`, passed in as
``train_zoo``'s ``measure``), which is stored in its ``policy.json``; :func:`load_policy`
takes a zoo name or a directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
import time

import numpy as np

from wm_ros import artefacts
from wm_ros.policy import bc_data
from wm_ros.policy.bc_train import fit, mirror_instruction, MIRRORS, torch_threads
from wm_ros.policy.learned import LearnedPolicy, PolicyConfig
from wm_ros.sim.scene import SHAPES

ZOO_FAMILIES = ('block_to_region', 'block_to_block', 'separate', 'group_by_colour')

CLEAN = ('expert', 'perceived')
ALL_BUT_EXPLORE = ('expert', 'perceived', 'noisy')


@dataclass(frozen=True)
class Recipe:
    """How one zoo policy is trained; ``episodes`` 0 uses every qualifying episode."""

    name: str
    description: str
    episodes: int = 0                       # demonstrations (a fixed random subset)
    behaviours: tuple[str, ...] = CLEAN     # collection behaviours used
    successful_only: bool = True            # drop episodes that never succeeded
    relabel: bool = False                   # label each state with the scripted expert's action
    steps_factor: float = 1.0               # x config.steps gradient steps
    ignore_shapes: bool = False             # delete shape words from instructions
    families: tuple[str, ...] = ZOO_FAMILIES
    seed: int = 0

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return asdict(self)


ZOO: dict[str, Recipe] = {r.name: r for r in (
    Recipe('bc_full', 'clean and noisy episodes, every state labelled with the expert action '
           '(DART-style), 3x the training steps', behaviours=ALL_BUT_EXPLORE, relabel=True,
           steps_factor=3.0),
    Recipe('bc_expert', 'every successful expert + perceived episode, recorded actions'),
    Recipe('bc_200', '200 successful expert + perceived episodes', episodes=200),
    Recipe('bc_50', '50 successful expert + perceived episodes', episodes=50),
    Recipe('bc_noisy', 'noisy episodes only (successful or not), copying their noisy actions',
           behaviours=('noisy',), successful_only=False),
    Recipe('bc_short', 'as bc_expert, trained for 5 % of the steps', steps_factor=0.05),
    Recipe('colour_only', 'data and labels of bc_full (1x steps), but it reads instructions '
           'without shape words: it keys on colour, so the red cube and the red star are one '
           'block to it', behaviours=ALL_BUT_EXPLORE, relabel=True, ignore_shapes=True),
)}


def models_dir() -> Path:
    """Return the directory of the shipped zoo (``wm_ros/models/policies``)."""
    return artefacts.POLICIES


def get_recipe(name: str) -> Recipe:
    """Return recipe ``name`` or raise a ValueError listing the known ones."""
    if name not in ZOO:
        raise ValueError(f'unknown policy recipe {name!r}; the zoo has {sorted(ZOO)}')
    return ZOO[name]


def load_policy(name_or_path: str | Path, device: str = 'cpu') -> LearnedPolicy:
    """Load a zoo policy by name (``wm_ros/models/policies/<name>``) or a policy directory."""
    text = str(name_or_path)
    if text in ZOO:
        path = models_dir() / text
        if not path.is_dir():
            raise FileNotFoundError(f'zoo policy {text!r} is not trained yet ({path} is '
                                    'missing); run `make policies` or `wm-ros train policy '
                                    f'--recipe {text} --out {path}`')
        return LearnedPolicy.load(path, device)
    path = Path(text).expanduser()
    if not path.exists():
        raise ValueError(f'unknown policy {text!r}: neither a zoo name ({", ".join(sorted(ZOO))})'
                         ' nor an existing policy directory')
    return LearnedPolicy.load(path, device)


def policy_config(recipe: Recipe, base: PolicyConfig | None = None) -> PolicyConfig:
    """Return ``base`` (default config) with the recipe's instruction handling and length."""
    base = base or PolicyConfig()
    return replace(base, ignore_words=SHAPES if recipe.ignore_shapes else (),
                   steps=max(1, round(base.steps * recipe.steps_factor)))


def train_policy(recipe: Recipe | str, data, out: str | Path | None = None,
                 config: PolicyConfig | None = None, progress: bool = False) -> LearnedPolicy:
    """
    Train ``recipe`` on ``data`` (shard directories, or episodes already loaded).

    Returns the policy with ``meta['training']`` filled; writes it to ``out`` when given.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    cfg = policy_config(recipe, config)
    start = time.perf_counter()
    episodes = bc_data.load(data) if _is_paths(data) else list(data)
    chosen = bc_data.select(episodes, recipe.behaviours, recipe.families,
                            recipe.successful_only, recipe.episodes, recipe.seed)
    demos = bc_data.frames(chosen, recipe.relabel, cfg.board_half, cfg.max_speed)
    policy = LearnedPolicy(cfg, device=cfg.device)
    views = MIRRORS if cfg.mirror else MIRRORS[:1]
    with torch_threads(cfg.threads):
        lang = np.stack([policy.embed([mirror_instruction(t, *v) for t in demos.instructions])
                         for v in views])
    prepared = time.perf_counter() - start
    losses = fit(policy.net, demos, lang, cfg, progress)
    policy.net.eval()
    counts: dict[str, int] = {}
    for ep in chosen:
        counts[ep.behaviour] = counts.get(ep.behaviour, 0) + 1
    policy.meta.update(recipe=recipe.to_dict(), training={
        'episodes': len(chosen), 'behaviours': counts, 'frames': len(demos),
        'instructions': len(demos.instructions), 'steps': cfg.steps,
        'parameters': policy.num_parameters(), **losses,
        'data': [str(d) for d in data] if _is_paths(data) else 'episodes in memory',
        'prepare_s': round(prepared, 1), 'train_s': round(time.perf_counter() - start
                                                          - prepared, 1)})
    if out is not None:
        policy.save(out)
    return policy


def train_zoo(data, outs: dict[str, str | Path] | None = None,
              config: PolicyConfig | None = None,
              measure: Callable[[Path], dict] | None = None,
              progress: bool = True) -> dict[str, dict]:
    """
    Train recipes into directories: ``outs`` = ``{recipe name: directory}``.

    Default: the whole zoo into :func:`models_dir`. The data are read once for all
    recipes. With ``measure`` (``measure(directory) -> real success``, e.g.
    :func:`wm_ros.evaluate.zoo.measure` with its episodes and workers bound) each policy's
    real success is measured and stored in its ``policy.json``.
    Returns ``{name: {'training': ..., 'real_success': ...}}``.
    """
    outs = outs or {name: models_dir() / name for name in ZOO}
    recipes = [get_recipe(n) for n in outs]
    episodes = bc_data.load(data) if _is_paths(data) else list(data)
    sources = [str(d) for d in data] if _is_paths(data) else 'episodes in memory'
    results = {}
    for recipe in recipes:
        if progress:
            print(f'{recipe.name}: {recipe.description}', flush=True)
        policy = train_policy(recipe, episodes, None, config, progress)
        policy.meta['training']['data'] = sources
        path = policy.save(outs[recipe.name])
        if measure is not None:
            policy.save(path, real_success=measure(path))
        results[recipe.name] = {k: policy.meta.get(k) for k in ('training', 'real_success')}
        if progress:
            print(f'  {path}: {_summary(results[recipe.name])}', flush=True)
    return results


def _summary(result: dict) -> str:
    t, r = result['training'], result.get('real_success')
    text = (f"{t['episodes']} episodes, {t['frames']} frames, {t['steps']} steps in "
            f"{t['train_s']} s, val loss {t['val_loss']}")
    return text + (f", real success {r['mean_pct']} %" if r else '')


def _is_paths(data) -> bool:
    if isinstance(data, (str, Path)):
        return True
    data = list(data)
    return bool(data) and all(isinstance(d, (str, Path)) for d in data)
