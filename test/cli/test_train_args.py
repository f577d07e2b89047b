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


"""How ``wm-ros train`` reads its arguments."""

from wm_ros.cli import parser
from wm_ros.cli.train import _overrides


def test_repeated_set_flags_all_apply():
    """``--set a=1 --set b=2`` keeps both (it once kept only the last, silently)."""
    args = parser().parse_args(['train', 'world-model', '--set', 'steps=300', 'lr=0.001',
                                '--set', 'max_episodes=24', '--out', 'm'])
    assert _overrides(args) == {'steps': 300, 'lr': 0.001, 'max_episodes': 24}
    assert _overrides(parser().parse_args(['train', 'world-model', '--out', 'm'])) == {}
