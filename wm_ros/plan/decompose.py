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
From an instruction and what the camera shows to an ordered list of single-step sub-goals.

1. **Clauses**: ``"... then ..."`` / ``"..., and then ..."`` / ``";"`` split a two-step
   instruction; each clause is one task.
2. **Blocks and regions** are found by name in the clause (``"red cube"``, ``"top left
   corner"``; ``color``/``colour`` and ``centre``/``center`` both spelled). A block that is
   not on the table is refused with what the camera sees (``PlanRefused``), never guessed.
3. **Skill**: the clause with its names replaced by ``{a}``, ``{b}``, ``{region}`` is
   matched to the tabletop's phrasings (:data:`wm_ros.sim.tasks.PHRASINGS`), exactly or,
   for a free phrasing, by cosine similarity of all-MiniLM-L6-v2 embeddings (offline,
   :mod:`wm_ros.language`); below ``min_similarity`` it is refused with the known skills.
4. **Sub-goals**: each task becomes "push block B to point P / next to block A" steps (the
   same geometry as the scripted expert, :class:`~wm_ros.policy.expert.ExpertController`),
   each with its own text ("push the red moon next to the red cube") and a done check on
   block positions. Long tasks (group by colour, make a line) give several steps.

:class:`LanguageModelDecomposer` asks a ``transformers`` causal language model for the
clauses instead (hosts that have one); the built-in decomposer is the default.
"""

from __future__ import annotations

from dataclasses import dataclass
import re

import numpy as np

from wm_ros.policy.expert import ExpertController, SLOT_GAP, Subgoal
from wm_ros.sim.scene import Block, COLOURS, Scene, SHAPES
from wm_ros.sim.tasks import FAMILIES, LONG_HORIZON, PHRASINGS, REGION_RADIUS_FRAC, REGIONS, \
    Task

MIN_SIMILARITY = 0.6       # cosine of the closest known phrasing for a free phrasing
# More ways to say each skill, matched beside the tabletop's own phrasings
EXTRA_PHRASINGS: dict[str, tuple[str, ...]] = {
    'block_to_region': ('push the {a} into the {region}', 'get the {a} to the {region}'),
    'block_to_block': ('push the {a} toward the {b}', 'push the {a} against the {b}',
                       'put the {a} beside the {b}', 'move the {a} over to the {b}'),
    'separate': ('keep the {a} away from the {b}', 'push the {a} and the {b} apart'),
    'group_by_colour': ('group the blocks of each colour', 'cluster the blocks by colour'),
    'make_line': ('line up all the blocks', 'put the blocks in a straight row'),
}
# Embeddings place antonyms close ("toward" / "away from"): "separate" needs one of these
SEPARATE_CUES = ('away', 'apart', 'separate', 'far', 'distance', 'split')
_SPLIT = re.compile(r'\s*(?:;|,?\s*and then\s+|,?\s*then\s+|,\s*after that\s*,?\s*)\s*')
_KIND = re.compile(r'\b(' + '|'.join(COLOURS) + r')\s+(' + '|'.join(SHAPES) + r')s?\b')
_SPELLING = (('color', 'colour'), ('centre', 'center'), ('upper', 'top'), ('lower', 'bottom'))


class PlanRefused(ValueError):
    """An instruction the planner cannot do; the message says why and what it can do."""


@dataclass(frozen=True)
class Step:
    """
    One sub-goal: push ``block`` to ``target`` (m) or, with ``anchor``, next to that block.

    ``tol`` (m): done when the block is this close to its goal; ``task`` is the clause the
    step belongs to (its success check also ends the step, e.g. "next to" reached early).
    """

    text: str
    block: str
    target: tuple[float, float] = (0.0, 0.0)
    anchor: str = ''
    tol: float = 0.02
    task: Task | None = None

    def goal(self, xy: dict[str, np.ndarray]) -> np.ndarray:
        """Return where ``block`` should go given block positions by name."""
        if not self.anchor:
            return np.asarray(self.target, np.float64)
        away = np.asarray(xy[self.block], np.float64) - np.asarray(xy[self.anchor], np.float64)
        away = away / max(float(np.linalg.norm(away)), 1e-6)
        return np.asarray(xy[self.anchor], np.float64) + SLOT_GAP * away

    def done(self, xy: dict[str, np.ndarray]) -> bool:
        """Return whether the block is within ``tol`` of its goal (positions by name)."""
        if self.block not in xy or (self.anchor and self.anchor not in xy):
            return False
        return bool(np.linalg.norm(np.asarray(xy[self.block]) - self.goal(xy)) <= self.tol)


def normalise(text: str) -> str:
    """Lower-case, British spelling of the tabletop's words, single spaces, no end stop."""
    t = ' '.join(str(text).lower().replace('-', ' ').split()).strip(' .!')
    for us, uk in _SPELLING:
        t = re.sub(rf'\b{us}\b', uk, t)
    return t


def clauses(instruction: str) -> list[str]:
    """Return the clauses of an instruction (split at ``then``, ``and then``, ``;``)."""
    parts = [p.strip(' ,') for p in _SPLIT.split(normalise(instruction))]
    return [p for p in parts if p]


def _templates() -> list[tuple[str, str]]:
    return [(family, t) for family in FAMILIES
            for t in PHRASINGS[family] + EXTRA_PHRASINGS[family]]


def _skill(pattern: str, min_similarity: float) -> tuple[str, float]:
    """Return the family whose phrasing matches ``pattern`` and the similarity (1: exact)."""
    for family, template in _templates():
        if pattern == template:
            return family, 1.0
    from wm_ros.language import embed
    known = _templates()
    sims = embed([t for _, t in known]) @ embed(pattern)[0]
    if not any(re.search(rf'\b{cue}', pattern) for cue in SEPARATE_CUES):
        sims = np.where([f == 'separate' for f, _ in known], -1.0, sims)
    best = int(np.argmax(sims))
    if sims[best] < min_similarity:
        raise PlanRefused(
            f'cannot match "{pattern}" to a skill I know (closest: "{known[best][1]}", '
            f'similarity {sims[best]:.2f} < {min_similarity}); I can: ' + '; '.join(
                PHRASINGS[f][0].replace('{a}', '<block>').replace('{b}', '<other block>')
                .replace('{region}', '<region>') for f in FAMILIES))
    return known[best][0], float(sims[best])


def parse_clause(clause: str, scene_names: list[str], min_similarity: float = MIN_SIMILARITY
                 ) -> Task:
    """Return the :class:`Task` one clause asks for, or raise :class:`PlanRefused`."""
    text = normalise(clause)
    named = [f'{c} {s}' for c, s in _KIND.findall(text)]
    absent = [n for n in named if n not in scene_names]
    if absent:
        raise PlanRefused(f'there is no {" or ".join(absent)} on the table (I see: '
                          f'{", ".join(scene_names) or "no blocks"}); name a block I see')
    pattern, slots = text, ('{a}', '{b}')
    for name, slot in zip(dict.fromkeys(named), slots):
        pattern = re.sub(rf'\b{name}s?\b', slot, pattern)
    region = next((r for r in sorted(REGIONS, key=len, reverse=True)
                   if re.search(rf'\b{r}\b', pattern)), '')
    if region:
        pattern = re.sub(rf'\b{region}\b', '{region}', pattern)
    family, _ = _skill(pattern, min_similarity)
    blocks = tuple(dict.fromkeys(named))
    need = {'block_to_region': 1, 'block_to_block': 2, 'separate': 2}.get(family, 0)
    if len(blocks) != need:
        raise PlanRefused(f'"{clause}" reads as {family.replace("_", " ")}, which needs '
                          f'{need} block name(s), got {len(blocks)}: {list(blocks)}')
    if family == 'block_to_region' and not region:
        raise PlanRefused(f'"{clause}": where to? name a region: {", ".join(REGIONS)}')
    if family == 'group_by_colour' and len({n.split()[0] for n in scene_names}) < 2:
        raise PlanRefused('grouping by colour needs blocks of at least two colours; I see '
                          f'{", ".join(scene_names)}')
    if family in LONG_HORIZON and len(scene_names) < 3:
        raise PlanRefused(f'{family.replace("_", " ")} needs at least 3 blocks; I see '
                          f'{len(scene_names)}')
    return Task(family, clause, blocks, region if family == 'block_to_region' else '')


def _nearest_region(p: np.ndarray, board_half: float) -> str:
    return min(REGIONS, key=lambda r: np.linalg.norm(np.asarray(REGIONS[r]) * board_half - p))


def steps_for(task: Task, scene: Scene, xy: np.ndarray, board_half: float = 0.25
              ) -> list[Step]:
    """Return the sub-goals of one task from block centres ``xy [N, 2]`` (scene order)."""
    goals: list[Subgoal] = ExpertController(scene, task, board_half).subgoals(xy)
    names, out = scene.names, []
    for k, g in enumerate(goals):
        block, anchor = names[g.block], names[g.anchor] if g.anchor >= 0 else ''
        if task.family == 'block_to_region':
            text = f'push the {block} to the {task.region}'
            tol = REGION_RADIUS_FRAC * board_half * 0.6
        elif task.family == 'block_to_block':
            text, tol = f'push the {block} next to the {anchor}', g.tol
        elif task.family == 'separate':
            other = task.blocks[1] if block == task.blocks[0] else task.blocks[0]
            text, tol = f'push the {block} away from the {other}', g.tol
        elif anchor:
            text, tol = f'push the {block} next to the {anchor}', max(g.tol, 0.02)
        elif task.family == 'group_by_colour':
            colour = block.split()[0]
            where = _nearest_region(np.asarray(g.target), board_half)
            text = f'push the {block} toward the {where} to gather the {colour} blocks'
            tol = g.tol
        else:
            text = f'push the {block} to place {k + 1} of {len(goals)} in the line'
            tol = max(g.tol, 0.012)
        out.append(Step(text, block, tuple(float(v) for v in g.target), anchor, tol, task))
    return out


def scene_of(names: list[str], xy: np.ndarray, ee: np.ndarray | None = None) -> Scene:
    """Return a :class:`Scene` of the recognised blocks (names unique, positions in m)."""
    pusher = tuple(float(v) for v in (ee if ee is not None else (0.0, 0.0)))
    return Scene(tuple(Block(*n.split(' '), float(p[0]), float(p[1]))
                       for n, p in zip(names, xy)), pusher)


class Decomposer:
    """The built-in decomposer: ``tasks(instruction, scene names) -> [Task]``."""

    def __init__(self, min_similarity: float = MIN_SIMILARITY):
        self.min_similarity = min_similarity

    def tasks(self, instruction: str, scene_names: list[str]) -> list[Task]:
        """Return one task per clause of ``instruction`` or raise :class:`PlanRefused`."""
        parts = clauses(instruction)
        if not parts:
            raise PlanRefused('empty instruction; say what to do, e.g. "'
                              f'{PHRASINGS["block_to_region"][0]}"')
        return [parse_clause(p, scene_names, self.min_similarity) for p in parts]


class LanguageModelDecomposer(Decomposer):
    """
    Ask a ``transformers`` causal LM to split the instruction into simple commands.

    The model gets a few-shot prompt and answers one command per line; every line is then
    parsed like a clause (so an answer the tabletop cannot do is refused, not executed).
    An answer with no usable line falls back to the built-in split and is counted in
    ``unparsed``.
    """

    PROMPT = ('Split the robot instruction into simple commands, one per line.\n'
              'Instruction: push the red cube to the center then put the blue moon next '
              'to the green star\nCommands:\npush the red cube to the center\nput the blue '
              'moon next to the green star\nInstruction: {instruction}\nCommands:\n')

    def __init__(self, model_path: str, min_similarity: float = MIN_SIMILARITY,
                 max_new_tokens: int = 48):
        super().__init__(min_similarity)
        from transformers import AutoModelForCausalLM, AutoTokenizer
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(model_path,
                                                          local_files_only=True).eval()
        self.max_new_tokens = max_new_tokens
        self.unparsed = 0

    def answer(self, instruction: str) -> str:
        """Return the model's raw answer to the prompt."""
        import torch
        prompt = self.PROMPT.format(instruction=normalise(instruction))
        batch = self.tokenizer(prompt, return_tensors='pt')
        batch.pop('token_type_ids', None)            # BERT-style tokenizers add them
        with torch.inference_mode():
            out = self.model.generate(**batch, max_new_tokens=self.max_new_tokens,
                                      do_sample=False,
                                      pad_token_id=self.tokenizer.pad_token_id
                                      if self.tokenizer.eos_token_id is None
                                      else self.tokenizer.eos_token_id)
        return self.tokenizer.decode(out[0, batch['input_ids'].shape[1]:],
                                     skip_special_tokens=True)

    def tasks(self, instruction: str, scene_names: list[str]) -> list[Task]:
        """Parse each line of the model's answer; fall back to the built-in split."""
        lines = [normalise(x) for x in self.answer(instruction).splitlines()]
        tasks = []
        for line in lines:
            if not line or line.startswith('instruction'):
                break
            try:
                tasks.append(parse_clause(line, scene_names, self.min_similarity))
            except PlanRefused:
                break
        if not tasks:
            self.unparsed += 1
            return super().tasks(instruction, scene_names)
        return tasks
