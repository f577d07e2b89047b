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

"""What every family's ``torch`` backend shares: the network on its device, limits, spec."""

from __future__ import annotations

import numpy as np
import torch

from wm_ros.runtime.base import CheckedRuntime, StateSpec


class TorchModelRuntime(CheckedRuntime):
    """
    A family's network run eagerly with torch (CPU or CUDA), in eval mode.

    The image size, control rate and speed limit come from the network's ``cfg``, the
    state spec from the family's ``state_spec(cfg)``; ``threads`` sets torch's CPU threads.
    """

    backend = 'torch'

    def __init__(self, model: torch.nn.Module, state_spec: dict, device: str = 'cpu',
                 threads: int | None = None):
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        if threads:
            torch.set_num_threads(threads)
        self.cfg = cfg = model.cfg
        self.image_size, self.control_hz, self.max_speed = (cfg.image_size, cfg.control_hz,
                                                            cfg.max_speed)
        self.state_spec = StateSpec.from_metadata({'state': state_spec})

    def _tensors(self, *arrays) -> tuple[torch.Tensor, ...]:
        """Return ``arrays`` as tensors on the runtime's device."""
        return tuple(torch.as_tensor(np.asarray(a), device=self.device) for a in arrays)
