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
The JEPA family learns PushT from pixels, commands and poses: tiny config, a few episodes.

Trained on the first 40 steps of 24 PushT expert episodes, it is measured on their last
20 steps, which it never trained on: its open-loop prediction in embedding space must be
closer to the encoder's embedding of the real frame than the embedding of the start frame
is (copy-last), the embeddings must keep their spread (no collapse), and the pusher,
which PushT's PD controller does not move by command x dt, must follow the recorded poses.
"""

import numpy as np
import pytest
import torch

from wm_ros.config import ConfigError
from wm_ros.episodes.collect import collect
from wm_ros.model import jepa, jepa_train
from wm_ros.model.bag_source import Recording
from wm_ros.runtime import load_runtime
from wm_ros.runtime.base import Embedding
from wm_ros.sim.dataset import iter_episodes
from wm_ros.sim.pusht import PushTConfig

CUT = 40


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Return ``(model, stats, unseen steps)``: tiny JEPA on 24 PushT expert episodes."""
    data = tmp_path_factory.mktemp('pusht')
    collect(data, 24, seed=9, config=PushTConfig(), shard_size=24, max_steps=60,
            progress=False, robot='pusht', mix={'expert': 1.0})
    episodes = list(iter_episodes(data))
    assert all(len(e) == 60 for e in episodes)
    seen = [Recording(e.images[:CUT + 1], e.ee_xy[:CUT + 1], e.actions[:CUT], e.dt)
            for e in episodes]
    unseen = [Recording(e.images[CUT:], e.ee_xy[CUT:], e.actions[CUT:], e.dt)
              for e in episodes]
    model, stats = jepa_train.fit(seen, jepa.load_config('tiny', steps=400), progress=False)
    return model, stats, unseen


def test_it_predicts_unseen_steps_in_its_embedding_better_than_copy_last(trained):
    model, stats, unseen = trained
    assert stats['final_loss'] < 0.5 * stats['first_loss']
    for horizon, most in ((3, 0.85), (6, 0.8)):
        err = jepa_train.latent_errors(model, unseen, horizon)
        assert err['starts'] == 24 * (21 - horizon)       # 21 unseen frames each
        assert err['model'] < most * err['copy_last'], err


def test_its_embeddings_do_not_collapse(trained):
    """Most features vary from frame to frame; 24 scenes give 24 distinct embeddings."""
    model, _, unseen = trained
    with torch.no_grad():
        z = model.embed(torch.from_numpy(np.concatenate([e.images for e in unseen])),
                        torch.from_numpy(np.concatenate([e.ee_xy for e in unseen])))
    std = z.flatten(1).std(0)
    assert std.mean() > 0.5 and (std > 0.1).float().mean() > 0.6, std
    first = z.reshape(24, -1, *z.shape[1:])[:, 0].flatten(1)
    gaps = torch.cdist(first, first)[~torch.eye(24, dtype=bool)]
    assert gaps.min() > 0.1 * gaps.median()


def test_the_pusher_follows_the_recorded_poses_not_the_commands(trained):
    """The pusher lags its commands on PushT (about 40 % per step): learned from poses."""
    model, _, unseen = trained
    err = jepa_train.latent_errors(model, unseen, 6)
    assert err['ee_m'] < 0.01 and err['ee_m'] < 0.25 * err['ee_command_m'], err


def test_the_viewing_decoder_sends_no_gradient_into_the_encoder_or_predictor(trained):
    _, _, unseen = trained
    grads = []
    for weight in (1.0, 0.0):
        cfg = jepa.load_config('tiny', decoder_weight=weight)
        torch.manual_seed(0)
        model = jepa.JepaWorldModel(cfg)
        data = jepa_train.Windows(unseen, cfg.unroll)
        loss, terms = jepa_train.batch_loss(model, data, data.starts[:8])
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()
                      if p.grad is not None})
    assert terms['dec'] > 0
    with_decoder, without = grads
    for name, grad in with_decoder.items():
        if name.startswith(('dec_in', 'up', 'dec_out')):
            assert grad.abs().max() > 0, name             # the decoder learns ...
            assert not without.get(name, torch.zeros(1)).any(), name   # ... from its term
        else:                               # encoder, predictor, pusher head: untouched
            torch.testing.assert_close(grad, without[name], rtol=0, atol=0)


def test_its_onnx_export_plans_as_torch_does(trained, tmp_path):
    """Saved, loaded and exported: both backends embed, step and draw alike."""
    model, _, unseen = trained
    jepa.save(model, tmp_path)
    jepa.export(tmp_path, tmp_path / 'onnx')
    backends = [load_runtime(tmp_path, 'torch'), load_runtime(tmp_path, 'onnxruntime')]
    ep = unseen[0]
    actions = np.repeat(ep.actions[None, :10], 5, 0).astype(np.float32)
    out = []
    for runtime in backends:
        assert isinstance(runtime, Embedding) and runtime.embedding_dim == model.cfg.embed
        assert model.cfg.embed == 4 * 8 * 8                     # tiny: 4 channels, 8 x 8
        state = runtime.step(runtime.encode(ep.images[:5], ep.ee_xy[:5]), actions)
        out.append((runtime.embedding(state), state['ee'], runtime.decode(state)[0]))
    (z_t, ee_t, im_t), (z_o, ee_o, im_o) = out
    np.testing.assert_allclose(z_o, z_t, atol=1e-4)
    np.testing.assert_allclose(ee_o, ee_t, atol=1e-6)
    assert np.abs(im_o.astype(int) - im_t).max() <= 1


def test_a_config_it_cannot_build_is_refused_with_the_rule():
    with pytest.raises(ConfigError, match='multiple of 8'):
        jepa.load_config('tiny', image_size=60)
    with pytest.raises(ConfigError, match='unroll must be >= 1'):
        jepa.load_config('tiny', unroll=0)
