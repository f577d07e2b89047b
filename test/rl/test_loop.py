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

"""The RL loop on a toy world whose optimum is known: it learns, resumes, drops doubt."""

from __future__ import annotations

import numpy as np
from safetensors.numpy import load_file

from wm_ros.rl.actor import GaussianActor, Sampling
from wm_ros.rl.config import RLConfig
from wm_ros.rl.rollouts import collect, Imagination
from wm_ros.rl.trainer import Trainer

from . import toy


def toy_config(**overrides) -> RLConfig:
    """Return the toy's settings: 8 starts x 8 rollouts, 15 steps, wide exploration."""
    return RLConfig(**{'families': ('unknown',), 'starts': 8, 'group': 8, 'updates': 10,
                       'epochs': 2, 'minibatch': 128, 'lr': 3e-3, 'log_std': 0.0,
                       'max_steps': 15, 'max_steps_long': 15, 'checkpoint_every': 100,
                       'eval_starts': 8, **overrides})


def trainer(tmp_path, cfg: RLConfig, out: str, world=None) -> Trainer:
    """Return a trainer of the random toy policy in the toy world, writing into ``out``."""
    base = tmp_path / 'base'
    if not base.exists():
        toy.policy_dir(base)
    world = world or toy.PusherWorld()
    actor = GaussianActor.load(base, cfg.log_std)
    return Trainer(actor, Imagination(world, toy.RegionReward(), cfg, toy.HALF),
                   toy.starts(16, seed=1), toy.starts(8, seed=2), tmp_path / out,
                   {'base': 'toy'})


def test_the_return_rises_to_the_known_optimum(tmp_path):
    run = trainer(tmp_path, toy_config(), 'out')
    summary = run.run(progress=False)
    success = [h['success'] for h in run.history]
    assert np.mean(success[:2]) < 0.15            # a random network rarely gets there
    assert np.mean(success[-2:]) > 0.8            # pushing right is learned
    assert summary['imagined_before']['mean_pct'] == 0.0
    assert summary['imagined_after']['mean_pct'] >= 87.5   # the mean policy, held-out starts
    assert summary['judge'] == 'reward' and summary['finished']


def test_resume_gives_the_uninterrupted_result(tmp_path):
    cfg = toy_config(updates=4, checkpoint_every=2, eval_every=1)
    whole = trainer(tmp_path, cfg, 'whole')
    whole.run(progress=False)
    trainer(tmp_path, cfg, 'cut').run(progress=False, stop_after=2)    # interrupted at 2
    resumed = trainer(tmp_path, cfg, 'cut')
    resumed.run(resume=True, progress=False)
    a = load_file(str(tmp_path / 'whole' / 'policy.safetensors'))
    b = load_file(str(tmp_path / 'cut' / 'policy.safetensors'))
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    timeless = [[{k: v for k, v in h.items() if 'seconds' not in k} for h in run.history]
                for run in (whole, resumed)]
    assert timeless[0] == timeless[1]
    assert [h['imagined']['mean_pct'] for h in whole.history] == [
        h['imagined']['mean_pct'] for h in resumed.history]           # eval_every=1
    assert any(h['trained_steps'] for h in whole.history)     # something was learned


def sampler(tmp_path, cfg: RLConfig) -> Sampling:
    """Return the random toy policy as a seeded sampler."""
    return Sampling(GaussianActor.load(toy.policy_dir(tmp_path / 'base'), cfg.log_std),
                    np.random.default_rng(0))


def test_rollouts_the_ensemble_doubts_are_dropped(tmp_path):
    cfg = toy_config(starts=4)
    world = Imagination(toy.UnsureWorld(), toy.RegionReward(), cfg, toy.HALF)
    starts = toy.starts(4, seed=3)
    for s in starts:                       # start right of x = 0, where the model is sure
        s.ee = np.array([0.005, s.ee[1]], np.float32)
        s.image = toy.draw(s.ee[None])[0]
    batch = collect(world, sampler(tmp_path, cfg), starts, np.random.default_rng(1))
    centre = toy.column(np.array([0.0]))[0]
    went_left = np.array([t['ee'][1:, 0].min(initial=1.0) < 0
                          or np.argmax(t['final'][..., 0].max(0)) < centre
                          for t in batch.trajectories])
    assert 0 < batch.dropped['uncertain'] < len(batch.weight)
    assert np.array_equal(batch.weight == 0, went_left)


def test_rollouts_that_disagree_under_perturbed_starts_are_dropped(tmp_path):
    cfg = toy_config(starts=4, max_disagreement=0.005)    # a pixel of 256 may change
    act = sampler(tmp_path, cfg)
    sane = collect(Imagination(toy.PusherWorld(), toy.RegionReward(), cfg, toy.HALF), act,
                   toy.starts(4, seed=3), np.random.default_rng(1))
    wild = collect(Imagination(toy.HallucinatingWorld(), toy.RegionReward(), cfg, toy.HALF),
                   act, toy.starts(4, seed=3), np.random.default_rng(1))
    assert sane.dropped['disagree'] <= len(sane.weight) // 3     # 3 to 8 of 32 (4 seeds)
    assert wild.dropped['disagree'] >= len(wild.weight) // 2     # 20 to 23 of 32
    assert wild.dropped['disagree'] > 2 * sane.dropped['disagree']
    assert (wild.weight == 0).sum() == wild.dropped['disagree']
