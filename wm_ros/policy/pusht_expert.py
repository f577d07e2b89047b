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
Scripted PushT behaviours on the true state: the expert, a noisy expert, exploration.

The expert (:class:`PushTController`) reads the pusher and the T's pose (centroid and
yaw, :meth:`~wm_ros.sim.pusht.PushTEnv.block_states`) and picks, among contact points
along the T's outline, the push that lowers the pose error fastest: the error is
``|centroid - goal|^2 + 2 (1 - cos(yaw - goal yaw)) rho^2`` (the mean squared distance
between the T's points and the goal's, ``rho`` the T's radius of gyration about its
centroid) and a push's effect is predicted from gym-pusht's physics, a frictionless
contact on a body that stops when not pushed (impulse along the contact normal, mass 1,
moment 3000 px^2). It walks around the T on a circle to the staging point behind that
contact, then pushes, slowing down as the error shrinks, and switches contact once the
push stops helping. It is a reference, not a good PushT policy: docs/results/pusht.md
has its success rate.

``noisy`` adds Gaussian action noise (0.3 x max speed) and random bursts (probability
0.08 per step, 2-5 steps of a random velocity); ``explore`` is an Ornstein-Uhlenbeck
velocity drawn toward the T half the time, so collected data covers contact. Each row
draws from its own generator seeded with its episode's ``policy_seed``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wm_ros.sim.pusht import (INNER_PX, PUSHER_RADIUS_PX, T_CENTROID_PX, T_COG_PX,
                              T_MOMENT_PX2, T_POLYGONS_PX, WORKSPACE_PX, wrap)

KINDS = ('expert', 'noisy', 'explore')
# outline of the T (px, y down, body frame): corners in order, and which are concave
OUTLINE_PX = ((-60, 0), (60, 0), (60, 30), (15, 30), (15, 120), (-15, 120), (-15, 30),
              (-60, 30))
CONCAVE = (3, 6)
GAP_PX = 4.0              # staging point this far off the T, beyond the pusher's radius
SPACING_PX = 6.0          # contact candidates along each edge


class _Geometry:
    """The T in metres about its centroid (y up), its contacts and its inertia."""

    def __init__(self, board_half: float):
        s = self.m_per_px = 2.0 * board_half / WORKSPACE_PX
        cx, cy = T_CENTROID_PX

        def local(p):
            return np.array([(p[0] - cx) * s, -(p[1] - cy) * s])
        self.rects = []                              # (centre, half size) of bar and stem
        for poly in T_POLYGONS_PX:
            pts = np.array([local(p) for p in poly])
            self.rects.append(((pts.max(0) + pts.min(0)) / 2, (pts.max(0) - pts.min(0)) / 2))
        points, normals = [], []
        n = len(OUTLINE_PX)
        for i in range(n):
            a, b = np.array(OUTLINE_PX[i], float), np.array(OUTLINE_PX[(i + 1) % n], float)
            length = np.linalg.norm(b - a)
            lo = PUSHER_RADIUS_PX + 1 if i in CONCAVE else 4.0
            hi = length - (PUSHER_RADIUS_PX + 1 if (i + 1) % n in CONCAVE else 4.0)
            u = (b - a) / length
            normal = np.array([u[1], -u[0]])         # outward (clockwise in y-down px)
            for t in np.arange(lo, hi + 1e-9, SPACING_PX):
                points.append(local(a + t * u))
                normals.append(np.array([normal[0], -normal[1]]))
        self.points, self.normals = np.array(points), np.array(normals)
        self.cog = local(T_COG_PX)
        self.moment = T_MOMENT_PX2 * s * s
        corners = np.array([local(p) for p in OUTLINE_PX])
        self.radius = float(np.linalg.norm(corners, axis=1).max())
        grid = [local((x, y)) for poly in T_POLYGONS_PX
                for x in np.arange(min(p[0] for p in poly) + 0.5, max(p[0] for p in poly), 1.0)
                for y in np.arange(min(p[1] for p in poly) + 0.5, max(p[1] for p in poly), 1.0)]
        self.rho2 = float(np.mean(np.sum(np.square(grid), 1)))
        self.pusher = PUSHER_RADIUS_PX * s
        self.inner = ((INNER_PX[0] - WORKSPACE_PX / 2) * s, (INNER_PX[1] - WORKSPACE_PX / 2) * s)

    def distance(self, local_points: np.ndarray) -> np.ndarray:
        """Return how far (m) each point is from the T (0 inside); points in the T's frame."""
        out = np.full(len(local_points), np.inf)
        for centre, half in self.rects:
            gap = np.maximum(np.abs(local_points - centre) - half, 0.0)
            out = np.minimum(out, np.linalg.norm(gap, axis=1))
        return out


