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
The one episode driver: batched environments, policies run from starts, seeds.

* :mod:`~wm_ros.episodes.env`: the batched ``BatchEnv`` protocol, ``Start``, ``Limits``,
  ``EpisodeResult``;
* :mod:`~wm_ros.episodes.driver`: ``run_episodes`` (the one loop), ``Judging``,
  ``PartClock``;
* :mod:`~wm_ros.episodes.tabletop`: the tabletop as a batched env and its process pool
  (``run_on_tabletop``), ``sample_starts``;
* :mod:`~wm_ros.episodes.imagination`: ``ImaginationEnv`` (any world-model family);
* :mod:`~wm_ros.episodes.seeds`: ``episode_seed``, the one seed rule;
* :mod:`~wm_ros.episodes.pool`: ``map_chunks``, the one process fan-out;
* :mod:`~wm_ros.episodes.collect`: data collection through the driver;
* :mod:`~wm_ros.episodes.imagined_env`: ``ImaginedEnv``, one imagined episode behind the
  gymnasium API (for gymnasium tools).

Policies come from :mod:`wm_ros.policy.registry` (:mod:`wm_ros.policy.base`: the batched
``Policy`` protocol).
"""
