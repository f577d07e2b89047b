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
``wm-ros bench evaluate``: one evaluation suite in imagination and on the tabletop, timed.

The suite (policies x task families x episodes) runs once on the tabletop (a process per
core) and once in the world model (every episode of a policy as one batch, ONNX Runtime on
every core), in the same run. Prints both wall times, their ratio, and the ratio to the
time a real robot at 10 Hz would take for the same tabletop steps, then where the
imagination's time went (policies, world model, reward model, imagined-state judge) and
the ceiling the policies alone set: both worlds run the same policy networks, so even a
world model and judges that cost nothing could not make imagination faster than the
tabletop time over the policies' own time.
"""

from __future__ import annotations

import os


def main(model: str, reward: str, policies: tuple[str, ...], episodes: int = 8) -> dict:
    """Run the suite and print the side-by-side figures; return them."""
    from wm_ros.evaluate.evaluator import EvalConfig, evaluate
    config = EvalConfig(policies=policies, episodes=episodes, workers=os.cpu_count() or 1)
    t = evaluate(config, model, reward, progress=False)['timing']
    robot_s = t['tabletop_steps'] / 10.0
    rows = {'episodes': len(policies) * len(config.tasks) * episodes,
            'tabletop_s': t['tabletop_s'], 'imagine_s': t['imagine_s'],
            'tabletop_steps': t['tabletop_steps'], 'imagined_steps': t['imagined_steps'],
            'imagination_vs_tabletop': t['tabletop_s'] / t['imagine_s'],
            'imagination_vs_real_time': robot_s / t['imagine_s']}
    print(f'suite: {len(policies)} policies x {len(config.tasks)} tasks x {episodes} episodes '
          f"= {rows['episodes']} episodes; {t['workers']} tabletop processes, "
          f"{t['imagine_threads']} ONNX Runtime threads")
    print(f"tabletop     {t['tabletop_s']:8.1f} s  ({t['tabletop_steps']} steps)")
    print(f"imagination  {t['imagine_s']:8.1f} s  ({t['imagined_steps']} steps, "
          f"{t['imagined_steps'] / t['imagine_s']:.0f} steps/s)")
    print(f"real robot   {robot_s:8.1f} s  (the tabletop's steps at 10 Hz)")
    print(f"imagination is {rows['imagination_vs_tabletop']:.1f}x faster than the tabletop and "
          f"{rows['imagination_vs_real_time']:.0f}x faster than real time")
    parts = t['imagine_parts_s']
    print('imagination by part: ' + ', '.join(
        f'{k} {v:.1f} s ({100 * v / t["imagine_s"]:.0f} %)' for k, v in parts.items()))
    policy_s = max(parts['policy'], 1e-9)
    rows.update(imagine_parts_s=parts, ceiling_vs_tabletop=t['tabletop_s'] / policy_s,
                ceiling_vs_real_time=robot_s / policy_s)
    print(f'ceiling set by the policies alone ({policy_s:.1f} s): '
          f"{rows['ceiling_vs_tabletop']:.1f}x the tabletop, "
          f"{rows['ceiling_vs_real_time']:.0f}x real time, with a free world model and judges")
    return rows
