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
Success and reward models: who says an episode succeeded.

* :class:`~wm_ros.reward.oracle.PhysicsOracle` - the tabletop's own check on block
  positions: the ground truth.
* :class:`~wm_ros.reward.state_judge.ImaginedStateJudge` - the same check on the objects a
  world model imagines (runtimes with the ObjectReadout capability).
* :class:`~wm_ros.reward.classifier.SuccessClassifier` - a small vision-language success
  classifier on pixels (a :class:`~wm_ros.interfaces.RewardModel`); the shipped one lies
  in ``wm_ros/models/reward`` (``make reward``), loaded by :func:`load_reward`.
* :class:`~wm_ros.reward.vlm.VLMReward` - a Hugging Face vision-language model asked a
  yes/no question about several frames (majority vote, as in WorldGym).

Submodules load lazily, so ``import wm_ros.reward`` does not import torch.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from wm_ros import artefacts

DEFAULT_REWARD = artefacts.REWARD

_EXPORTS = {
    'PhysicsOracle': 'wm_ros.reward.oracle',
    'sample_task': 'wm_ros.reward.oracle',
    'ImaginedStateJudge': 'wm_ros.reward.state_judge',
    'RewardConfig': 'wm_ros.reward.config',
    'RewardFileError': 'wm_ros.reward.config',
    'load_config': 'wm_ros.reward.config',
    'SuccessClassifier': 'wm_ros.reward.classifier',
    'train_reward': 'wm_ros.reward.train',
    'evaluate': 'wm_ros.reward.evaluate',
    'VLMReward': 'wm_ros.reward.vlm',
    'parse_yes_no': 'wm_ros.reward.vlm',
}

__all__ = sorted([*_EXPORTS, 'DEFAULT_REWARD', 'load_reward'])


def load_reward(path: str | Path | None = None, device: str = 'cpu'):
    """Return the :class:`SuccessClassifier` in ``path`` (default: the shipped one)."""
    from wm_ros.reward.classifier import SuccessClassifier
    return SuccessClassifier.load(DEFAULT_REWARD if path is None else path, device=device)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
