"""The dashboard: delivery volume and latency over 24 hours, queue depth, what needs a look."""

from __future__ import annotations

import time

from fastapi import Request
from starlette.responses import Response

from hookhub.api.v1 import deliveries as deliveries_api
from hookhub.db.tables import deliveries, webhooks
from hookhub.ui import charts, data
from hookhub.ui.web import User, page_router, render, store_of

router = page_router()

DAY = 86400.0  # seconds


@router.get("/")
async def dashboard(request: Request, _: User) -> Response:
    store, now = store_of(request), time.time()
    counts = await data.attempts_per_minute(store, now - DAY)
    samples = await data.recent_latencies(store, now - DAY)
    disabled, _more = await store.page(webhooks, {"enabled": False}, None, 20)
    failures, _more = await store.page(deliveries, {"status": "failed"}, None, 10)
    hooks, _more = await store.page(webhooks, {}, None, 500)
    durations = [ms for _, ms in samples]
    return render(
        request,
        "dashboard.html",
        throughput=charts.throughput(counts, now),
        latency=charts.latency(samples, now),
        totals={"ok": sum(c[1] for c in counts), "failed": sum(c[2] for c in counts)},
        p50=charts.percentile(durations, 0.5) if durations else None,
        p95=charts.percentile(durations, 0.95) if durations else None,
        depth=await store.queue_depth(now),
        disabled=disabled,
        failures=[deliveries_api.public(row) for row in failures],
        names={hook["id"]: hook["name"] for hook in hooks},
    )
