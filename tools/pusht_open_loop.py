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
Open-loop figures of world models on held-out PushT episodes (issue 27's acceptance).

``python tools/pusht_open_loop.py --data HELD_OUT --model DIR [--model DIR ...]``:
``HELD_OUT`` is a ``wm-ros collect --robot pusht`` directory of seeds never trained on
(its recorded T poses are used only to score). From every ``--stride``-th frame of each
episode, each model is given that frame and the recorded pose (and the pose one step
before, where its state keeps the pusher's last velocity: ``prev_ee``), and rolled out
open loop with the recorded commands; copy-last repeats the frame. At each horizon:

* **T error** (cm, median over starts where the true T moved more than 1 cm): the T is
  measured in the predicted frame by the discovery the free-slot family encodes with,
  against the scene learned by ``--scene`` (a free-slot model directory; default the
  first ``--model`` that has one): the found object nearest the true T;
* **yaw error** (degrees, median where the true T turned more than 15 degrees): the
  T's turn in the predicted frame, measured by turning the T's sprite of the start frame
  until it fits (a full-circle search), against the true turn;
* **split / dropped** (% of predicted frames): two or more objects of the T's colour
  (split), or none (dropped);
* **PSNR** (dB, mean) against the real frame; **pusher error** (cm, median).

``--stalls`` (any recording, the tabletop's too) prints instead the pusher's one-step
error where the recorded pusher stalled (moved under half the commanded ``command x dt``
of at least 5 mm, away from the edges: pressed into objects) and elsewhere.

``--contacts`` (labelled recordings, no model) counts, per ``--data`` dir, the commanded
steps, those where the pusher stalled, those of them within ``NEAR`` of a block and inside
the edges, and the steps where the pusher is at a block that touches another (issue 27's
wedge: docs/results/wedged-pusher.md).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
import sys
import time

os.environ.setdefault('SDL_VIDEODRIVER', 'dummy')
os.environ.setdefault('OMP_NUM_THREADS', '1')
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from wm_ros.model import free_slots  # noqa: E402
from wm_ros.model.discover import discover  # noqa: E402
from wm_ros.model.free_slots_yaw import turned  # noqa: E402
from wm_ros.runtime.registry import load_runtime  # noqa: E402
from wm_ros.sim.dataset import iter_episodes  # noqa: E402

MOVED = 0.01          # m: the T moved
TURNED = 15.0         # degrees: the T turned
CIRCLE = np.deg2rad(np.arange(-180.0, 180.0, 4.0))
FINE = np.deg2rad(np.arange(-4.0, 4.1, 0.5))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Return the PSNR (dB) of uint8 frames ``a`` against ``b``."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


class Measure:
    """Discovery of the T in a frame, with a learned scene (module docstring)."""

    def __init__(self, cfg: free_slots.FreeSlotsConfig):
        self.cfg = cfg
        self.px = 2 * cfg.board_half / cfg.image_size

    def find(self, image, ee):
        """Return the discovery of ``image`` (sprites wide enough for any part)."""
        c = self.cfg
        return discover(image, ee, 8, c.board_half, c.pusher_m, c.sprite_px, c.threshold,
                        background=c.scene(), object_area=c.object_area)

    def t_of(self, found, true_xy, colour):
        """
        Return (index of the T, parts of its colour) in ``found`` (index -1: none).

        ``colour`` None: any part (the start frame, where the T is the one nearest).
        """
        keep = np.flatnonzero(found.present > 0)
        if not len(keep):
            return -1, 0
        a = found.sprite[keep, 3].sum((-1, -2))
        rgb = found.sprite[keep, :3].sum((-1, -2)) / np.maximum(a, 1e-6)[:, None]
        alike = keep if colour is None else keep[(np.abs(rgb - colour).max(-1) < 0.25)
                                                 & (a > 8)]
        if not len(alike):
            return -1, 0
        near = alike[np.argmin(np.linalg.norm(found.pos[alike] - true_xy, axis=-1))]
        return int(near), len(alike)

    def turn(self, ref, k0: int, found, k: int) -> float:
        """Return the turn (rad) that fits the T of ``ref`` (index ``k0``) onto ``found``'s."""
        target = found.sprite[k]
        norm = max(float(target[3].sum()), 1.0)
        ref_off, off = ref.anchor[k0] - ref.pos[k0], found.anchor[k] - found.pos[k]
        angles = CIRCLE
        for _ in range(2):
            cost = ((turned(ref.sprite[k0], ref_off, off, angles, self.px).numpy()
                     - target) ** 2).sum((1, 2, 3)) / norm
            best = float(angles[int(np.argmin(cost))])
            angles = best + FINE
        return best


def _colour(found, k):
    a = found.sprite[k, 3].sum()
    return found.sprite[k, :3].sum((-1, -2)) / max(float(a), 1e-6)


def rollout(runtime, ep, starts, horizons, last_pose: bool = True):
    """Return {h: (frames uint8[B, S, S, 3], ee [B, 2])} of ``runtime`` from ``starts``."""
    h_max = max(horizons)
    state = runtime.encode(ep.images[starts], ep.ee_xy[starts])
    if last_pose and 'prev_ee' in state.keys():  # noqa: SIM118 - the pusher's last velocity is known
        state = state.updated({'prev_ee': ep.ee_xy[np.maximum(starts - 1, 0)]
                               .astype(np.float32)})
    actions = np.stack([ep.actions[t:t + h_max] for t in starts]).astype(np.float32)
    out = {}
    for k, s in enumerate(runtime.rollout(state, actions), start=1):
        if k in horizons:
            out[k] = runtime.decode(s)
    return out


def evaluate(models: dict, episodes, measure: Measure, horizons, stride: int,
             last_pose: bool = True) -> dict:
    """Return {name: {h: {figure: value}}} for every model and copy-last."""
    rows = {name: {h: {'err': [], 'yaw': [], 'psnr': [], 'split': [], 'drop': [], 'ee': []}
                   for h in horizons} for name in ['copy-last', *models]}
    for ep in episodes:
        true = ep.block_states[:, 0]
        starts = np.arange(0, len(ep.actions) - max(horizons) + 1, stride)
        if not len(starts):
            continue
        preds = {name: rollout(rt, ep, starts, horizons, last_pose)
                 for name, rt in models.items()}
        for b, t in enumerate(starts):
            ref = measure.find(ep.images[t], ep.ee_xy[t])
            k0, _ = measure.t_of(ref, true[t, :2], None)
            if k0 < 0:
                continue
            colour = _colour(ref, k0)
            for h in horizons:
                moved = np.linalg.norm(true[t + h, :2] - true[t, :2]) > MOVED
                turn = math.atan2(math.sin(true[t + h, 2] - true[t, 2]),
                                  math.cos(true[t + h, 2] - true[t, 2]))
                real = ep.images[t + h]
                cands = {'copy-last': (ep.images[t], ep.ee_xy[t])}
                cands.update({n: (p[h][0][b], p[h][1][b]) for n, p in preds.items()})
                for name, (frame, ee) in cands.items():
                    r = rows[name][h]
                    r['psnr'].append(psnr(frame, real))
                    r['ee'].append(np.linalg.norm(ee - ep.ee_xy[t + h]) * 100)
                    found = measure.find(frame, ee)
                    k, parts = measure.t_of(found, true[t + h, :2], colour)
                    r['split'].append(parts >= 2)
                    r['drop'].append(k < 0)
                    if k < 0:
                        continue
                    if moved:
                        r['err'].append(np.linalg.norm(found.pos[k] - true[t + h, :2]) * 100)
                    if abs(math.degrees(turn)) > TURNED:
                        got = measure.turn(ref, k0, found, k)
                        r['yaw'].append(abs(math.degrees(math.atan2(math.sin(got - turn),
                                                                    math.cos(got - turn)))))
    return {name: {h: {'err': np.median(r['err']) if r['err'] else float('nan'),
                       'yaw': np.median(r['yaw']) if r['yaw'] else float('nan'),
                       'psnr': float(np.mean(r['psnr'])),
                       'split': 100 * float(np.mean(r['split'])),
                       'drop': 100 * float(np.mean(r['drop'])),
                       'ee': float(np.median(r['ee'])),
                       'n_moved': len(r['err']), 'n_turned': len(r['yaw']),
                       'n': len(r['psnr'])}
                   for h, r in per.items()} for name, per in rows.items()}


def stalls(models: dict, episodes) -> str:
    """Return the pusher's one-step error (cm, median) where it stalled and elsewhere."""
    err = {name: {True: [], False: []} for name in ['command x dt', *models]}
    for ep in episodes:
        n = len(ep.actions)
        rt0 = next(iter(models.values()))
        cmd = np.clip(ep.actions, -rt0.max_speed, rt0.max_speed) / rt0.control_hz
        real = ep.ee_xy[1:n + 1] - ep.ee_xy[:n]
        inside = (np.abs(ep.ee_xy[:n]) < 0.25 - 0.03).all(1)
        big = np.linalg.norm(cmd, axis=1) > 0.005
        stalled = big & inside & (np.linalg.norm(real, axis=1)
                                          < 0.5 * np.linalg.norm(cmd, axis=1))
        starts = np.arange(1, n)
        for name, rt in models.items():
            _, ee = rollout(rt, ep, starts, [1])[1]
            for t, e in zip(starts, ee):
                if big[t]:
                    err[name][bool(stalled[t])].append(np.linalg.norm(e - ep.ee_xy[t + 1]))
        for t in starts[big[starts]]:
            err['command x dt'][bool(stalled[t])].append(np.linalg.norm(cmd[t] - real[t]))
    lines = ['| pusher, 1 step (cm, median) | stalled | elsewhere (commanded) |', '|---|---|---|']
    for name, e in err.items():
        lines.append(f'| {name} | {100 * np.median(e[True]):.2f} ({len(e[True])} steps) | '
                     f'{100 * np.median(e[False]):.2f} ({len(e[False])}) |')
    return '\n'.join(lines)


NEAR = 0.055          # m: pusher centre to block centre where they can touch
TOUCH = 0.065         # m: block centres where two blocks can touch


def contacts(episodes) -> dict:
    """Return the counts of ``--contacts`` (module docstring) over ``episodes``."""
    out = dict.fromkeys(('commanded', 'stalled', 'stalled at a block', 'at a chain'), 0)
    for ep in episodes:
        n = len(ep.actions)
        want = np.linalg.norm(ep.actions, axis=1) * ep.dt
        moved = np.linalg.norm(ep.ee_xy[1:n + 1] - ep.ee_xy[:n], axis=1)
        big = want > 0.005
        stalled = big & (moved < 0.5 * want)
        xy = ep.block_states[:n, :, :2]
        near = np.linalg.norm(xy - ep.ee_xy[:n, None], axis=-1) < NEAR          # [T, N]
        apart = np.linalg.norm(xy[:, :, None] - xy[:, None], axis=-1) \
            + np.eye(xy.shape[1]) * 9.0
        inside = (np.abs(ep.ee_xy[1:n + 1]) <= 0.225).all(1)
        out['commanded'] += int(big.sum())
        out['stalled'] += int(stalled.sum())
        out['stalled at a block'] += int((stalled & near.any(1) & inside).sum())
        out['at a chain'] += int((big & (near & (apart.min(-1) < TOUCH)).any(1)).sum())
    return out


def table(results: dict, horizons) -> str:
    """Return the figures as a markdown table."""
    lines = ['| model | horizon | T error (cm, moved) | yaw error (deg, turned >15) | '
             'PSNR (dB) | T split / dropped (%) | pusher error (cm) | starts / moved / '
             'turned |', '|---|---|---|---|---|---|---|---|']
    for name, per in results.items():
        for h in horizons:
            f = per[h]
            lines.append(f"| {name} | {h} | {f['err']:.2f} | {f['yaw']:.1f} | "
                         f"{f['psnr']:.1f} | {f['split']:.1f} / {f['drop']:.1f} | "
                         f"{f['ee']:.2f} | {f['n']} / {f['n_moved']} / {f['n_turned']} |")
    return '\n'.join(lines)


def main(argv=None) -> int:
    """Print the open-loop table of ``--model`` directories on ``--data``."""
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--data', required=True, nargs='+',
                    help='held-out wm-ros collect --robot pusht dir (--contacts: several)')
    ap.add_argument('--model', action='append', default=[], help='model directory')
    ap.add_argument('--scene', help='free-slot model whose learned scene measures the T')
    ap.add_argument('--horizons', default='1,8,16')
    ap.add_argument('--stride', type=int, default=4)
    ap.add_argument('--backend', default='torch')
    ap.add_argument('--stalls', action='store_true', help='the pusher where it stalled')
    ap.add_argument('--no-last-pose', action='store_true',
                    help='encode from the frame and pose alone (the pusher starts at rest)')
    ap.add_argument('--contacts', action='store_true',
                    help='count stalls and chained contacts in labelled recordings (no model)')
    args = ap.parse_args(argv)
    if args.contacts:
        print('| data | commanded steps | stalled | stalled at a block, inside the edges | '
              'pusher at a block that touches another |\n|---|---|---|---|---|')
        for d in args.data:
            c = contacts(iter_episodes(d))
            print(f"| {d} | {' | '.join(str(v) for v in c.values())} |")
        return 0
    if not args.model or len(args.data) != 1:
        print('give one --data dir and at least one --model', file=sys.stderr)
        return 2
    args.data = args.data[0]
    horizons = [int(h) for h in args.horizons.split(',')]
    t0 = time.time()
    models = {Path(m).name: load_runtime(m, args.backend) for m in args.model}
    if args.stalls:
        print(stalls(models, list(iter_episodes(args.data))))
        return 0
    scene = args.scene or next((m for m, rt in zip(args.model, models.values())
                                if isinstance(getattr(rt, 'cfg', None),
                                              free_slots.FreeSlotsConfig)), None)
    if scene is None:
        print('no free-slot model to learn the scene from: pass --scene', file=sys.stderr)
        return 2
    measure = Measure(free_slots.FILES.config_of(free_slots.FILES.read_metadata(scene)))
    episodes = list(iter_episodes(args.data))
    results = evaluate(models, episodes, measure, horizons, args.stride,
                       not args.no_last_pose)
    print(table(results, horizons))
    print(f'\n{len(episodes)} episodes, stride {args.stride}, scene from {scene}, '
          f'{time.time() - t0:.0f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
