"""A drawing of a workflow's node graph as inline SVG: one column per step from the start.

Plain arrows are `next`, labelled ones `then`/`else`; a foreach's `do` (the chain it runs per
item) is a dashed blue "each" arrow, and `on_error` a dotted red "on error" arrow."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

BOX_W, BOX_H = 140, 44  # node box size
GAP_X, GAP_Y = 60, 24  # space between columns and between rows
EDGE_KEYS = ("next", "then", "else", "do", "on_error")  # node fields naming another node
# field → (label, css class, SVG dash pattern): loops and error branches drawn apart.
EDGE_STYLE = {
    "next": ("", "edge", ""),
    "then": ("then", "edge", ""),
    "else": ("else", "edge", ""),
    "do": ("each", "edge loop", "7 4"),
    "on_error": ("on error", "edge error", "2 3"),
}


def edges(nodes: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """(from, to, field) for every link between nodes; field is one of EDGE_KEYS."""
    found = []
    for node in nodes:
        for key in EDGE_KEYS:
            target = node.get(key)
            if isinstance(target, str) and target:
                found.append((str(node["id"]), target, key))
    return found


def _columns(start: str, nodes: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Each node's column: its distance from `start`; unreachable nodes go after the rest."""
    links = edges(nodes)
    column = {start: 0}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for source, target, _ in links:
            if source == current and target not in column:
                column[target] = column[current] + 1
                queue.append(target)
    last = max(column.values(), default=0)
    for node in nodes:
        column.setdefault(str(node["id"]), last + 1)
    return column


def draw(start: str, nodes: Sequence[Mapping[str, Any]]) -> Markup:
    """The SVG of the graph: boxes named `id` and `type`, arrows styled per EDGE_STYLE."""
    column = _columns(start, nodes)
    rows: dict[int, int] = {}
    place: dict[str, tuple[float, float]] = {}
    for node in nodes:
        node_id = str(node["id"])
        col = column[node_id]
        row = rows.get(col, 0)
        rows[col] = row + 1
        place[node_id] = (10 + col * (BOX_W + GAP_X), 10 + row * (BOX_H + GAP_Y))
    width = 20 + (max(column.values(), default=0) + 1) * (BOX_W + GAP_X) - GAP_X
    height = 20 + max(rows.values(), default=1) * (BOX_H + GAP_Y) - GAP_Y
    parts = [
        "<defs>"
        + "".join(
            f'<marker id="arrow{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" class="head{name}"/>'
            "</marker>"
            for name in ("", "-loop", "-error")
        )
        + "</defs>"
    ]
    for source, target, key in edges(nodes):
        label, css, dash = EDGE_STYLE[key]
        marker = {"do": "arrow-loop", "on_error": "arrow-error"}.get(key, "arrow")
        if source not in place or target not in place:
            continue
        (x1, y1), (x2, y2) = place[source], place[target]
        ax, ay, bx, by = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
        if x2 <= x1:  # a link back or within a column: leave from the bottom
            ax, ay = x1 + BOX_W / 2, y1 + BOX_H
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{ax}" y1="{ay}" x2="{bx}" y2="{by}" class="{css}"{dashes} '
            f'marker-end="url(#{marker})"/>'
        )
        if label:
            parts.append(
                f'<text x="{(ax + bx) / 2}" y="{(ay + by) / 2 - 4}" class="edge-label {key}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    for node in nodes:
        node_id = str(node["id"])
        x, y = place[node_id]
        css = "node start" if node_id == start else "node"
        parts.append(
            f'<g class="{css} {escape(str(node.get("type", "")))}">'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
            f'<text x="{x + BOX_W / 2}" y="{y + 18}" text-anchor="middle" class="node-id">'
            f"{escape(node_id)}</text>"
            f'<text x="{x + BOX_W / 2}" y="{y + 34}" text-anchor="middle" class="node-type">'
            f"{escape(str(node.get('type', '')))}</text></g>"
        )
    # Node ids and types are escaped above; the rest is numbers and fixed markup.
    return Markup(  # noqa: S704
        f'<svg viewBox="0 0 {width} {height}" width="{width}" class="graph" role="img">'
        f"<title>Workflow graph</title>{''.join(parts)}</svg>"
    )
