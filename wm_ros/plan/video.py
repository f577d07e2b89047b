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
The video of every step: what the planner imagined, beside what the camera saw.

:class:`PlanRecorder` is called after every executed action with the newest camera frame
and the planner. It keeps, per sub-goal, the imagined rollout of the first plan made for
it, and for every executed step the camera frame beside the imagined frame the current
plan predicted for that moment. ``write(out)`` saves

* ``subgoal_<n>.png``: strip of the first imagined plan of sub-goal n (camera frame first);
* ``subgoal_<n>.mp4``: that imagined plan as a video;
* ``plan.mp4``: camera | imagination, every executed step (4x enlarged);
* ``plan.json``: instruction, sub-goals, success, steps, planning times.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SCALE = 4


def _big(frame: np.ndarray) -> np.ndarray:
    return np.kron(frame, np.ones((SCALE, SCALE, 1), np.uint8))


class PlanRecorder:
    """Collects frames during a planned episode (see the module docstring)."""

    def __init__(self, first_frame: np.ndarray):
        self.first_frame = first_frame
        self.rows: list[np.ndarray] = []
        self.subgoal_plans: list[tuple[str, np.ndarray, np.ndarray]] = []
        self._plans, self._offset, self._key = 0, 0, None
        self._video = np.zeros((0,) + first_frame.shape, np.uint8)
        self._last_frame = first_frame

    def __call__(self, obs: dict, planner) -> None:
        """Record one executed step (``obs`` after it; ``planner`` may be None)."""
        frame = obs['image']
        imagined = np.zeros_like(frame)
        if planner is not None:
            if planner.plans != self._plans:            # a new plan since the last step
                self._plans, self._offset = planner.plans, 0
                self._video = planner.video
                status = planner.status()
                key = (status['task'], status['step'], status['retries'])
                if key != self._key and len(self._video):
                    self._key = key
                    self.subgoal_plans.append((status['subgoal'], self._last_frame,
                                               self._video))
            if self._offset < len(self._video):
                imagined = self._video[self._offset]
            self._offset += 1
        self.rows.append(np.concatenate([frame, imagined], axis=1))
        self._last_frame = frame

    def write(self, out: str | Path, summary: dict) -> dict:
        """Write the strips, videos and ``plan.json`` into ``out``; return the paths."""
        import imageio.v2 as imageio
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {'subgoal_strips': [], 'subgoal_videos': []}
        for n, (_, start, video) in enumerate(self.subgoal_plans, 1):
            strip = np.concatenate([start] + list(video), axis=1)
            png = out / f'subgoal_{n}.png'
            imageio.imwrite(png, _big(strip) if strip.shape[1] < 2000 else strip)
            mp4 = out / f'subgoal_{n}.mp4'
            imageio.mimsave(mp4, [_big(f) for f in video], fps=10, macro_block_size=1)
            paths['subgoal_strips'].append(str(png))
            paths['subgoal_videos'].append(str(mp4))
        if self.rows:
            paths['video'] = str(out / 'plan.mp4')
            imageio.mimsave(paths['video'], [_big(r) for r in self.rows], fps=10,
                            macro_block_size=1)
        doc = {**summary, 'subgoal_plans': [t for t, _, _ in self.subgoal_plans], **paths}
        (out / 'plan.json').write_text(json.dumps(doc, indent=1, default=float))
        return doc
