"""The dispatcher: claim → render → sign → send → record → schedule a retry or finish.

One asyncio loop per process claims due deliveries in batches under a lease, sends them
concurrently over the shared session, and a single recorder task writes outcomes back in
batches. A crash at any point loses nothing: unrecorded deliveries are re-claimed when
their lease expires (at-least-once; the receiver deduplicates on `webhook-id`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from hookhub.core.templates import RenderError
from hookhub.db.store import Row, Store
from hookhub.ids import new_id
from hookhub.outbound.client import OutboundRequest, Outcome, Sender
from hookhub.outbound.rendering import CompiledWebhook, mask_headers
from hookhub.settings import Settings

log = logging.getLogger("hookhub.dispatcher")

RECORD_BATCH = 500  # outcomes written per transaction, at most
DB_RETRY_DELAY = 1.0  # seconds before retrying a failed database write
SHUTDOWN_GRACE = 10.0  # seconds in-flight sends get to finish on shutdown; the rest re-lease


def _text(data: bytes, limit: int) -> str:
    return data[:limit].decode("utf-8", errors="replace")


class Dispatcher:
    """Delivers due webhooks until stopped; `drain()` delivers what is due and returns."""

    def __init__(self, store: Store, settings: Settings, sender: Sender | None = None) -> None:
        self.store = store
        self.settings = settings
        self.sender = sender or Sender(settings.concurrency, settings.response_body_limit)
        self._webhooks: dict[str, CompiledWebhook] = {}
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._results: asyncio.Queue[tuple[Row, Row] | None] = asyncio.Queue()
        self._recorded = asyncio.Event()
        self._backlog = False  # the last claim was full: more is probably due

    def wake(self) -> None:
        """New work exists: claim now instead of at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and deliver until `stop` is set, then finish in-flight sends and record them."""
        recorder = asyncio.create_task(self._record_loop())
        try:
            while not stop.is_set():
                self._wake.clear()
                if await self._claim_once():
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)
        finally:
            await self._finish(recorder)

    async def drain(self) -> None:
        """Deliver everything due now, including retries falling due meanwhile, then return."""
        recorder = asyncio.create_task(self._record_loop())
        try:
            while True:
                await self._claim_once()
                if not self._inflight:
                    if not self._results.empty():
                        self._recorded.clear()
                        await self._recorded.wait()
                        continue
                    break
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await self._finish(recorder)

    async def _finish(self, recorder: asyncio.Task[None]) -> None:
        if self._inflight:
            _, unfinished = await asyncio.wait(self._inflight, timeout=SHUTDOWN_GRACE)
            for task in unfinished:
                # Unrecorded, so still leased: another worker retries it when the lease ends.
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        self._results.put_nowait(None)
        await recorder

    # -- claim ------------------------------------------------------------------------------------

    async def _claim_once(self) -> bool:
        """Claim a batch into free slots and start sending it; True if the batch was full."""
        free = self.settings.concurrency - len(self._inflight)
        if free <= 0:
            return False
        wanted = min(free, self.settings.claim_batch)
        try:
            lease_id, claimed, events = await self.store.claim(wanted, self.settings.lease_margin)
            webhooks = await self._compiled({row["webhook_id"] for row in claimed})
        except Exception:
            log.exception("claiming deliveries failed; retrying at the next poll")
            return False
        by_id = {event["id"]: event for event in events}
        for delivery in claimed:
            delivery["lease_id"] = lease_id
            task = asyncio.create_task(
                self._deliver(
                    delivery, by_id.get(delivery["event_id"]), webhooks.get(delivery["webhook_id"])
                )
            )
            self._inflight.add(task)
            task.add_done_callback(self._done)
        self._backlog = len(claimed) == wanted
        return self._backlog

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        # Refill in batches: wake the claimer once half the slots are free, not per delivery.
        if self._backlog and len(self._inflight) <= self.settings.concurrency // 2:
            self._wake.set()

    async def _compiled(self, ids: set[str]) -> dict[str, CompiledWebhook]:
        if not ids:
            return {}
        rows = await self.store.webhooks_by_id(ids)
        for row in rows:
            cached = self._webhooks.get(row["id"])
            if cached is None or cached.version != row["version"]:
                self._webhooks[row["id"]] = CompiledWebhook(row)
        return {row["id"]: self._webhooks[row["id"]] for row in rows}

    # -- deliver ----------------------------------------------------------------------------------

    async def _deliver(
        self,
        delivery: Row,
        event: Mapping[str, Any] | None,
        webhook: CompiledWebhook | None,
    ) -> None:
        started = time.time()
        request: OutboundRequest | None = None
        final = False
        if event is None or webhook is None:
            outcome, final = (
                Outcome(status=None, error="the event or webhook no longer exists"),
                True,
            )
        else:
            try:
                request = webhook.prepare(event, delivery["id"], started)
            except RenderError as exc:
                # Templates render the same way every time: retrying cannot help.
                outcome, final = Outcome(status=None, error=f"template error: {exc}"), True
            else:
                outcome = await self.sender.send(request)
        self._results.put_nowait(
            self._outcome_rows(delivery, webhook, request, outcome, final, started)
        )

    def _outcome_rows(
        self,
        delivery: Row,
        webhook: CompiledWebhook | None,
        request: OutboundRequest | None,
        outcome: Outcome,
        final: bool,
        started: float,
    ) -> tuple[Row, Row]:
        number = delivery["attempts"] + 1
        now = time.time()
        if outcome.ok:
            status, next_at = "succeeded", None
        else:
            delay = None if final or webhook is None else webhook.retry.delay_after(number)
            status, next_at = ("failed", None) if delay is None else ("pending", now + delay)
        limit = self.settings.response_body_limit
        update = {
            "b_id": delivery["id"],
            "b_lease": delivery["lease_id"],
            "b_status": status,
            "b_next": next_at,
            "b_code": outcome.status,
            "b_error": outcome.error,
            "b_now": now,
        }
        attempt = {
            "id": new_id("att"),
            "delivery_id": delivery["id"],
            "number": number,
            "started_at": started,
            "duration_ms": round(outcome.duration_ms, 3),
            "request": {}
            if request is None
            else {
                "url": request.url,
                "method": request.method,
                "headers": mask_headers(request.headers),
                "body": _text(request.body, limit),
            },
            "response": None
            if outcome.status is None
            else {
                "status_code": outcome.status,
                "headers": mask_headers(outcome.headers),
                "body": _text(outcome.body, limit),
            },
            "error": outcome.error,
            "succeeded": outcome.ok,
        }
        log.debug(
            "delivery %s attempt %d: %s", delivery["id"], number, outcome.status or outcome.error
        )
        return update, attempt

    # -- record -----------------------------------------------------------------------------------

    async def _record_loop(self) -> None:
        while True:
            item = await self._results.get()
            stopping = item is None
            batch = [] if item is None else [item]
            while len(batch) < RECORD_BATCH:
                try:
                    more = self._results.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if more is None:
                    stopping = True
                else:
                    batch.append(more)
            if batch:
                await self._write(batch)
            self._recorded.set()
            if stopping and self._results.empty():
                return

    async def _write(self, batch: list[tuple[Row, Row]]) -> None:
        while True:
            try:
                await self.store.finish([u for u, _ in batch], [a for _, a in batch])
                return
            except Exception:
                # Keep the outcomes: dropping them would resend deliveries that already succeeded.
                log.exception("recording %d outcomes failed; retrying", len(batch))
                await asyncio.sleep(DB_RETRY_DELAY)
