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
World-model runtimes: one contract (:mod:`wm_ros.runtime.base`), found by model format.

``load_runtime(model_dir, backend)`` (:mod:`wm_ros.runtime.registry`) reads the model's
``format`` and returns a :class:`~wm_ros.runtime.base.WorldModelRuntime`.
"""

from __future__ import annotations

from wm_ros.runtime.registry import load_runtime, register

__all__ = ['load_runtime', 'register']
