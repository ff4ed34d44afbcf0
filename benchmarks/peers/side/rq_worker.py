"""An RQ worker with the job's modules imported up front, as NetBox's `rqworker` has Django and
its apps loaded before it forks a work horse per job (run in benchmarks/peers/.venv-rq).

    python rq_worker.py REDIS_URL QUEUE
"""

from __future__ import annotations

import sys

import netbox_job  # noqa: F401 (imported before the forks, not in each work horse)
from redis import Redis
from rq import Queue, Worker

if __name__ == "__main__":
    url, queue = sys.argv[1:3]
    connection = Redis.from_url(url)
    Worker([Queue(queue, connection=connection)], connection=connection).work(
        logging_level="WARNING"
    )
