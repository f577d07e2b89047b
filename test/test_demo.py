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

"""The demo end to end: sim_robot and expert_driver processes over DDS solve a task."""

import imageio.v2 as imageio
import pytest

from wm_ros.ros.demo import run_demo

pytestmark = pytest.mark.ros


def test_demo_solves_task_and_writes_video(tmp_path):
    summary = run_demo(tmp_path, task='block_to_block', seed=2, timeout=40, image_size=64)
    assert summary['success'], summary
    assert 'next to' in summary['instruction'] or 'close to' in summary['instruction'] \
        or 'bring' in summary['instruction']
    frames = imageio.mimread(tmp_path / 'camera.gif')
    assert len(frames) >= 5
    video = imageio.get_reader(tmp_path / 'camera.mp4')
    first = video.get_data(0)
    assert first.shape[:2] == (64, 64)
    assert summary['frames'] >= 10
