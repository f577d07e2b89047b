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
Regenerate ``test/golden/tiny_world_model`` (only when the model format changes on purpose).

    .venv/bin/python test/golden/regenerate.py

Trains the ``tiny`` config on a few collected episodes, exports it to ONNX in the same
directory, and stores inputs and the torch outputs in ``expected.npz``; the golden test
checks that today's code loads the files and reproduces the outputs with both backends.
"""

from pathlib import Path
import shutil
import tempfile

import numpy as np

from wm_ros.episodes.collect import collect
from wm_ros.model.config import load_config
from wm_ros.model.export import export
from wm_ros.model.train import train
from wm_ros.runtime import load_runtime
from wm_ros.sim.dataset import iter_episodes

OUT = Path(__file__).parent / 'tiny_world_model'


def main():
    """Rebuild the golden directory."""
    with tempfile.TemporaryDirectory() as tmp:
        collect(tmp, 6, seed=11, shard_size=6, max_steps=30, progress=False)
        shutil.rmtree(OUT, ignore_errors=True)
        train([tmp], OUT, load_config('tiny'), progress=False)
        export(OUT, OUT)
        episodes = list(iter_episodes(tmp))[:3]
    runtime = load_runtime(OUT, 'torch')
    images = np.stack([e.images[0] for e in episodes])
    ee = np.stack([e.ee_xy[0] for e in episodes]).astype(np.float32)
    actions = np.random.default_rng(0).uniform(-0.2, 0.2, (3, 6, 2)).astype(np.float32)
    state = runtime.encode(images, ee)
    kind = state['kind']
    state = runtime.step(state, actions)
    frames, _ = runtime.decode(state)
    np.savez_compressed(OUT / 'expected.npz', images=images, ee=ee, actions=actions, kind=kind,
                        pos=state['pos'], ee_after=state['ee'], frames=frames)
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
