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
Label-free discovery on scenes it was not designed around (issue 27).

Synthetic 64 px frames, board 0.5 m across: a white board, a grey T larger than the
tabletop's 13 px sprites, a green goal marking painted on the board, a blue pusher.
"""

from __future__ import annotations

from dataclasses import replace
import json

import numpy as np
import pytest

from wm_ros.image_metrics import psnr
from wm_ros.model import free_slots
from wm_ros.model.discover import Background, discover, learn_sizes
from wm_ros.model.free_slots_train import learn_scene
from wm_ros.runtime.free_slots_backend import TorchFreeSlotsRuntime

S, HALF, RADIUS = 64, 0.25, 0.018
WHITE, GREY, GREEN, BLUE = (255, 255, 255), (143, 163, 184), (144, 238, 144), (65, 105, 225)
RED, NAVY = (220, 40, 40), (30, 60, 200)


def t_mask(col: int, row: int) -> np.ndarray:
    """Return bool[S, S]: a T (bar 21 x 5 px, stem 5 x 15 px) whose bar starts at (col, row)."""
    mask = np.zeros((S, S), bool)
    mask[row:row + 5, col:col + 21] = True
    mask[row + 5:row + 20, col + 8:col + 13] = True
    return mask


def frame(t_at=None, marking=False, ee=(0.2, -0.2), squares=()) -> np.ndarray:
    """Return a frame: white board, optional goal marking, T, squares and the pusher."""
    img = np.full((S, S, 3), WHITE, np.uint8)
    if marking:
        img[t_mask(4, 36)] = GREEN
    if t_at is not None:
        img[t_mask(*t_at)] = GREY
    for colour, (c, r) in squares:
        img[r:r + 7, c:c + 7] = colour
    rows, cols = np.mgrid[:S, :S]
    pc = ((1 + ee[0] / HALF) * S / 2 - 0.5, (1 - ee[1] / HALF) * S / 2 - 0.5)
    img[(cols - pc[0]) ** 2 + (rows - pc[1]) ** 2 < 2.3 ** 2] = BLUE
    return img


def metres(cr) -> np.ndarray:
    """Return board metres of pixel (col, row)."""
    return np.array([((cr[0] + 0.5) / (S / 2) - 1) * HALF, (1 - (cr[1] + 0.5) / (S / 2)) * HALF])


def found(d) -> np.ndarray:
    """Return the centroids (m) of the objects a discovery found."""
    return d.pos[d.present > 0]


def test_a_large_non_convex_object_stays_one_whole_object():
    mask = t_mask(20, 10)
    truth = metres((np.nonzero(mask)[1].mean(), np.nonzero(mask)[0].mean()))
    img, ee = frame((20, 10)), np.array([0.2, -0.2])
    d = discover(img, ee, 8, HALF, RADIUS, 13)
    assert len(found(d)) == 1, found(d)                       # one T, not two pieces
    assert np.linalg.norm(found(d)[0] - truth) < 0.002        # its centroid, within 2 mm
    patch, area = learn_sizes(d.reach[d.present > 0], d.area[d.present > 0], S)
    assert patch > 13                                         # larger than the tabletop's
    whole = discover(img, ee, 8, HALF, RADIUS, patch, object_area=area)
    assert whole.present.sum() == 1                           # its own size is no limit
    assert whole.sprite[0, 3].sum() == pytest.approx(mask.sum(), abs=0.5)   # all of it cut
    # the rule of model files before issue 27 cut it in two (its area is over the limit)
    assert len(found(discover(img, ee, 8, HALF, RADIUS, 13, rule=1))) == 2


def test_two_touching_objects_of_different_colours_are_still_two():
    img = frame(squares=((RED, (20, 20)), (NAVY, (27, 20))))
    d = discover(img, np.array([0.2, -0.2]), 8, HALF, RADIUS, 13)
    pos = found(d)
    assert len(pos) == 2, pos
    for c in (23, 30):
        assert np.linalg.norm(pos - metres((c, 23)), axis=-1).min() < 0.004


def test_touching_objects_of_one_colour_are_split_by_the_learned_area():
    one = discover(frame(squares=((RED, (20, 20)),)), np.array([0.2, -0.2]), 8, HALF, RADIUS, 13)
    _, area = learn_sizes(one.reach[:1], one.area[:1], S)
    img = frame(squares=((RED, (20, 20)), (RED, (27, 20))))
    pos = found(discover(img, np.array([0.2, -0.2]), 8, HALF, RADIUS, 13, object_area=area))
    assert len(pos) == 2, pos
    for c in (23, 30):
        assert np.linalg.norm(pos - metres((c, 23)), axis=-1).min() < 0.004


def episodes_with_marking(n: int = 6, frames: int = 12) -> list[np.ndarray]:
    """Return ``n`` episodes: the marking in every frame, the T somewhere else each time."""
    rng = np.random.default_rng(0)
    out = []
    for e in range(n):
        c, r = ((40, 2), (2, 2), (40, 40), (22, 12), (42, 22), (10, 8))[e % 6]
        out.append(np.stack([frame((c, r + (k > frames // 2)), marking=True,
                                   ee=(rng.uniform(-0.2, 0.2), -0.22)) for k in range(frames)]))
    return out


def test_a_marking_in_every_frame_is_background_not_an_object():
    learned = Background.learn(episodes_with_marking())
    assert learned.static[t_mask(4, 36)].all()                 # the marking is the scene's
    img, ee = frame((30, 20), marking=True, ee=(0.1, -0.2)), np.array([0.1, -0.2])
    with_scene = discover(img, ee, 8, HALF, RADIUS, 25, background=learned)
    assert len(found(with_scene)) == 1                          # the T only
    mask = t_mask(30, 20)
    truth = metres((np.nonzero(mask)[1].mean(), np.nonzero(mask)[0].mean()))
    assert np.linalg.norm(found(with_scene)[0] - truth) < 0.002
    # the frame's median colour alone takes the marking for an object
    assert len(found(discover(img, ee, 8, HALF, RADIUS, 25))) == 2


def test_an_object_on_the_marking_is_found_whole():
    learned = Background.learn(episodes_with_marking())
    img = frame((2, 34), marking=True, ee=(0.1, -0.2))         # the T over its goal
    d = discover(img, np.array([0.1, -0.2]), 8, HALF, RADIUS, 25, background=learned)
    mask = t_mask(2, 34)
    truth = metres((np.nonzero(mask)[1].mean(), np.nonzero(mask)[0].mean()))
    assert len(found(d)) == 1 and np.linalg.norm(found(d)[0] - truth) < 0.003


def test_one_recording_whose_objects_stay_put_learns_no_background():
    still = np.stack([frame((30, 20), marking=True)] * 40)      # one episode, nothing moved
    assert not Background.learn([still]).static.any()          # too few looks to tell
    learned = Background.learn(episodes_with_marking())
    again = Background.decode(learned.encode())                # what a model file stores
    assert np.array_equal(again.static, learned.static)
    assert np.abs(again.rgb - learned.rgb).max() < 1 / 255 + 1e-6


class _Episode:
    """What learn_scene reads of an episode."""

    def __init__(self, images: np.ndarray):
        self.images = images
        self.ee_xy = np.tile(np.float32([0.1, -0.22]), (len(images), 1))


def test_training_learns_the_scene_and_the_model_redraws_it():
    cfg = learn_scene([_Episode(f) for f in episodes_with_marking()],
                      free_slots.load_config('tiny'))
    assert cfg.patch % 2 == 1 and cfg.patch >= 21 and cfg.discovery == 2
    rt = TorchFreeSlotsRuntime(free_slots.FreeSlotsModel(cfg))
    images = np.stack([frame((30, 20), marking=True, ee=(0.1, -0.2)),
                       frame((2, 34), marking=True, ee=(0.1, -0.2))])
    state = rt.encode(images, np.float32([[0.1, -0.2]] * 2))
    assert state['present'].sum(1).tolist() == [1, 1]          # the T, never the marking
    drawn, _ = rt.decode(state)
    assert psnr(drawn, images).min() > 40.0                    # marking, T and pusher redrawn


def test_model_files_from_before_keep_their_discovery(tmp_path):
    cfg = replace(free_slots.load_config('tiny'), patch=13)
    free_slots.save(free_slots.FreeSlotsModel(cfg), tmp_path / 'new')
    old = tmp_path / 'old'
    free_slots.save(free_slots.FreeSlotsModel(cfg), old)
    meta = json.loads((old / 'model.json').read_text())
    for key in ('discovery', 'background'):                   # a file written before issue 27
        meta['config'].pop(key)
    (old / 'model.json').write_text(json.dumps(meta))
    img = frame((20, 10))[None]
    ee = np.float32([[0.2, -0.2]])
    assert TorchFreeSlotsRuntime(old).encode(img, ee)['present'].sum() == 2   # as it was
    assert TorchFreeSlotsRuntime(tmp_path / 'new').encode(img, ee)['present'].sum() == 1
