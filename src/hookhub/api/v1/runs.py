"""`/runs`: every workflow run with its trigger request and node log; re-run one."""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, Body, Request

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1.common import Cursor, Limit, Reader, StoreDep, Writer, page, store_of
from hookhub.core.masking import mask_url
from hookhub.core.paths import parse_query
from hookhub.core.times import iso
from hookhub.db.runs import NewRun
from hookhub.db.store import Row
from hookhub.db.tables import runs
from hookhub.errors import Refusal, ValidationError
from hookhub.ids import new_id
from hookhub.outbound.callbacks import JOB_ID, validate_callback
from hookhub.outbound.rendering import MASK, mask_headers
from hookhub.workflows.request import from_record, parse_body

router = APIRouter(tags=["runs"], route_class=JSONRoute)

Status = Literal["queued", "running", "succeeded", "failed"]


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


@router.get("/runs", summary="List workflow runs, newest first")
async def list_runs(
    store: StoreDep,
    _: Reader,
    workflow_id: str | None = None,
    status: Status | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> JSON:
    filters = {"workflow_id": workflow_id, "status": status}
    rows, next_cursor = await store.page(runs, filters, cursor, limit)
    return JSON(page([summary(row) for row in rows], next_cursor))


@router.get("/runs/{run_id}", summary="Get a run: trigger request, node log, status")
async def get_run(run_id: str, store: StoreDep, _: Reader) -> JSON:
    return JSON(detail(await store.get(runs, run_id)))


@router.post("/runs/{run_id}/rerun", status_code=202, summary="Queue a run of the same request")
async def rerun(
    run_id: str,
    request: Request,
    store: StoreDep,
    _: Writer,
    options: dict[str, Any] | None = Body(
        None,
        examples=[{"webhook": {"url": "https://..."}}],
        # Read by `validate_callback`, for its messages; the schema says what it takes.
        json_schema_extra={
            "properties": {
                "webhook": {
                    "type": ["object", "null"],
                    "description": "where to send the outcome (see docs/callbacks.md)",
                }
            },
            "additionalProperties": False,
        },
    ),
) -> JSON:
    return JSON(summary(await rerun_of(request, run_id, options or {})), status_code=202)


async def rerun_of(request: Request, run_id: str, options: dict[str, Any]) -> Row:
    """Queue a new async run of a run's trigger request (the API and the UI); the new run."""
    store = store_of(request)
    original = await store.get(runs, run_id)
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
    request.app.state.triggers.runner.wake()
    return row
