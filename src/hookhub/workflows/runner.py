"""The run runner: claim queued runs → execute → record the outcome → call the callback back.

Like the dispatcher, it is a lease worker (`hookhub.outbound.lease_worker`): a runner that
dies leaves its runs to be claimed again when the lease expires (at-least-once; emit nodes use
ids that make a repeat harmless).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from hookhub.db.group import GroupWriter
from hookhub.db.store import Row, Store
from hookhub.errors import Refusal, ValidationError
from hookhub.metrics import Metrics
from hookhub.outbound import callbacks
from hookhub.outbound.client import Sender
from hookhub.outbound.lease_worker import Held, Leased, LeaseWorker
from hookhub.settings import Settings
from hookhub.workflows.engine import CompiledWorkflow, Engine, RunResult
from hookhub.workflows.nodes import Services
from hookhub.workflows.request import context, from_record

log = logging.getLogger("hookhub.runner")

MAX_ATTEMPTS = 3  # claims of one run before it is failed instead of tried again
DB_RETRY_DELAY = 1.0  # seconds before retrying a failed database write
PURGE_INTERVAL = 600.0  # seconds between purges of expired dedupe keys
INTERRUPTED = (
    "interrupted: the process answering this synchronous run stopped before it finished"
    " (or it outlasted HOOKHUB_RUN_LEASE)"
)


class Runner(LeaseWorker):
    """Executes runs: queued ones from the database (`run`, `drain`) and sync ones handed in."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        sender: Sender,
        on_work: Callable[[], None] | None = None,
        metrics: Metrics | None = None,
        gate: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(
            concurrency=settings.run_concurrency,
            batch=settings.run_concurrency,
            poll_interval=settings.poll_interval,
            noun="runs",
            log=log,
            gate=gate,
        )
        self.store = store
        self.settings = settings
        self.on_work = on_work
        self.metrics = metrics
        self.engine = Engine(Services(store, sender, on_work, settings.command_dirs))
        self._writer = GroupWriter[Row, None](self._write)
        self._compiled: dict[str, CompiledWorkflow] = {}
        self._purged_at = 0.0

    def compiled(self, row: Mapping[str, Any]) -> CompiledWorkflow:
        """The compiled form of a workflow row, cached per (id, version)."""
        cached = self._compiled.get(row["id"])
        if cached is None or cached.version != row["version"]:
            cached = self._compiled[row["id"]] = CompiledWorkflow(row)
        return cached

    # -- the lease loop's steps ----------------------------------------------------------------

    async def _claim(self, wanted: int) -> tuple[list[Leased], bool]:
        lease_id, claimed, workflows = await self.store.runs.claim(
            wanted, self.settings.run_lease, time.time()
        )
        work = [
            Leased(
                run["id"], lease_id, self._execute(run, lease_id, workflows.get(run["workflow_id"]))
            )
            for run in claimed
        ]
        return work, len(claimed) == wanted

    async def _flush(self) -> None:
        await self._writer.close()

    async def _release(self, abandoned: Sequence[Held]) -> int:
        # Unrecorded: queued again now for another runner, rather than when the lease ends.
        return await self.store.runs.release(abandoned, time.time())

    async def _idle(self) -> None:
        await self._purge()

    async def _execute(self, run: Row, lease_id: str, row: Row | None) -> None:
        identity = {"id": run["id"], "workflow_id": run["workflow_id"]}
        if row is None:
            result = RunResult(status="failed", error="the workflow no longer exists")
        elif run["mode"] == "sync":  # only a dead process leaves one for a runner
            result = RunResult(status="failed", error=INTERRUPTED)
        elif run["attempts"] > MAX_ATTEMPTS:
            result = RunResult(
                status="failed",
                error=f"abandoned: its runner stopped {MAX_ATTEMPTS} times before it finished",
            )
        else:
            try:
                workflow = self.compiled(row)
                request = context(from_record(run["request"]), workflow.trigger["parse"])
            except (Refusal, ValidationError) as exc:
                result = RunResult(status="failed", error=f"cannot run: {exc}")
            else:
                result = await self.engine.execute(
                    workflow, identity, request, run.get("resume"), run.get("nodes") or ()
                )
        if result.resume is not None:
            await self.park(run, lease_id, result)
        else:
            await self.finish(run, lease_id, result)

    async def park(self, run: Mapping[str, Any], lease_id: str, result: RunResult) -> None:
        """Store a run a delay node parked, due at its resume time, for any runner."""
        assert result.resume is not None
        parked: Row = {
            "p_id": run["id"],
            "p_lease": lease_id,
            "p_until": result.resume["until"],
            "p_vars": result.vars,
            "p_nodes": result.nodes,
            "p_resume": result.resume,
        }
        while True:
            try:
                if not await self.store.runs.park(parked):
                    log.warning("run %s: its lease ended before it was parked", run["id"])
                return
            except Exception:
                # Not parked, the run would execute again from the start after the lease.
                log.exception("parking run %s failed; retrying", run["id"])
                await asyncio.sleep(DB_RETRY_DELAY)

    async def finish(self, run: Mapping[str, Any], lease_id: str, result: RunResult) -> None:
        """Record a run's outcome (while `lease_id` still owns it) with its callback, if any."""
        outcome: Row = {
            "b_id": run["id"],
            "b_lease": lease_id,
            "b_status": result.status,
            "b_vars": result.vars,
            "b_nodes": result.nodes,
            "b_result": result.result,
            "b_error": result.error,
            "b_now": time.time(),
        }
        if run.get("callback"):
            outcome["callback"] = run["callback"]
            # A run ended by a response node did its job's output: the answer's body, as text.
            output = result.response["body"] if result.response else result.result
            outcome["payload"] = callbacks.payload(
                run["callback"],
                run["id"],
                result.status,
                output,
                result.error,
                workflow_id=run["workflow_id"],
            )
        while True:
            try:
                await self._writer.submit(outcome)
                break
            except Exception:
                # Dropping the outcome would run the workflow again after the lease.
                log.exception("recording run %s failed; retrying", run["id"])
                await asyncio.sleep(DB_RETRY_DELAY)
        if self.metrics is not None:
            began = run.get("started_at") or run.get("created_at") or outcome["b_now"]
            self.metrics.run_finished(result.status, outcome["b_now"] - began)
        if run.get("callback") and self.on_work is not None:
            self.on_work()  # its callback delivery is queued: send it now

    async def _write(self, outcomes: Sequence[Row], since: float) -> Sequence[None]:
        await self.store.runs.finish(outcomes, since)
        return [None] * len(outcomes)

    async def _purge(self) -> None:
        now = time.time()
        if now - self._purged_at < PURGE_INTERVAL:
            return
        self._purged_at = now
        try:
            await self.store.runs.purge_dedupe(now)
        except Exception:
            log.exception("purging expired dedupe keys failed")
