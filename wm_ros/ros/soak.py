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
``wm-ros soak``: run the shadow graph for N minutes under load and report it per minute.

The graph (``sim_robot``, ``expert_driver``, ``world_model`` in shadow mode, ``comparator``)
runs as separate processes; a probe asks the world model to re-encode from the real frame
(``world_model/reset_from_real``) at ``RESET_HZ`` and records both image streams. Per
minute: each node's resident memory, the real and imagined frame rates, real frames that
got no imagined twin (dropped), and the latency from a real frame to the imagined frame
with the same stamp (p50, p99). RSS growth is the last minute against the first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import json
import math
from pathlib import Path
import time

import numpy as np
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger

from wm_ros.ros.bringup import Bringup
from wm_ros.ros.common import SENSOR_QOS
from wm_ros.ros.messages import stamp_ns
from wm_ros.ros.probe import Probe

RESET_HZ = 30.0
READY_S = 120.0


@dataclass
class Minute:
    """What one minute of the soak looked like."""

    minute: int
    rss_mb: dict
    real_hz: float
    imagined_hz: float
    dropped: int
    latency_p50_ms: float
    latency_p99_ms: float
    resets: int
    resets_failed: int


def rss_mb(pid: int) -> float:
    """Return the resident memory of process ``pid`` in MB (NaN where /proc is missing)."""
    try:
        for line in Path(f'/proc/{pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return math.nan


def _minute(index: int, probe: Probe, graph: Bringup, seconds: float, resets: list) -> Minute:
    real = {stamp_ns(m.header.stamp): t for t, m in probe.msgs['camera/image_raw']}
    imagined = {stamp_ns(m.header.stamp): t for t, m in probe.msgs['imagined/camera/image_raw']}
    # the newest real frames may still be in flight: judge only those 1 s old or older
    settled = [s for s, t in real.items() if t < time.monotonic() - 1.0]
    latency = [(imagined[s] - real[s]) * 1000 for s in settled if s in imagined]
    dropped = sum(1 for s in settled if s not in imagined)
    pct = np.percentile(latency, [50, 99]) if latency else [math.nan, math.nan]
    return Minute(index, {n: round(rss_mb(p.pid), 1) for n, p in graph.procs.items()},
                  round(len(real) / seconds, 2), round(len(imagined) / seconds, 2), dropped,
                  round(float(pct[0]), 2), round(float(pct[1]), 2),
                  sum(1 for f in resets if f.done()),
                  sum(1 for f in resets if f.done() and not f.result().success))


def soak(minutes: float, log_dir: str | Path, minute_s: float = 60.0) -> dict:
    """Run the soak; return ``{'minutes': [...], 'rss_growth_pct': {...}, ...}``."""
    probe = Probe('soak_probe')
    for topic in ('camera/image_raw', 'imagined/camera/image_raw'):
        probe.subscribe(Image, topic, SENSOR_QOS)
    client = probe.node.create_client(Trigger, 'world_model/reset_from_real')
    graph = Bringup('shadow', log_dir=log_dir).start()
    rows: list[Minute] = []
    try:
        if not probe.spin(READY_S, lambda: probe.msgs['imagined/camera/image_raw']) or \
                not client.wait_for_service(timeout_sec=READY_S):
            raise RuntimeError(f'the shadow graph did not come up; logs in {log_dir}')
        end = time.monotonic() + minutes * 60.0
        while time.monotonic() < end and all(graph.alive().values()):
            start, resets = time.monotonic(), []
            for topic in probe.msgs:
                probe.msgs[topic].clear()
            while time.monotonic() - start < min(minute_s, end - start):
                if len(resets) < (time.monotonic() - start) * RESET_HZ:
                    resets.append(client.call_async(Trigger.Request()))
                probe.spin(0.5 / RESET_HZ)
            probe.spin(1.0)                  # let the last frames and replies arrive
            rows.append(_minute(len(rows) + 1, probe, graph, time.monotonic() - start, resets))
        dead = [n for n, ok in graph.alive().items() if not ok]
    finally:
        graph.stop()
        probe.close()
    first, last = rows[0].rss_mb, rows[-1].rss_mb
    growth = {n: round(100.0 * (last[n] - first[n]) / first[n], 2) for n in first}
    return {'minutes': [asdict(r) for r in rows], 'rss_growth_pct': growth,
            'dropped': sum(r.dropped for r in rows),
            'latency_p99_ms': max(r.latency_p99_ms for r in rows), 'dead': dead}


def table(report: dict) -> str:
    """Return the per-minute rows and the summary as Markdown."""
    lines = ['| minute | RSS MB (per node) | real Hz | imagined Hz | dropped | latency p50 / '
             'p99 ms | resets (failed) |', '|---|---|---|---|---|---|---|']
    for r in report['minutes']:
        rss = ', '.join(f'{n} {v:.0f}' for n, v in r['rss_mb'].items())
        lines.append(f'| {r["minute"]} | {rss} | {r["real_hz"]} | {r["imagined_hz"]} | '
                     f'{r["dropped"]} | {r["latency_p50_ms"]} / {r["latency_p99_ms"]} | '
                     f'{r["resets"]} ({r["resets_failed"]}) |')
    lines.append(f'\nRSS growth % (last minute vs first): {report["rss_growth_pct"]}; dropped '
                 f'{report["dropped"]}; worst p99 {report["latency_p99_ms"]} ms; nodes that '
                 f'died: {report["dead"] or "none"}')
    return '\n'.join(lines)


def write(report: dict, out: str | Path) -> Path:
    """Write ``soak.json`` into ``out``; return its path."""
    path = Path(out) / 'soak.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    return path
