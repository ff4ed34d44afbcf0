"""The dashboard: delivery volume and latency over a chosen window (1 h, 24 h, 7 d), queue
depth, and what needs a look (disabled webhooks, failures grouped by cause)."""

from __future__ import annotations

import time

from fastapi import Request
from starlette.responses import Response

from hookhub.services import activity
from hookhub.ui import charts
from hookhub.ui.web import User, page_router, render, store_of

router = page_router()


@router.get("/")
async def dashboard(request: Request, _: User, window: str = charts.DEFAULT_WINDOW) -> Response:
    now = time.time()
    shown = charts.WINDOWS.get(window, charts.WINDOWS[charts.DEFAULT_WINDOW])
    seen = await activity.since(store_of(request), now - shown.seconds, shown.bucket, now)
    counts, samples = seen.counts, seen.latencies
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
        depth=seen.depth,
        disabled=seen.disabled,
        failures=seen.failures,
        names=seen.names,
    )
