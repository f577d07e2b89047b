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
``VLMReward``: a Hugging Face vision-language model as a yes/no success judge (WorldGym).

The model (any ``AutoModelForImageTextToText`` with its ``AutoProcessor``, loaded with
``local_files_only=True``: nothing is downloaded) is asked, per frame::

    Does the image show that the robot has completed: '<instruction>'? Answer yes or no.

:meth:`VLMReward.score` answers one frame per row (1.0 yes, 0.0 no, NaN when the answer
is neither); :meth:`VLMReward.judge_rollouts` asks about ``frames`` frames of each rollout
(spread over its last ``tail`` share) and takes the majority of the answers it could
parse (1.0, 0.0, or 0.5 on a tie). An answer that is neither yes nor no is never counted
as a no: it is counted in :attr:`VLMReward.unparsed` and in the per-rollout report, and a
rollout with no parsable answer scores NaN, so a model that does not follow the question
shows up as missing data instead of as a pessimistic judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import re

import numpy as np

QUESTION = ("Does the image show that the robot has completed: '{instruction}'? "
            'Answer yes or no.')
_WORD = re.compile(r'\b(yes|no)\b')


def parse_yes_no(text: str) -> bool | None:
    """Return True for yes, False for no, None when the first sentence says neither or both."""
    if not isinstance(text, str):
        return None
    first = re.split(r'[.!?\n]', text.strip().lower(), maxsplit=1)[0]
    words = set(_WORD.findall(first))
    return (words == {'yes'}) if len(words) == 1 else None


@dataclass(frozen=True)
class VLMConfig:
    """How the VLM is asked: ``frames`` per rollout over its last ``tail``, greedy decoding."""

    frames: int = 3
    tail: float = 0.3
    max_new_tokens: int = 4
    batch: int = 8
    question: str = QUESTION
    device: str = 'cpu'

    def __post_init__(self):
        if self.frames < 1 or not 0.0 < self.tail <= 1.0 or self.max_new_tokens < 1:
            raise ValueError('frames and max_new_tokens must be >= 1, tail in (0, 1]')
        if '{instruction}' not in self.question:
            raise ValueError('question must contain {instruction}')


class VLMReward:
    """A local VLM asked yes/no per frame; see the module docstring."""

    def __init__(self, model_path: str | Path, config: VLMConfig | None = None):
        from transformers import AutoModelForImageTextToText, AutoProcessor
        self.config = config or VLMConfig()
        path = Path(model_path)
        if not path.is_dir():
            raise FileNotFoundError(f'VLM directory {path} does not exist (the adapter loads '
                                    'local files only; save_pretrained a model there first)')
        self.processor = AutoProcessor.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModelForImageTextToText.from_pretrained(
            str(path), local_files_only=True).to(self.config.device).eval()
        self.asked = 0
        self.unparsed = 0

    def _prompt(self, instruction: str) -> str:
        question = self.config.question.format(instruction=instruction)
        if getattr(self.processor, 'chat_template', None):
            messages = [{'role': 'user', 'content': [{'type': 'image'},
                                                     {'type': 'text', 'text': question}]}]
            return self.processor.apply_chat_template(messages, add_generation_prompt=True)
        token = getattr(self.processor, 'image_token', '<image>')
        return f'{token}\n{question}\n'

    def answers(self, images: np.ndarray, instructions: list[str]) -> list[str]:
        """Return the model's raw answer to the question for each frame uint8[B,H,W,3]."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f'images must be uint8[B, H, W, 3] RGB, got {images.dtype}'
                             f'{list(images.shape)}')
        instructions = list(instructions)
        if len(instructions) != len(images):
            raise ValueError(f'got {len(images)} images and {len(instructions)} instructions; '
                             'need one instruction per image')
        out: list[str] = []
        for lo in range(0, len(images), self.config.batch):
            out += self._generate(images[lo:lo + self.config.batch],
                                  instructions[lo:lo + self.config.batch])
        return out

    def _generate(self, images: np.ndarray, instructions: list[str]) -> list[str]:
        """Greedy-decode the answers of one batch (overridable, e.g. by a test double)."""
        import torch
        from PIL import Image
        prompts = [self._prompt(t) for t in instructions]
        inputs = self.processor(images=[Image.fromarray(im) for im in images], text=prompts,
                                return_tensors='pt', padding=True).to(self.config.device)
        with torch.inference_mode():
            tokens = self.model.generate(**inputs, max_new_tokens=self.config.max_new_tokens,
                                         do_sample=False)
        new = tokens[:, inputs['input_ids'].shape[1]:]
        return self.processor.batch_decode(new, skip_special_tokens=True)

    def _parse(self, answers: list[str]) -> list[bool | None]:
        parsed = [parse_yes_no(a) for a in answers]
        self.asked += len(parsed)
        self.unparsed += sum(p is None for p in parsed)
        return parsed

    def score(self, images: np.ndarray, instructions: list[str]) -> np.ndarray:
        """Return float32[B]: 1.0 yes, 0.0 no, NaN when the answer could not be parsed."""
        parsed = self._parse(self.answers(images, instructions))
        return np.array([np.nan if p is None else float(p) for p in parsed], np.float32)

    def frame_indices(self, length: int) -> np.ndarray:
        """Return which of ``length`` frames a rollout is judged on (spread over its tail)."""
        if length < 1:
            raise ValueError('a rollout needs at least one frame')
        start = int(np.floor((length - 1) * (1.0 - self.config.tail)))
        return np.unique(np.round(np.linspace(start, length - 1, self.config.frames)).astype(int))

    def judge_rollouts(self, rollouts, instructions: list[str]) -> tuple[np.ndarray, list[dict]]:
        """
        Return (float32[B] majority votes, per-rollout reports) for B rollouts uint8[T,H,W,3].

        A report holds the frame indices asked, the raw answers and the yes / no /
        unparsed counts; the vote is NaN where every answer was unparsable.
        """
        rollouts, instructions = list(rollouts), list(instructions)
        if len(rollouts) != len(instructions):
            raise ValueError(f'got {len(rollouts)} rollouts and {len(instructions)} '
                             'instructions; need one instruction per rollout')
        picks = [self.frame_indices(len(r)) for r in rollouts]
        images = np.concatenate([np.asarray(r)[p] for r, p in zip(rollouts, picks)]) \
            if rollouts else np.zeros((0, 1, 1, 3), np.uint8)
        texts = [t for t, p in zip(instructions, picks) for _ in p]
        answers = self.answers(images, texts) if len(images) else []
        parsed = self._parse(answers)
        votes, reports, at = [], [], 0
        for p in picks:
            mine, raw = parsed[at:at + len(p)], answers[at:at + len(p)]
            at += len(p)
            yes, no = sum(v is True for v in mine), sum(v is False for v in mine)
            votes.append(np.nan if yes + no == 0 else 1.0 if yes > no else 0.0 if no > yes
                         else 0.5)
            reports.append({'frames': p.tolist(), 'answers': raw, 'yes': yes, 'no': no,
                            'unparsed': len(mine) - yes - no})
        return np.array(votes, np.float32), reports

    def report(self) -> dict:
        """Return how many answers were asked for and how many could not be parsed."""
        return {'asked': self.asked, 'unparsed': self.unparsed,
                'unparsed_rate': self.unparsed / self.asked if self.asked else 0.0}
