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
Sampling solvers for model-predictive control: CEM and MPPI over action sequences.

A solver only sees a :class:`Costable`: ``cost(actions float32[N, H, D]) -> float[N]``,
lower is better, so it is tested on toy problems with a known optimum
(``test_plan_solver.py``) and drives the world model through
:class:`~wm_ros.plan.mpc.SubgoalCost` unchanged (the shape of stable-worldmodel's
``Costable``). Every iteration evaluates all candidates in one call: the world model rolls
them out as one batch.

* **CEM** (cross-entropy method): sample ``samples`` sequences from a diagonal Gaussian,
  keep the ``elites`` cheapest, refit mean and standard deviation (smoothed by
  ``momentum``), ``iterations`` times. With ``colored`` > 0 the noise is correlated in
  time (iCEM's coloured noise: pushes are smooth, white noise cancels itself out), and
  the best elites of the last iteration are carried into the next (iCEM's keep-elites).
* **MPPI**: sample around the mean, weight every sample by ``exp(-(cost - min) / temperature)``
  and move the mean to the weighted average.

Both warm-start from the previous plan shifted by the executed steps
(:meth:`Solver.shift`), as receding-horizon control does, and return the best sequence
ever evaluated (not only the final mean).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Costable(Protocol):
    """What a solver minimises: one cost per candidate action sequence."""

    def cost(self, actions: np.ndarray) -> np.ndarray:
        """Return ``float[N]`` for ``actions float32[N, H, D]`` (lower is better)."""


@dataclass(frozen=True)
class SolverConfig:
    """Sampling settings; ``horizon`` steps of ``dim`` actions bounded by ``+-bound``."""

    method: str = 'cem'          # cem | mppi
    horizon: int = 15
    dim: int = 2
    bound: float = 0.2
    samples: int = 256
    elites: int = 24
    iterations: int = 4
    init_std: float = 0.5        # fraction of ``bound``
    min_std: float = 0.05        # fraction of ``bound``
    momentum: float = 0.1        # CEM: weight of the old mean/std in the refit
    colored: float = 2.0         # iCEM noise exponent (0: white noise)
    keep_elites: int = 4         # iCEM: best sequences carried to the next iteration
    temperature: float = 0.1     # MPPI: in units of the cost spread of one iteration
    seed: int = 0

    def __post_init__(self):
        if self.method not in ('cem', 'mppi'):
            raise ValueError(f'unknown solver {self.method!r}; choose cem or mppi')
        if not 1 <= self.elites <= self.samples:
            raise ValueError(f'elites must be in [1, samples={self.samples}], got {self.elites}')
        if self.horizon < 1 or self.iterations < 1 or self.bound <= 0:
            raise ValueError('horizon, iterations and bound must be positive')


def colored_noise(rng: np.random.Generator, exponent: float, shape: tuple[int, ...]
                  ) -> np.ndarray:
    """Return unit-variance noise ``shape = (N, H, D)`` with power spectrum ~ 1/f^exponent."""
    n, h, d = shape
    if exponent <= 0 or h < 2:
        return rng.standard_normal(shape)
    freqs = np.fft.rfftfreq(h)
    scale = np.where(freqs > 0, np.maximum(freqs, 1.0 / h) ** (-exponent / 2), 0.0)
    scale[0] = scale[1]
    spectrum = (rng.standard_normal((n, d, len(freqs)))
                + 1j * rng.standard_normal((n, d, len(freqs)))) * scale
    x = np.fft.irfft(spectrum, n=h, axis=-1)
    return np.transpose(x / (x.std() + 1e-12), (0, 2, 1))


class Solver:
    """CEM / MPPI with a warm start; ``solve(costable) -> (best actions [H, D], info)``."""

    def __init__(self, config: SolverConfig):
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.mean = np.zeros((config.horizon, config.dim), np.float32)
        self.std = np.full_like(self.mean, config.init_std * config.bound)
        self.evaluated = 0

    def reset(self, mean: np.ndarray | None = None):
        """Forget the warm start (optionally start from ``mean [H, D]``)."""
        c = self.config
        self.mean = (np.zeros((c.horizon, c.dim), np.float32) if mean is None
                     else np.asarray(mean, np.float32).reshape(c.horizon, c.dim))
        self.std = np.full_like(self.mean, c.init_std * c.bound)

    def shift(self, steps: int):
        """Drop the ``steps`` executed actions from the warm start (receding horizon)."""
        c = self.config
        steps = min(max(steps, 0), c.horizon)
        self.mean = np.concatenate([self.mean[steps:], np.zeros((steps, c.dim), np.float32)])
        self.std = np.full_like(self.mean, c.init_std * c.bound)

    def _sample(self, n: int) -> np.ndarray:
        c = self.config
        noise = colored_noise(self.rng, c.colored, (n, c.horizon, c.dim))
        x = self.mean[None] + self.std[None] * noise
        return np.clip(x, -c.bound, c.bound).astype(np.float32)

    def solve(self, problem: Costable) -> tuple[np.ndarray, dict]:
        """
        Return the cheapest sequence found ``[H, D]`` and ``{'cost', 'history', ...}``.

        ``info['ranked']`` / ``info['ranked_cost']`` are the last iteration's candidates,
        cheapest first (for a second opinion such as the reward model's).
        """
        c = self.config
        best, best_cost, kept, history = self.mean.copy(), np.inf, None, []
        ranked = ranked_cost = None
        for _ in range(c.iterations):
            x = self._sample(c.samples)
            x[0] = np.clip(self.mean, -c.bound, c.bound)      # the warm start itself
            if kept is not None:
                x[1:1 + len(kept)] = kept
            cost = np.asarray(problem.cost(x), np.float64)
            if cost.shape != (len(x),):
                raise ValueError(f'cost must return float[{len(x)}], got shape {cost.shape}')
            cost = np.where(np.isfinite(cost), cost, np.inf)
            self.evaluated += len(x)
            order = np.argsort(cost)
            if cost[order[0]] < best_cost:
                best, best_cost = x[order[0]].copy(), float(cost[order[0]])
            history.append(float(cost[order[0]]))
            ranked, ranked_cost = x[order], cost[order]
            if c.method == 'cem':
                elite = x[order[:c.elites]]
                a = c.momentum
                self.mean = (a * self.mean + (1 - a) * elite.mean(0)).astype(np.float32)
                std = elite.std(0)
                kept = elite[:c.keep_elites] if c.keep_elites else None
            else:
                finite = np.isfinite(cost)
                spread = max(float(np.ptp(cost[finite])) if finite.any() else 1.0, 1e-9)
                w = np.where(finite, np.exp(-(cost - cost[order[0]]) / (c.temperature * spread)),
                             0.0)
                w /= w.sum()
                self.mean = np.tensordot(w, x, axes=1).astype(np.float32)
                std = np.sqrt(np.tensordot(w, (x - self.mean) ** 2, axes=1))
                kept = None
            self.std = np.maximum(std, c.min_std * c.bound).astype(np.float32)
        return best, {'cost': best_cost, 'history': history, 'evaluated': self.evaluated,
                      'ranked': ranked, 'ranked_cost': ranked_cost}
