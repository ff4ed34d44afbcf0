"""The trigger: key → workflow → CORS, method, IP, concurrency → auth → parse → pre-filter →
dedupe → one durable write (async) or a run awaited up to the timeout (sync).

The hot path holds no ORM objects: a workflow is looked up once per second per key and kept
compiled; async requests share group-committed inserts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import URL
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from hookhub.core.conditions import evaluate
from hookhub.core.templates import RenderError
from hookhub.db.group import GroupWriter
from hookhub.db.runs import NewRun
from hookhub.db.store import Row, Store
from hookhub.errors import Refusal, ValidationError
from hookhub.ids import new_id
from hookhub.inbound import cors
from hookhub.inbound.answers import Answer, text_answer
from hookhub.inbound.auth import check_ip, client_ip, networks, verify
from hookhub.inbound.compiled import CompiledTrigger
from hookhub.inbound.errors import refused
from hookhub.inbound.route import PREFIXES
from hookhub.outbound import callbacks
from hookhub.outbound.callbacks import looks_like_callback, validate_callback
from hookhub.settings import Settings
from hookhub.workflows.engine import CompiledWorkflow, RunResult
from hookhub.workflows.request import Received, context, parse_body, record
from hookhub.workflows.runner import Runner

log = logging.getLogger("hookhub.triggers")

CACHE_TTL = 1.0  # seconds a looked-up workflow is used before it is read again
CACHE_SIZE = 10_000  # keys remembered at most (unknown keys included)
MAX_KEY_LENGTH = 64  # characters; longer keys cannot exist
SHUTDOWN_GRACE = 10.0  # seconds sync runs past their timeout get to finish on shutdown
RUN_HEADER = "Hookhub-Run-Id"  # on every answer that made a run
RAW_RUN_HEADER = RUN_HEADER.lower().encode()
NOT_FOUND = "no enabled workflow has this trigger URL"

Reply = Response | Answer  # Answer: encoded once, for the answers most requests get


@dataclass(frozen=True)
class Loaded:
    """A key's workflow as last read: compiled, or None for an unknown or disabled key."""

    workflow: CompiledWorkflow | None
    trigger: CompiledTrigger | None
    loaded_at: float


