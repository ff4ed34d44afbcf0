"""The dashboard: delivery volume and latency over a chosen window (1 h, 24 h, 7 d), queue
depth, and what needs a look (disabled webhooks, failures grouped by cause)."""

from __future__ import annotations

import time

from fastapi import Request
from starlette.responses import Response

from hookhub.db.tables import webhooks
from hookhub.ui import charts
from hookhub.ui.web import User, page_router, render, store_of

router = page_router()

FAILURE_GROUPS = 10  # groups of failed deliveries listed


@router.get("/")
async def dashboard(request: Request, _: User, window: str = charts.DEFAULT_WINDOW) -> Response:
    store, now = store_of(request), time.time()
    shown = charts.WINDOWS.get(window, charts.WINDOWS[charts.DEFAULT_WINDOW])
    since = now - shown.seconds
    activity = store.activity
    counts = await activity.attempts_per_bucket(since, shown.bucket)
    samples = await activity.latencies(since)
    disabled, _more = await store.page(webhooks, {"enabled": False}, None, 20)
    hooks, _more = await store.page(webhooks, {}, None, 500)
    durations = [ms for _, ms in samples]
    return render(
        request,
        "dashboard.html",
        window=shown,
        windows=charts.WINDOWS,
        throughput=charts.throughput(counts, now, shown),
        latency=charts.latency(samples, now, shown),
        totals={"ok": sum(c[1] for c in counts), "failed": sum(c[2] for c in counts)},
        p50=charts.percentile(durations, 0.5) if durations else None,
        p95=charts.percentile(durations, 0.95) if durations else None,
        depth=await store.queue_depth(now),
        disabled=disabled,
        failures=await activity.failure_groups(since, FAILURE_GROUPS),
        names={hook["id"]: hook["name"] for hook in hooks},
    )
