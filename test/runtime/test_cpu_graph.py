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

"""The shipped policies and reward model served by ONNX Runtime decide as torch does."""

import numpy as np
import pytest
import torch

from wm_ros.policy.learned import LearnedPolicy
from wm_ros.policy.zoo import load_policy, models_dir
from wm_ros.reward import DEFAULT_REWARD
from wm_ros.reward.classifier import SuccessClassifier
from wm_ros.runtime.cpu_graph import CpuGraph
from wm_ros.sim.tabletop import TabletopConfig, TabletopEnv


@pytest.fixture(scope='module')
def frames():
    """First and later frames of 12 tabletop episodes, with their pusher and instruction."""
    env = TabletopEnv(TabletopConfig(image_size=64))
    images, ee, texts = [], [], []
    try:
        for seed in range(12):
            obs, _ = env.reset(seed=seed)
            for _ in range(seed % 3 * 5):                 # some pushed part of the way
                obs, *_ = env.step(np.array([0.1, 0.1], np.float32))
            images.append(obs['image'])
            ee.append(obs['ee_xy'])
            texts.append(env.task.instruction)
    finally:
        env.close()
    return np.stack(images), np.stack(ee).astype(np.float32), texts


@pytest.mark.skipif(not (models_dir() / 'bc_full').is_dir(), reason='zoo not trained')
@pytest.mark.parametrize('name', ['bc_full', 'colour_only'])
def test_a_served_policy_acts_as_its_torch_network(frames, name):
    images, ee, texts = frames
    served = load_policy(name)
    plain = LearnedPolicy.load(served.path, engine='torch')
    assert (served.engine, plain.engine) == ('onnxruntime', 'torch')
    a, b = served.act_batch(images, ee, texts), plain.act_batch(images, ee, texts)
    assert np.abs(a).max() > 0.01                       # real actions, not zeros
    np.testing.assert_allclose(a, b, atol=1e-5)         # m/s: the same decisions
    # one at a time as the policy node asks, and no rows at all
    np.testing.assert_allclose(served.act_batch(images[:1], ee[:1], texts[:1]), b[:1],
                               atol=1e-5)
    assert served.act_batch(images[:0], ee[:0], []).shape == (0, 2)
    with pytest.raises(ValueError, match="'onnxruntime' or 'torch'"):
        LearnedPolicy.load(served.path, engine='tensorflow')


def test_the_served_reward_model_scores_as_its_torch_network(frames):
    images, _, texts = frames
    served = SuccessClassifier.load(DEFAULT_REWARD)
    plain = SuccessClassifier.load(DEFAULT_REWARD, engine='torch')
    assert (served.engine, plain.engine) == ('onnxruntime', 'torch')
    p, q = served.score(images, texts), plain.score(images, texts)
    np.testing.assert_allclose(p, q, atol=1e-5)
    assert np.array_equal(served.predict(images, texts), plain.predict(images, texts))
    served.batch = 5                                    # chunked batches join up in order
    np.testing.assert_allclose(served.score(images, texts), q, atol=1e-5)
    assert served.score(images[:0], []).shape == (0,)


class _FrozenBatch(torch.nn.Module):
    """Builds a tensor from ``len(x)``: the tracer freezes that to the example's batch."""

    def forward(self, x):
        return torch.cat([x, torch.ones(len(x), 1)], 1)


def test_a_network_that_does_not_export_faithfully_is_refused():
    with pytest.raises(RuntimeError, match="engine='torch'"):
        CpuGraph(_FrozenBatch(), (torch.zeros(1, 2),))
    graph = CpuGraph(torch.nn.Linear(2, 3), (torch.zeros(1, 2),))
    assert graph(np.ones((4, 2), np.float32)).shape == (4, 3)
