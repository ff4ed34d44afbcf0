"""Server-rendered inline SVG charts for the dashboard and the webhooks' health: no
JavaScript, no build step. Every label is placed inside the drawing's box."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 160  # viewBox units; the SVG scales to its container
PAD_LEFT, PAD_TOP, PAD_BOTTOM = 56, 6, 18
LABEL_X = 2  # the value labels start here, anchored at their start: never cut on the left


@dataclass(frozen=True)
class Window:
    """A span of time a dashboard shows, and the buckets its charts count in."""

    name: str  # as in ?window=
    seconds: int
    bucket: int  # seconds per bar of the attempts chart
    latency_bucket: int  # seconds per point of the latency chart
    tick_format: str  # strftime of the time axis labels

    @property
    def per(self) -> str:
        """The attempts chart's unit: `/min`, `/15 min`, `/2 h`."""
        minutes = self.bucket // 60
        if minutes == 1:
            return "/min"
        return f"/{minutes} min" if minutes < 60 else f"/{minutes // 60} h"

    @property
    def per_words(self) -> str:
        """The same in words, for headings: `per minute`, `per 15 min`, `per 2 h`."""
        return "per minute" if self.bucket == 60 else "per " + self.per[1:]

    @property
    def latency_per(self) -> str:
        """The latency chart's step: `5 min`, `hour`, `6 h`."""
        minutes = self.latency_bucket // 60
        if minutes < 60:
            return f"{minutes} min"
        return "hour" if minutes == 60 else f"{minutes // 60} h"


WINDOWS = {
    "1h": Window("1h", 3600, 60, 300, "%H:%M"),
    "24h": Window("24h", 86400, 900, 3600, "%H:%M"),
    "7d": Window("7d", 7 * 86400, 7200, 6 * 3600, "%a %H:%M"),
}
DEFAULT_WINDOW = "24h"


def _frame(top: str, start: float, window: Window) -> list[str]:
    """Axes, the top value (a dashed line with its label), 0 and five time labels."""
    plot_h = HEIGHT - PAD_BOTTOM
    parts = [
        f'<line x1="{PAD_LEFT}" y1="{plot_h}" x2="{WIDTH}" y2="{plot_h}" class="axis"/>',
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{WIDTH}" y2="{PAD_TOP}" class="gridline"/>',
        f'<text x="{LABEL_X}" y="{PAD_TOP + 8}" class="label top">{escape(top)}</text>',
        f'<text x="{LABEL_X}" y="{plot_h}" class="label">0</text>',
    ]
    for step in range(5):
        at = start + window.seconds * step / 4
        # The last label ends 2 units inside the right edge: its box never touches it.
        x = PAD_LEFT + (WIDTH - 2 - PAD_LEFT) * step / 4
        label = datetime.fromtimestamp(at, UTC).strftime(window.tick_format)
        anchor = ("start", "middle", "middle", "middle", "end")[step]
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 4}" class="label" text-anchor="{anchor}">'
            f"{label}</text>"
        )
    return parts


def _short(value: float) -> str:
    return f"{value / 1000:.1f}k" if value >= 10_000 else f"{value:g}"


def _svg(title: str, parts: list[str], css: str = "chart") -> Markup:
    # Every interpolated text is escaped above; the rest is numbers and fixed markup.
    return Markup(  # noqa: S704
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="{css}">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def throughput(counts: list[tuple[int, int, int]], now: float, window: Window) -> Markup:
    """Stacked bars per bucket: succeeded (green) under failed (red), over the window.
    `counts` are (epoch // window.bucket, succeeded, failed)."""
    slots = window.seconds // window.bucket
    first = int(now // window.bucket) - slots + 1
    peak = max((ok + bad for _, ok, bad in counts), default=0) or 1
    plot_w, plot_h = WIDTH - PAD_LEFT, HEIGHT - PAD_BOTTOM - PAD_TOP
    base = HEIGHT - PAD_BOTTOM
    bar = plot_w / slots
    gap = 1 if bar > 4 else 0  # bars apart when wide enough to show it
    parts = _frame(f"{_short(peak)}{window.per}", first * window.bucket, window)
    for slot, ok, bad in counts:
        if not 0 <= slot - first < slots:
            continue
        x = PAD_LEFT + (slot - first) * bar
        ok_h, bad_h = plot_h * ok / peak, plot_h * bad / peak
        width = max(bar - gap, 1)
        parts.append(
            f'<rect x="{x:.2f}" y="{base - ok_h:.2f}" width="{width:.2f}" '
            f'height="{ok_h:.2f}" class="ok"/>'
        )
        if bad:
            parts.append(
                f'<rect x="{x:.2f}" y="{base - ok_h - bad_h:.2f}" width="{width:.2f}" '
                f'height="{bad_h:.2f}" class="bad"/>'
            )
    return _svg(f"Attempts per bucket ({window.per}), last {window.name}", parts)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (non-empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def latency(samples: list[tuple[float, float]], now: float, window: Window) -> Markup:
    """p50 and p95 attempt duration per latency bucket over the window, as two lines."""
    slots = window.seconds // window.latency_bucket
    start = now - window.seconds
    buckets: dict[int, list[float]] = {}
    for at, ms in samples:
        buckets.setdefault(int((at - start) // window.latency_bucket), []).append(ms)
    points = {
        slot: (percentile(values, 0.5), percentile(values, 0.95))
        for slot, values in sorted(buckets.items())
        if 0 <= slot < slots
    }
    peak = max((p95 for _, p95 in points.values()), default=0) or 1
    plot_w, plot_h = WIDTH - PAD_LEFT, HEIGHT - PAD_BOTTOM - PAD_TOP
    base = HEIGHT - PAD_BOTTOM
    parts = _frame(f"{_short(round(peak, 1))} ms", start, window)
    for index, css in ((0, "p50"), (1, "p95")):
        coords = [
            (PAD_LEFT + plot_w * (slot + 0.5) / slots, base - plot_h * pair[index] / peak)
            for slot, pair in points.items()
        ]
        if coords:
            line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(f'<polyline points="{line}" class="{css}"/>')
            parts.extend(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" class="{css}"/>' for x, y in coords
            )
    return _svg(f"Latency p50 and p95 per {window.latency_per}, last {window.name}", parts)


SPARK_W, SPARK_H = 120, 24  # viewBox units of a sparkline


def sparkline(buckets: list[tuple[int, int]], title: str) -> Markup:
    """A small bar per bucket (succeeded green under failed red), no labels: a health trend."""
    peak = max((ok + bad for ok, bad in buckets), default=0) or 1
    bar = SPARK_W / max(len(buckets), 1)
    floor = SPARK_H - 0.5
    parts = [f'<line x1="0" y1="{floor}" x2="{SPARK_W}" y2="{floor}" class="axis"/>']
    for slot, (ok, bad) in enumerate(buckets):
        x = slot * bar
        ok_h, bad_h = SPARK_H * ok / peak, SPARK_H * bad / peak
        width = max(bar - 1, 0.5)
        if ok:
            parts.append(
                f'<rect x="{x:.2f}" y="{SPARK_H - ok_h:.2f}" width="{width:.2f}" '
                f'height="{ok_h:.2f}" class="ok"/>'
            )
        if bad:
            parts.append(
                f'<rect x="{x:.2f}" y="{SPARK_H - ok_h - bad_h:.2f}" width="{width:.2f}" '
                f'height="{bad_h:.2f}" class="bad"/>'
            )
    return Markup(  # noqa: S704 (numbers and the escaped title only)
        f'<svg viewBox="0 0 {SPARK_W} {SPARK_H}" role="img" class="spark">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )
