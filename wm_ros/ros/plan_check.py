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
``wm-ros eval plan-graph``: run the ROS ``plan`` graph on tabletop scenes, one run each.

The graph (``sim_robot``, ``world_model`` in shadow mode, ``planner``) runs as separate
processes over DDS, as ``wm-ros up plan`` starts it, so the planner sees frames that lag
its commands as on a robot. A probe records the planner's status (``plan/subgoals``) and
the tabletop's own verdict (``task/success``) until the planner says done, failed or
refused, or ``limit_s`` passes. Per run: the physics' success and when, the planner's
verdict, re-decompositions, steps a block was lost, plans made from the belief.
"""

from __future__ import annotations

import json
from pathlib import Path
import time

from std_msgs.msg import Bool, String

from wm_ros.ros.bringup import Bringup
from wm_ros.ros.common import LATCHED_QOS, STATE_QOS
from wm_ros.ros.probe import Probe


def _status(probe: Probe) -> dict:
    msg = probe.last('plan/subgoals')
    return json.loads(msg.data) if msg is not None else {}


def run_once(task: str, seed: int, limit_s: float, log_dir: Path, index: int = 0) -> dict:
    """Start the graph on one tabletop scene; return what happened."""
    graph = Bringup('plan', overrides={'sim_robot': {'seed': seed, 'task': task}},
                    log_dir=log_dir)
    probe = Probe(f'plan_check_{index}')
    probe.subscribe(String, 'plan/subgoals', LATCHED_QOS)
    probe.subscribe(Bool, 'task/success', STATE_QOS)
    try:
        graph.start()
        t0 = time.monotonic()
        probe.spin(limit_s, lambda: any(_status(probe).get(k)
                                        for k in ('done', 'failed', 'refused')))
        probe.spin(1.0)                        # the tabletop's verdict on the last action
        status = _status(probe)
        success = [(t, m.data) for t, m in probe.msgs['task/success']]
        first = next((t for t, ok in success if ok), None)
        return {'task': task, 'seed': seed, 'success': bool(success and success[-1][1]),
                'success_s': round(first - t0, 1) if first is not None else None,
                'planner': ('done' if status.get('done') else 'failed' if status.get('failed')
                            else 'refused' if status.get('refused') else 'running'),
                'retries': status.get('retries'), 'lost': status.get('lost'),
                'believed': status.get('believed'), 'plans': status.get('plans'),
                'message': status.get('message', ''), 'wall_s': round(time.monotonic() - t0, 1)}
    finally:
        probe.close()
        graph.stop()


def run(task: str, seeds: list[int], limit_s: float, out: str | Path) -> dict:
    """Run the graph once per seed; return ``{'runs': [...], 'success': n, 'n': N}``."""
    rows = []
    for i, seed in enumerate(seeds):
        rows.append(run_once(task, seed, limit_s, Path(out) / 'logs' / f'{i}_seed{seed}', i))
        r = rows[-1]
        print(f'seed {seed}: tabletop {"success" if r["success"] else "FAILURE"}'
              f' ({r["success_s"]} s), planner {r["planner"]}, lost {r["lost"]}, '
              f'believed {r["believed"]}, retries {r["retries"]}', flush=True)
    report = {'task': task, 'seeds': seeds, 'limit_s': limit_s, 'runs': rows,
              'n': len(rows), 'success': sum(r['success'] for r in rows)}
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / 'plan_graph.json').write_text(json.dumps(report, indent=1))
    return report
