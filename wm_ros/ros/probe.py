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

"""A probe node that records messages per topic (tests, ``wm-ros faults``, ``wm-ros soak``)."""

from __future__ import annotations

import time

import rclpy
from rclpy.node import Node


class Probe:
    """An rclpy node in its own context (and DDS domain, if given), recording messages."""

    def __init__(self, name: str = 'test_probe', domain_id: int | None = None):
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)   # None: ROS_DOMAIN_ID
        self.node = Node(name, context=self.context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.msgs: dict[str, list] = {}

    def subscribe(self, msg_type, topic: str, qos):
        """Record ``(receipt monotonic time, msg)`` of ``topic`` in ``msgs[topic]``."""
        self.msgs[topic] = []
        self.node.create_subscription(
            msg_type, topic, lambda m: self.msgs[topic].append((time.monotonic(), m)), qos)

    def spin(self, seconds: float, until=None) -> bool:
        """Spin for ``seconds`` or until ``until()`` is true; return whether it became true."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.02)
            if until is not None and until():
                return True
        return until is None

    def last(self, topic: str):
        """Return the latest message of ``topic`` or None."""
        return self.msgs[topic][-1][1] if self.msgs[topic] else None

    def close(self):
        """Destroy the node and shut its context down."""
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
