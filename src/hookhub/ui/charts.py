"""Server-rendered inline SVG charts for the dashboard: no JavaScript, no build step."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 160  # viewBox units; the SVG scales to its container
PAD_LEFT, PAD_BOTTOM = 40, 18


def _frame(max_value: float, start: float, span: float, unit: str) -> list[str]:
    """Axes, the top value and hour ticks every 6 hours."""
    plot_h = HEIGHT - PAD_BOTTOM
    parts = [
        f'<line x1="{PAD_LEFT}" y1="{plot_h}" x2="{WIDTH}" y2="{plot_h}" class="axis"/>',
        f'<text x="{PAD_LEFT - 4}" y="10" class="label" text-anchor="end">'
        f"{escape(_short(max_value))}{unit}</text>",
        f'<text x="{PAD_LEFT - 4}" y="{plot_h}" class="label" text-anchor="end">0</text>',
    ]
    for step in range(5):
        at = start + span * step / 4
        x = PAD_LEFT + (WIDTH - PAD_LEFT) * step / 4
        label = datetime.fromtimestamp(at, UTC).strftime("%H:%M")
        anchor = "end" if step == 4 else "start"
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 4}" class="label" text-anchor="{anchor}">'
            f"{label}</text>"
        )
    return parts


def _short(value: float) -> str:
    return f"{value / 1000:.1f}k" if value >= 10_000 else f"{value:g}"


def _svg(title: str, parts: list[str]) -> Markup:
    # Every interpolated text is escaped above; the rest is numbers and fixed markup.
    return Markup(  # noqa: S704
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def throughput(counts: list[tuple[int, int, int]], now: float, minutes: int = 1440) -> Markup:
    """Stacked bars per minute: succeeded (green) under failed (red), over the last `minutes`."""
    first = int(now // 60) - minutes + 1
    peak = max((ok + bad for _, ok, bad in counts), default=0) or 1
    plot_w, plot_h = WIDTH - PAD_LEFT, HEIGHT - PAD_BOTTOM
    bar = plot_w / minutes
    parts = _frame(peak, first * 60, minutes * 60, "/min")
    for minute, ok, bad in counts:
        if minute < first:
            continue
        x = PAD_LEFT + (minute - first) * bar
        ok_h, bad_h = plot_h * ok / peak, plot_h * bad / peak
        parts.append(
            f'<rect x="{x:.2f}" y="{plot_h - ok_h:.2f}" width="{max(bar, 1):.2f}" '
            f'height="{ok_h:.2f}" class="ok"/>'
        )
        if bad:
            parts.append(
                f'<rect x="{x:.2f}" y="{plot_h - ok_h - bad_h:.2f}" width="{max(bar, 1):.2f}" '
                f'height="{bad_h:.2f}" class="bad"/>'
            )
    return _svg("Attempts per minute, last 24 hours", parts)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (non-empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def latency(samples: list[tuple[float, float]], now: float, hours: int = 24) -> Markup:
    """p50 and p95 attempt duration per hour over the last `hours`, as two lines."""
    start = now - hours * 3600
    buckets: dict[int, list[float]] = {}
    for at, ms in samples:
        buckets.setdefault(int((at - start) // 3600), []).append(ms)
    points = {
        hour: (percentile(values, 0.5), percentile(values, 0.95))
        for hour, values in sorted(buckets.items())
        if 0 <= hour < hours
    }
    peak = max((p95 for _, p95 in points.values()), default=0) or 1
    plot_w, plot_h = WIDTH - PAD_LEFT, HEIGHT - PAD_BOTTOM
    parts = _frame(round(peak, 1), start, hours * 3600, " ms")
    for index, css in ((0, "p50"), (1, "p95")):
        coords = " ".join(
            f"{PAD_LEFT + plot_w * (hour + 0.5) / hours:.1f},"
            f"{plot_h - plot_h * pair[index] / peak:.1f}"
            for hour, pair in points.items()
        )
        if coords:
            parts.append(f'<polyline points="{coords}" class="{css}"/>')
            parts.extend(
                f'<circle cx="{c.split(",")[0]}" cy="{c.split(",")[1]}" r="2.5" class="{css}"/>'
                for c in coords.split()
            )
    return _svg("Latency p50 and p95 per hour, last 24 hours", parts)
