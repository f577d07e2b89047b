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
Pure-numpy image comparison, shared by the offline evaluation and the live comparator node.

Kept free of heavy imports (no scipy): the ``comparator`` node imports it at start-up.
"""

from __future__ import annotations

import numpy as np

# the cap of the offline metrics: a mean squared error below 1e-3 counts as 1e-3
PSNR_CAP_DB = 10 * float(np.log10(255.0 ** 2 / 1e-3))


def psnr(a: np.ndarray, b: np.ndarray, max_db: float = PSNR_CAP_DB) -> np.ndarray:
    """
    Return the PSNR (dB) per image of uint8 batches ``[B, H, W, 3]``, at most ``max_db``.

    Identical images score ``max_db`` (JSON has no infinity).
    """
    mse = ((a.astype(np.float32) - b.astype(np.float32)) ** 2).mean(axis=(1, 2, 3))
    floor = 255.0 ** 2 / 10 ** (max_db / 10)
    return np.minimum(10 * np.log10(255.0 ** 2 / np.maximum(mse, floor)), max_db)
