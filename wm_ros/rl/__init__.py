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
Policy optimisation inside a world model (``wm-ros rl``): the layer above ``plan``.

* :mod:`wm_ros.rl.config`: :class:`~wm_ros.rl.config.RLConfig` (``config/rl.yaml``);
* :mod:`wm_ros.rl.starts`: start frames (recorded episodes or bags, first frames only, or
  sampled tabletop starts' first frames);
* :mod:`wm_ros.rl.actor`: the Gaussian action head around a policy directory's network;
* :mod:`wm_ros.rl.rollouts`: groups of imagined rollouts through the one episode driver,
  judged, and weighted by how sure the world model is of them;
* :mod:`wm_ros.rl.grpo`: group-relative advantages and the clipped update;
* :mod:`wm_ros.rl.trainer`: the loop (progress bar, checkpoints, resume, the output
  policy directory).
"""
