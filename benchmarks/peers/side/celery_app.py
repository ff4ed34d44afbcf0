"""The Celery app of the peer benchmark: one task, NetBox's delivery (netbox_job.deliver).

Runs in benchmarks/peers/.venv-celery; the broker is HOOKHUB_PEER_BROKER (Redis by default).
"""

from __future__ import annotations

import os
from typing import Any

import netbox_job
from celery import Celery

app = Celery(
    "hookhub_peer", broker=os.environ.get("HOOKHUB_PEER_BROKER", "redis://127.0.0.1:6379/0")
)
app.conf.update(task_ignore_result=True, worker_hijack_root_logger=False)


@app.task(name="deliver")
def deliver(url: str, context: dict[str, Any]) -> int:
    return netbox_job.deliver(url, context)
