"""Workflow runs: list them, read one (its trigger request, node log and callback, masked) and
queue a new run of the same request."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, get_args

from hookhub.core.masking import mask_url
from hookhub.core.paths import parse_query
from hookhub.core.times import iso
from hookhub.db.runs import NewRun
from hookhub.db.store import Row, Store
from hookhub.errors import Refusal, ValidationError
from hookhub.ids import new_id
from hookhub.outbound.callbacks import JOB_ID, validate_callback
from hookhub.outbound.rendering import MASK, mask_headers
from hookhub.workflows.request import from_record, parse_body

Status = Literal["queued", "running", "succeeded", "failed"]
STATUSES: tuple[str, ...] = get_args(Status)

Wake = Callable[[], None] | None  # tells this process's workflow runner a run is due now


def summary(row: Row) -> dict[str, Any]:
    """A run in a list: what ran, how it ended, when."""
    finished, started = row["finished_at"], row["started_at"]
    resume = row.get("resume")
    return {
        "id": row["id"],
        "workflow_id": row["workflow_id"],
        "mode": row["mode"],
        "status": row["status"],
        "error": row["error"],
        "rerun_of": row["rerun_of"],
        "attempts": row["attempts"],
        "created_at": iso(row["created_at"]),
        "started_at": iso(started),
        "finished_at": iso(finished),
        "duration_ms": round((finished - started) * 1000, 3) if finished and started else None,
        # A run a delay node parked: queued until then, resumed by any runner.
        "resume_at": iso(resume["until"]) if resume else None,
    }


def detail(row: Row) -> dict[str, Any]:
    """A run in full: the trigger request, variables, node log, result, callback (masked)."""
    stored = row["request"]
    received = from_record(stored)
    try:
        body = parse_body(received.content_type, received.raw)
    except Refusal:
        body = None
    request = {
        "method": stored["method"],
        "path": stored["path"],
        "client": stored.get("client"),
        "headers": stored["headers"],
        "query": parse_query(stored["query_string"]),
        "body": body,
        "raw": stored.get("raw"),
        "raw_base64": stored.get("raw_base64"),
    }
    nodes = [{**entry, "started_at": iso(entry["started_at"])} for entry in row["nodes"] or []]
    return {
        **summary(row),
        "request": request,
        "vars": row["vars"],
        "nodes": nodes,
        "result": row["result"],
        "callback": _masked_callback(row["callback"]),
    }


def _masked_callback(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    if not spec:
        return None
    auth = dict(spec["auth"]) if spec.get("auth") else None
    for key in ("password", "token"):
        if auth and auth.get(key):
            auth[key] = MASK
    return {
        **spec,
        "url": mask_url(spec["url"], template=False) if spec.get("url") else spec.get("url"),
        "headers": mask_headers(spec.get("headers") or {}),
        "cookies": {name: MASK for name in spec.get("cookies") or {}},
        "auth": auth,
        "secret": MASK if spec.get("secret") else None,
    }


def _status(status: str | None) -> str | None:
    if status is not None and status not in STATUSES:
        raise ValidationError(f"must be one of {', '.join(STATUSES)}", field="status")
    return status


async def listed(
    store: Store, workflow_id: str | None, status: str | None, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of runs (of one workflow, in one status, when given), newest first, and the
    next page's cursor."""
    rows, next_cursor = await store.runs.page(workflow_id, _status(status), cursor, limit)
    return [summary(row) for row in rows], next_cursor


async def count(store: Store, workflow_id: str | None, status: str | None, cap: int) -> int:
    """How many runs match, counting no further than `cap`."""
    return await store.runs.count(workflow_id, _status(status), cap)


async def get(store: Store, run_id: str) -> dict[str, Any]:
    """One run in full; NotFound if there is none."""
    return detail(await store.runs.get(run_id))


async def rerun(store: Store, run_id: str, options: dict[str, Any], wake: Wake) -> dict[str, Any]:
    """Queue a new async run of a run's trigger request; `options` may name a `webhook` to send
    the outcome to (docs/callbacks.md). The new run's summary."""
    original = await store.runs.get(run_id)
    unknown = sorted(set(options) - {"webhook"})
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r}; only webhook", field=unknown[0])
    webhook = options.get("webhook")
    callback = validate_callback(webhook) if webhook is not None else None
    job_id = (original["callback"] or {}).get(JOB_ID)
    if callback is not None and job_id is not None:
        callback[JOB_ID] = job_id  # the caller's job id, as the original run's callback had it
    now = time.time()
    row = {
        "id": new_id("run"),
        "workflow_id": original["workflow_id"],
        "mode": "async",
        "status": "queued",
        "request": original["request"],
        "vars": None,
        "nodes": None,
        "result": None,
        "error": None,
        "callback": callback,
        "rerun_of": original["id"],
        "resume": None,
        "attempts": 0,
        "lease_id": None,
        "next_attempt_at": now,
        "created_at": now,
        "started_at": None,
        "finished_at": None,
    }
    await store.runs.enqueue([NewRun(row)], now)
    if wake is not None:
        wake()
    return summary(row)