def _rot(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s], [s, c]])


class PushTController:
    """The PushT expert; ``act(ee_xy, t_pose) -> float32[2]`` velocity in m/s."""

    def __init__(self, goal: np.ndarray, board_half: float = 0.25, max_speed: float = 0.2,
                 control_hz: float = 10.0, gain: float = 2.5, horizon: float = 0.06,
                 overhead: float = 0.03):
        self.geo = _Geometry(board_half)
        self.goal = np.asarray(goal, np.float64)
        self.vmax, self.hz, self.gain = max_speed, control_hz, gain
        self.lengths = np.linspace(0.0, horizon, 25)[1:]     # pushes looked at, m
        self.overhead = overhead                             # m of walking a switch costs
        self.router = _Router(self.geo)
        self.reset()

    @classmethod
    def for_board(cls, board_half: float = 0.25, max_speed: float = 0.2,
                  control_hz: float = 10.0) -> 'PushTController':
        """Return the expert for PushT's goal on a workspace ``2 * board_half`` m across."""
        from wm_ros.sim.pusht import goal_state, PushTConfig
        return cls(goal_state(PushTConfig(board_half=board_half)), board_half, max_speed,
                   control_hz)

    def reset(self) -> None:
        """Forget the contact being worked on."""
        self.current, self.pushing, self.steps_on = -1, False, 0
        self.clock, self.banned = 0, {}

    def error(self, pose: np.ndarray) -> np.ndarray:
        """Return how far (m^2) the T at ``pose`` float[..., 3] is from the goal pose."""
        d = pose[..., :2] - self.goal[:2]
        return np.sum(d * d, -1) + wrap(pose[..., 2] - self.goal[2]) ** 2 * self.geo.rho2

    def motions(self, pose: np.ndarray) -> np.ndarray:
        """Return the predicted (dx, dy, dyaw) of the T per metre pushed, per contact [K, 3]."""
        g, rot = self.geo, _rot(pose[2])
        r = (g.points - g.cog) @ rot.T                 # contact relative to the centre of mass
        d = -g.normals @ rot.T                         # push direction, into the T
        cross = r[:, 0] * d[:, 1] - r[:, 1] * d[:, 0]
        k = 1.0 / (1.0 + cross ** 2 / g.moment)        # mass 1: impulse per metre pushed
        omega = k * cross / g.moment
        to_centroid = -g.cog @ rot.T
        v = k[:, None] * d + omega[:, None] * np.array([-to_centroid[1], to_centroid[0]])
        return np.concatenate([v, omega[:, None]], 1)

    def act(self, ee_xy, t_pose) -> np.ndarray:
        """Return the velocity (m/s) for the pusher at ``ee_xy`` and the T at ``t_pose``."""
        ee, pose = np.asarray(ee_xy, np.float64), np.asarray(t_pose, np.float64).reshape(-1)
        pose[2] = float(wrap(pose[2]))
        errors = self.error(pose + self.lengths[None, :, None] *
                            self.motions(pose)[:, None, :])          # [K, lengths]
        best = np.argmin(errors, 1)
        gain = self.error(pose) - errors[np.arange(len(best)), best]
        push = self.lengths[best]
        gain[~self._reachable(pose)] = 0.0
        self._choose(gain, push, self._travel(ee, pose))
        if self.current < 0:
            return np.zeros(2, np.float32)
        g, rot = self.geo, _rot(pose[2])
        contact = pose[:2] + rot @ g.points[self.current]
        normal = rot @ g.normals[self.current]
        staging = contact + normal * (g.pusher + GAP_PX * g.m_per_px)
        if self.pushing or np.linalg.norm(ee - staging) < 3 * g.m_per_px:
            self.pushing = True
            step = min(self.vmax / self.hz, max(push[self.current], 0.5 * g.m_per_px))
            aim = contact + normal * g.pusher       # keep on the contact line while pushing
            lateral = (aim - ee) - ((aim - ee) @ normal) * normal
            target = ee - normal * step + lateral
        else:
            target = self._waypoint(ee, pose, staging)
        self.steps_on += 1
        self.clock += 1
        v = (target - ee) * self.hz * self.gain
        return np.clip(v, -self.vmax, self.vmax).astype(np.float32)

    def _travel(self, ee: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """Return about how far the pusher walks to each contact's staging point (m)."""
        g, rot = self.geo, _rot(pose[2])
        staging = (g.points + g.normals * (g.pusher + GAP_PX * g.m_per_px)) @ rot.T
        here = ee - pose[:2]
        ring = g.radius + g.pusher
        turn = np.abs(wrap(np.arctan2(staging[:, 1], staging[:, 0]) -
                           np.arctan2(here[1], here[0])))
        around = ring * turn + np.abs(np.linalg.norm(staging, axis=1) - np.linalg.norm(here))
        return np.minimum(np.linalg.norm(staging - here, axis=1), around)

    def _reachable(self, pose: np.ndarray) -> np.ndarray:
        """Return which contacts have their staging point inside the walls."""
        g = self.geo
        rot = _rot(pose[2])
        staging = pose[:2] + (g.points + g.normals * (g.pusher + GAP_PX * g.m_per_px)) @ rot.T
        return np.all((staging > g.inner[0]) & (staging < g.inner[1]), axis=1)

    def _choose(self, gain: np.ndarray, push: np.ndarray, travel: np.ndarray) -> None:
        """Take the contact with the most error removed per metre walked and pushed."""
        cur = self.current
        if cur >= 0 and self.pushing:
            travel[cur] = 0.0
        score = np.where(gain > 0, gain / (travel + push + self.overhead), 0.0)
        best = int(np.argmax(score))
        if not score[best] > 0:
            self.current, self.pushing = -1, False
            return
        if cur >= 0 and self.steps_on >= (60 if self.pushing else 40):
            self.banned[cur] = self.clock + 30   # stuck on it: try others for 30 steps
        score[[i for i, until in self.banned.items() if until > self.clock]] = 0.0
        best = int(np.argmax(score))
        keep = cur >= 0 and score[cur] > 0 and score[cur] >= 0.7 * score[best]
        if not keep:
            self.steps_on, self.pushing = 0, False
            self.current = best if score[best] > 0 else -1

    def _waypoint(self, ee: np.ndarray, pose: np.ndarray, staging: np.ndarray) -> np.ndarray:
        """Return where to head for ``staging``: straight if clear, else around the T."""
        g, rot = self.geo, _rot(pose[2])
        path = ee + np.linspace(0.0, 1.0, 24)[:, None] * (staging - ee)
        local = (path - pose[:2]) @ rot
        if np.all(g.distance(local[:-1]) > g.pusher + 1.0 * g.m_per_px):
            return staging
        return self.router.waypoint(ee, pose, staging, self.current)


class _Router:
    """Shortest paths around the T on a grid of the workspace (a wavefront from the goal)."""

    def __init__(self, geo: _Geometry, cell_px: float = 8.0):
        self.geo = geo
        self.cell = cell_px * geo.m_per_px
        self.n = int(WORKSPACE_PX / cell_px)
        centres = (np.arange(self.n) + 0.5) * self.cell - self.n * self.cell / 2
        self.xy = np.stack(np.meshgrid(centres, centres, indexing='ij'), -1).reshape(-1, 2)
        inner = (self.xy > geo.inner[0]) & (self.xy < geo.inner[1])
        self.walls = np.all(inner, 1).reshape(self.n, self.n)
        self.key, self.field = None, None

    def waypoint(self, ee, pose, goal, key) -> np.ndarray:
        """Return a point a few cells along the shortest free path from ``ee`` to ``goal``."""
        goal_cell = self._cell(goal)
        stamp = (key, goal_cell)
        if stamp != self.key:
            self.key, self.field = stamp, self._wavefront(pose, goal_cell)
        field = self.field
        i, j = self._cell(ee)
        if not np.isfinite(field[i, j]):            # inside the T's margin: step to the nearest
            near = np.argwhere(np.isfinite(field))
            if not len(near):
                return goal
            i, j = near[np.argmin(np.abs(near - [i, j]).sum(1))]
            return self.xy[i * self.n + j]
        for _ in range(3):
            window = field[max(i - 1, 0):i + 2, max(j - 1, 0):j + 2]
            di, dj = np.unravel_index(np.argmin(window), window.shape)
            i, j = max(i - 1, 0) + di, max(j - 1, 0) + dj
        return goal if field[i, j] == 0 else self.xy[i * self.n + j]

    def _cell(self, xy) -> tuple[int, int]:
        ij = np.floor((np.asarray(xy) + self.n * self.cell / 2) / self.cell).astype(int)
        return tuple(np.clip(ij, 0, self.n - 1))

    def _wavefront(self, pose, goal_cell) -> np.ndarray:
        g = self.geo
        local = (self.xy - pose[:2]) @ _rot(pose[2])
        free = self.walls & (g.distance(local) > g.pusher + 6 * g.m_per_px).reshape(self.n, self.n)
        free[goal_cell] = True
        field = np.full((self.n, self.n), np.inf)
        field[goal_cell] = 0.0
        for _ in range(4 * self.n):
            padded = np.pad(field, 1, constant_values=np.inf)
            best = np.min([padded[1 + a:1 + a + self.n, 1 + b:1 + b + self.n]
                           for a in (-1, 0, 1) for b in (-1, 0, 1)], axis=0) + 1.0
            new = np.where(free, np.minimum(field, best), np.inf)
            if np.array_equal(new, field):
                break
            field = new
        return field


class PushTBehaviour:
    """One episode's scripted PushT behaviour ``kind`` (module docstring)."""

    def __init__(self, kind: str, rng: np.random.Generator, board_half: float = 0.25,
                 max_speed: float = 0.2, control_hz: float = 10.0):
        if kind not in KINDS:
            raise ValueError(f'unknown PushT behaviour {kind!r}; choose one of {list(KINDS)}')
        self.kind, self.rng, self.vmax = kind, rng, max_speed
        self.expert = PushTController.for_board(board_half, max_speed, control_hz)
        self.burst, self.burst_left = np.zeros(2), 0
        self.velocity, self.drawn = np.zeros(2), False

    def act(self, ee_xy: np.ndarray, t_pose: np.ndarray) -> np.ndarray:
        """Return the action (m/s) for the pusher at ``ee_xy`` and the T at ``t_pose``."""
        if self.kind == 'explore':
            if self.rng.random() < 0.05 or not self.velocity.any():
                self.drawn = bool(self.rng.random() < 0.5)
            pull = np.zeros(2)
            if self.drawn:
                d = np.asarray(t_pose, np.float64)[:2] - ee_xy
                pull = 0.7 * self.vmax * d / max(np.linalg.norm(d), 1e-6)
            self.velocity = 0.7 * self.velocity + 0.3 * (pull + self.rng.normal(0, self.vmax, 2))
            return np.clip(self.velocity, -self.vmax, self.vmax).astype(np.float32)
        a = self.expert.act(ee_xy, t_pose)
        if self.kind == 'expert':
            return a
        if self.burst_left == 0 and self.rng.random() < 0.08:
            self.burst = self.rng.uniform(-self.vmax, self.vmax, 2)
            self.burst_left = int(self.rng.integers(2, 6))
        if self.burst_left > 0:
            self.burst_left -= 1
            return self.burst.astype(np.float32)
        return np.clip(a + self.rng.normal(0, 0.3 * self.vmax, 2), -self.vmax,
                       self.vmax).astype(np.float32)


class PushTScripted:
    """Behaviour ``kind`` on every row, as a batched :class:`~wm_ros.policy.base.Policy`."""

    def __init__(self, kind: str, board_half: float = 0.25, max_speed: float = 0.2,
                 control_hz: float = 10.0):
        if kind not in KINDS:
            raise ValueError(f'unknown PushT behaviour {kind!r}; choose one of {list(KINDS)}')
        self.kind, self.limits = kind, (board_half, max_speed, control_hz)
        self.rows: list[PushTBehaviour] = []

    def reset(self, episodes: Sequence) -> None:
        """Start one behaviour per episode, seeded with its ``policy_seed``."""
        self.rows = [PushTBehaviour(self.kind, np.random.default_rng(e.policy_seed),
                                    *self.limits) for e in episodes]

    def act(self, observations) -> np.ndarray:
        """Return each row's action from its pusher and the T's true pose."""
        if observations.block_xy is None or observations.block_yaw is None:
            raise ValueError("the PushT behaviours read the T's pose (block_xy, block_yaw) "
                             'from the simulator; these observations have none (not PushT)')
        out = np.zeros((len(observations), 2), np.float32)
        for i, row in enumerate(observations.rows):
            pose = np.array([*observations.block_xy[i][0], observations.block_yaw[i][0]])
            out[i] = self.rows[row].act(np.asarray(observations.ee_xy[i], np.float64), pose)
        return out