class Triggers:
    """Answers trigger requests for one process; `close()` waits for its background work."""

    def __init__(self, store: Store, settings: Settings, runner: Runner) -> None:
        self.store = store
        self.runner = runner
        self.trusted = networks(settings.trusted_proxies)
        self.run_lease = settings.run_lease
        self.max_body = settings.max_request_body  # bytes
        self._cache: dict[str, Loaded] = {}
        self._loading: dict[str, asyncio.Task[Loaded]] = {}
        self._generation = 0  # bumped by forget(): reads begun before it are not cached
        self._busy: dict[str, int] = {}
        self._writer = GroupWriter[NewRun, str | None](self._enqueue, on_written=runner.wake)
        self._sync_runs: set[asyncio.Task[RunResult]] = set()

    def forget(self, key: str) -> None:
        """Drop a cached key (its workflow was created, changed or deleted here)."""
        self._generation += 1
        self._cache.pop(key, None)

    async def close(self) -> None:
        """Wait for pending writes and for sync runs still going after their timeout."""
        await self._writer.close()
        if self._sync_runs:
            await asyncio.wait(self._sync_runs, timeout=SHUTDOWN_GRACE)

    async def _enqueue(self, batch: Sequence[NewRun], since: float) -> list[str | None]:
        return await self.store.runs.enqueue(batch, time.time(), since)

    async def _lookup(self, key: str) -> Loaded:
        # Stale while revalidating: past its second, an entry is still used while one task
        # reads it again, so a busy key costs one query per second, not one per request.
        entry = self._cache.get(key)
        loading = self._loading.get(key)
        if entry is not None:
            if loading is None and time.monotonic() - entry.loaded_at >= CACHE_TTL:
                self._loading[key] = asyncio.create_task(self._load(key, entry))
            return entry
        if loading is None:
            loading = self._loading[key] = asyncio.create_task(self._load(key, None))
        return await asyncio.shield(loading)

    async def _load(self, key: str, stale: Loaded | None) -> Loaded:
        generation = self._generation
        try:
            row = await self.store.runs.workflow_by_key(key) if len(key) <= MAX_KEY_LENGTH else None
        except Exception:
            if stale is None:
                raise
            log.exception("reading the workflow of a trigger failed; using the cached one")
            return stale
        finally:
            del self._loading[key]
        if row is None or not row["enabled"]:
            entry = Loaded(None, None, time.monotonic())
        else:
            workflow = self.runner.compiled(row)
            same = stale is not None and stale.workflow is workflow and stale.trigger is not None
            trigger = stale.trigger if same and stale else CompiledTrigger(row["trigger"])
            entry = Loaded(workflow, trigger, time.monotonic())
        # A change made here meanwhile (forget) wins over what this read found.
        if generation == self._generation:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = entry
        return entry

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Answer one call of a trigger URL (an ASGI request whose path starts with one of
        `PREFIXES`); returns the HTTP status answered."""
        response: Reply
        try:
            response = await self._respond(scope, receive)
        except Refusal as refusal:
            response = refused(refusal)
        except Exception:
            log.exception("trigger request failed")
            message = "internal error; the server log has the details"
            response = refused(Refusal(500, "internal", message))
        await response(scope, receive, send)
        return response.status_code

    async def _respond(self, scope: Scope, receive: Receive) -> Reply:
        # Plain dicts from the ASGI scope: Starlette's Headers object costs more per lookup.
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        declared = headers.get("content-length", "")
        # isascii: latin-1 has digits (²) that int() refuses.
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_body:
            raise _too_large(self.max_body)
        path: str = scope["path"]
        key = _key(path)
        if key is None:
            # `/hooks/<key>/` is redirected to the trigger URL, as Starlette's router does.
            stripped = path.rstrip("/")
            if stripped != path and _key(stripped) is not None:
                return RedirectResponse(URL(scope={**scope, "path": stripped}))
            raise Refusal(404, "not_found", NOT_FOUND)
        loaded = await self._lookup(key)
        if loaded.workflow is None or loaded.trigger is None:
            raise Refusal(404, "not_found", NOT_FOUND)
        return await self._admit(scope, receive, headers, loaded.workflow, loaded.trigger)

    async def _admit(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        workflow: CompiledWorkflow,
        trigger: CompiledTrigger,
    ) -> Reply:
        origin = headers.get("origin")
        method: str = scope["method"]
        if method == "OPTIONS" and origin and "access-control-request-method" in headers:
            return cors.preflight(trigger.cors_origins, trigger.methods, origin, headers)
        if method not in trigger.methods:
            raise Refusal(
                405,
                "method_not_allowed",
                f"this trigger accepts {trigger.allow}, not {method}",
                {"Allow": trigger.allow},
            )
        peer = scope.get("client")
        client = client_ip(peer[0] if peer else None, headers.get("x-forwarded-for"), self.trusted)
        check_ip(client, trigger.networks)
        assert workflow.id is not None
        busy = self._busy.get(workflow.id, 0)
        if trigger.concurrency is not None and busy >= trigger.concurrency:
            raise Refusal(
                429,
                "too_many_requests",
                f"this trigger handles at most {trigger.concurrency} requests at once",
                {"Retry-After": "1"},
            )
        self._busy[workflow.id] = busy + 1
        try:
            raw = await _body(receive, self.max_body)
            received = Received(
                method=method,
                path=scope["path"],
                query_string=scope["query_string"].decode("latin-1"),
                headers=headers,
                raw=raw,
                client=client,
            )
            response = await self._accept(received, workflow, trigger)
        finally:
            self._busy[workflow.id] -= 1
        granted = cors.allowed(trigger.cors_origins, origin)
        if granted:
            response.headers.update(granted)
        return response

    async def _accept(
        self, received: Received, workflow: CompiledWorkflow, trigger: CompiledTrigger
    ) -> Reply:
        now = time.time()
        verify(trigger.auth, received.headers, received.raw, now)
        body = parse_body(received.content_type, received.raw, trigger.structured)
        run_id = new_id("run")
        assert workflow.id is not None
        # An async trigger with a constant answer and no filter never reads the context.
        data: dict[str, Any] = {}
        if trigger.reads_context:
            data = context(received, trigger.parse, body, parsed=True)
            data["run"] = {"id": run_id, "workflow_id": workflow.id}
            data["nodes"] = {}
        if trigger.filter is not None and not evaluate(trigger.filter["conditions"], data):
            return text_answer(trigger.filter["status"], {}, trigger.filter["body"])
        callback = self._callback(trigger, body)
        row: Row = {
            "id": run_id,
            "workflow_id": workflow.id,
            "mode": trigger.mode,
            "request": record(received, trigger.secret_headers),
            "callback": callback,
            "rerun_of": None,
            "resume": None,
            "created_at": now,
            "finished_at": None,
            "vars": None,
            "nodes": None,
            "result": None,
            "error": None,
        }
        dedupe_header = trigger.dedupe_header
        dedupe_key = received.headers.get(dedupe_header) if dedupe_header else None
        if trigger.mode == "sync":
            return await self._sync(workflow, trigger, row, data, dedupe_key)
        try:
            answer = trigger.answer(data)
        except RenderError as exc:
            raise Refusal(500, "template_error", f"trigger response: {exc}") from None
        row.update(status="queued", attempts=0, lease_id=None, next_attempt_at=now, started_at=None)
        duplicate_of = await self._store(row, dedupe_key, trigger.dedupe_window)
        if duplicate_of is not None:
            return _duplicate(duplicate_of)
        return answer.with_header(RAW_RUN_HEADER, run_id)

    @staticmethod
    def _callback(trigger: CompiledTrigger, body: Any) -> dict[str, Any] | None:
        if not isinstance(body, dict) or body.get("webhook") is None:
            return None
        if not trigger.callback:
            if trigger.mode == "async" and looks_like_callback(body["webhook"]):
                # Not silently dropped: the caller expects to be called back, and won't be.
                raise Refusal(
                    400,
                    "callback_not_enabled",
                    "this trigger does not call back: a 'webhook' callback object is honoured"
                    ' only with "callback": true in the workflow\'s trigger (docs/callbacks.md)',
                    field="webhook",
                )
            return None
        try:
            spec = validate_callback(body["webhook"])
            job_id = callbacks.job_id(body)
        except ValidationError as exc:
            raise Refusal(
                400, "invalid_callback", f"{exc.field}: {exc.message}", field=exc.field
            ) from None
        # The caller's own job id travels with the spec: its callback's `id` (callbacks.payload).
        return spec if job_id is None else {**spec, callbacks.JOB_ID: job_id}

    async def _store(self, row: Row, dedupe_key: str | None, window: float) -> str | None:
        try:
            return await self._writer.submit(NewRun(row, dedupe_key, window))
        except Exception:
            log.exception("storing a trigger request failed")
            raise Refusal(
                503,
                "unavailable",
                "the request could not be stored; try again",
                {"Retry-After": "1"},
            ) from None

    async def _sync(
        self,
        workflow: CompiledWorkflow,
        trigger: CompiledTrigger,
        row: Row,
        data: dict[str, Any],
        dedupe_key: str | None,
    ) -> Reply:
        lease_id = new_id("lse")
        row.update(
            status="running",
            attempts=1,
            lease_id=lease_id,
            # If this process dies mid-run, a runner finds the run when the lease ends and
            # records it as interrupted (it is not run again: nobody waits for its answer).
            next_attempt_at=row["created_at"] + self.run_lease,
            started_at=row["created_at"],
        )
        duplicate_of = await self._store(row, dedupe_key, trigger.dedupe_window)
        if duplicate_of is not None:
            return _duplicate(duplicate_of)
        task = asyncio.create_task(self._run_sync(workflow, row, lease_id, data))
        self._sync_runs.add(task)
        task.add_done_callback(self._sync_runs.discard)
        try:
            # Shielded: on timeout the caller gets 504 and the run goes on to be recorded.
            result = await asyncio.wait_for(asyncio.shield(task), trigger.timeout)
        except TimeoutError:
            raise Refusal(
                504,
                "timeout",
                f"the workflow did not finish within {trigger.timeout:g} s; "
                f"run {row['id']} goes on and is recorded",
                {RUN_HEADER: row["id"]},
            ) from None
        if result.response is not None:
            answer = result.response
            headers = {**answer["headers"], RUN_HEADER: row["id"]}
            return text_answer(answer["status"], headers, answer["body"])
        if result.status == "succeeded":
            return JSONResponse(
                {"id": row["id"], "status": "succeeded"}, headers={RUN_HEADER: row["id"]}
            )
        # The node's own error may quote URLs or answers with credentials: the log has it.
        failed = workflow.nodes[result.failed_node] if result.failed_node else None
        where = f"node {failed.id!r} ({failed.type})" if failed else "the run"
        raise Refusal(
            500,
            "run_failed",
            f"{where} failed; run {row['id']} has the details",
            {RUN_HEADER: row["id"]},
        )

    async def _run_sync(
        self, workflow: CompiledWorkflow, row: Row, lease_id: str, data: dict[str, Any]
    ) -> RunResult:
        identity = {"id": row["id"], "workflow_id": row["workflow_id"]}
        result = await self.runner.engine.execute(workflow, identity, data, parkable=False)
        await self.runner.finish(row, lease_id, result)
        return result


def _key(path: str) -> str | None:
    """The key in a trigger URL's path, or None when the path holds no (single) key."""
    for prefix in PREFIXES:
        if path.startswith(prefix):
            key = path[len(prefix) :]
            return key if key and "/" not in key else None
    return None


def _too_large(limit: int) -> Refusal:
    return Refusal(413, "too_large", f"request body is over the limit of {limit} bytes")


async def _body(receive: Receive, limit: int) -> bytes:
    # Starlette's request.body() goes through an async generator; this is the same, inline,
    # and refuses a body that grows past `limit` bytes (a declared length was checked before).
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refusal(400, "disconnected", "the client went away before sending its body")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        if not chunks and not message.get("more_body", False):
            return chunk
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _duplicate(run_id: str) -> Response:
    return JSONResponse({"duplicate_of": run_id}, headers={"Hookhub-Duplicate-Of": run_id})
