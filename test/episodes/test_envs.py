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
The contract every batched environment passes: the tabletop and the imagination alike.

Cases: the tabletops in this process, the imagination with the shipped world model
(ONNX Runtime) and with the golden tiny model (torch); the tabletop process pool with 0
and 2 workers gives the same episodes.
"""

from pathlib import Path

import numpy as np
import pytest

from wm_ros import artefacts
from wm_ros.episodes.driver import run_episodes
from wm_ros.episodes.env import BatchEnv, Limits
from wm_ros.episodes.imagination import ImaginationEnv
from wm_ros.episodes.tabletop import run_on_tabletop, sample_starts, Tabletops, TabletopWorld
from wm_ros.policy.base import PerRow

TINY = Path(__file__).resolve().parents[1] / 'golden' / 'tiny_world_model'


def _imagination(model, backend):
    def make():
        from wm_ros.runtime import load_runtime
        return ImaginationEnv(load_runtime(model, backend, threads=1))
    return make


ENVS = {'tabletop': Tabletops,
        'imagination_shipped': _imagination(artefacts.WORLD_MODEL, 'onnxruntime'),
        'imagination_tiny': _imagination(TINY, 'torch')}


@pytest.fixture(scope='module')
def starts():
    """Return three starts of two families, with first frames."""
    return sample_starts(('block_to_region', 'separate'), 2, seed=5000)[:3]


class StandStill:
    """A single-row policy that never moves (what the contract needs: any policy)."""

    def act(self, observation):
        return np.zeros(2, np.float32)


@pytest.mark.parametrize('name', list(ENVS))
def test_reset_and_step_speak_the_batched_protocol(name, starts):
    env = ENVS[name]()
    assert isinstance(env, BatchEnv)
    obs, infos = env.reset(starts)
    assert obs.image.dtype == np.uint8 and obs.image.shape == (3, 64, 64, 3)
    assert obs.ee_xy.dtype == np.float32 and obs.ee_xy.shape == (3, 2)
    assert obs.instructions == tuple(s.task.instruction for s in starts) and obs.t == 0
    assert obs.rows.tolist() == [0, 1, 2] and len(infos) == 3
    obs, done, success, infos = env.step(np.full((3, 2), 0.1, np.float32))
    assert obs.rows.tolist() == [0, 1, 2] and obs.t == 1 and len(infos) == 3
    assert done.dtype == bool and success.dtype == bool and done.shape == success.shape == (3,)
    obs, done, success, infos = env.step(np.zeros((2, 2), np.float32), [0, 2])
    assert obs.rows.tolist() == [0, 2] and obs.image.shape[0] == 2 and len(infos) == 2
    assert obs.instructions == (starts[0].task.instruction, starts[2].task.instruction)
    with pytest.raises(ValueError, match='finished row'):
        env.step(np.zeros((2, 2), np.float32), [0, 1])
    with pytest.raises(ValueError, match='float32'):
        env.step(np.zeros((3, 2), np.float32), [0, 2])
    env.close()


@pytest.mark.parametrize('name', list(ENVS))
def test_the_same_starts_give_the_same_episodes(name, starts):
    """An episode depends on its start only: not on the run, nor on its batch neighbours."""
    def frames(group):
        out = run_episodes(ENVS[name](), PerRow(lambda _: StandStill()), group, Limits(3, 3),
                           keep_frames=range(len(group)))
        assert all(r.steps == 3 and r.frames.shape == (4, 64, 64, 3) for r in out)
        return [r.frames for r in out]
    one, two, alone = frames(starts), frames(starts), frames(starts[2:])
    assert all(np.array_equal(a, b) for a, b in zip(one, two))
    assert np.array_equal(one[2], alone[0])
    assert not np.array_equal(one[0][0], one[1][0])        # different starts, different frames


def test_the_first_frame_of_the_tabletop_is_the_starts_and_imagination_redraws_it(starts):
    tabletop, _ = Tabletops().reset(starts)
    assert all(np.array_equal(a, s.image) for a, s in zip(tabletop.image, starts))
    env = ENVS['imagination_shipped']()
    imagined, infos = env.reset(starts)
    assert env.can_judge and all(isinstance(i, dict) for i in infos)
    assert np.abs(imagined.image.astype(int) - tabletop.image).mean() < 20
    assert np.abs(imagined.ee_xy - tabletop.ee_xy).max() < 0.02


def test_imagination_refuses_starts_without_a_first_frame(starts):
    from dataclasses import replace
    with pytest.raises(ValueError, match='first frame'):
        ENVS['imagination_tiny']().reset([replace(starts[0], image=None)])


def test_the_tabletop_pool_gives_the_same_episodes_with_0_and_2_workers(starts):
    group = sample_starts(('block_to_region', 'block_to_block'), 3, seed=42)
    jobs = [('state_expert', s) for s in group]
    world = TabletopWorld(limits=Limits(40, 40))
    here = run_on_tabletop(world, jobs, workers=0, chunk=2, keep={0, 4})
    pooled = run_on_tabletop(world, jobs, workers=2, chunk=2, keep={0, 4})
    assert [(r.success, r.steps) for r in here] == [(r.success, r.steps) for r in pooled]
    assert any(r.success for r in here)                 # the expert solves some in 40 steps
    assert [r.frames is not None for r in here] == [i in (0, 4) for i in range(len(jobs))]
    assert all(np.array_equal(here[i].frames, pooled[i].frames) for i in (0, 4))
