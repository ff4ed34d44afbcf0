"""Enqueue `count` NetBox-style deliveries on a peer's queue (run in the peer's virtualenv).

python enqueue.py rq|celery QUEUE URL COUNT BROKER
"""

from __future__ import annotations

import sys
import uuid


def contexts(count: int) -> list[dict[str, object]]:
    """One event context per delivery, like the `data` of benchmarks/outbound.py's events."""
    return [
        {
            "event": "updated",
            "model": "dcim.device",
            "timestamp": "2025-01-01T00:00:00.000000+00:00",
            "username": "bench",
            "delivery_id": str(uuid.uuid4()),
            "data": {
                "id": i,
                "name": f"sw-{i:06d}",
                "status": {"value": "active", "label": "Active"},
                "site": {"id": 3, "slug": "ams1"},
                "role": {"slug": "access"},
                "serial": f"SN{i:08d}",
                "tags": [{"slug": "bench"}],
            },
        }
        for i in range(count)
    ]


def main() -> None:
    kind, queue, url, count, broker = sys.argv[1:6]
    if kind == "rq":
        from redis import Redis
        from rq import Queue

        jobs = Queue(queue, connection=Redis.from_url(broker))
        for context in contexts(int(count)):
            jobs.enqueue("netbox_job.deliver", url, context)
    else:
        from celery_app import deliver

        for context in contexts(int(count)):
            deliver.apply_async((url, context), queue=queue)


if __name__ == "__main__":
    main()
