"""The dispatcher: claim → render → sign → send → record → schedule a retry or finish.

One asyncio loop per process (`hookhub.outbound.lease_worker`) claims due deliveries in
batches under a lease, sends them concurrently over the shared session, and a single recorder
task writes outcomes back in batches. A crash at any point loses nothing: unrecorded
deliveries are re-claimed when their lease expires (at-least-once; the receiver
deduplicates on `webhook-id`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hookhub.core import limits
from hookhub.core.masking import mask_url
from hookhub.core.retry import RetryPolicy, retry_after
from hookhub.core.templates import RenderError
from hookhub.db import wake
from hookhub.db.records import (
    AttemptRecord,
    ClaimedDelivery,
    DeliveryOutcome,
    DisabledWebhook,
    Health,
    StoredEvent,
    WebhookConfig,
)
from hookhub.db.store import Store
from hookhub.errors import HookhubError
from hookhub.ids import new_id
from hookhub.metrics import Metrics
from hookhub.outbound import callbacks, intake
from hookhub.outbound.client import OutboundRequest, Outcome, Sender
from hookhub.outbound.lease_worker import Held, Leased, LeaseWorker
from hookhub.outbound.rendering import CompiledWebhook, mask_headers
from hookhub.settings import Settings

log = logging.getLogger("hookhub.dispatcher")

RECORD_BATCH = 500  # outcomes written per transaction, at most
RECORD_WAIT = 0.002  # seconds an outcome waits for others to share its transaction
DB_RETRY_DELAY = 1.0  # seconds before retrying a failed database write
CALLBACK_RETRY = RetryPolicy()  # callbacks have no webhook row to carry a policy
# A receiver answering with this header asks us to stop retrying the delivery.
ABORT_HEADER, ABORT_VALUE = "webhook-delivery", "abort-message"
# The operational event emitted when a webhook is disabled, so a rule can notify someone.
DISABLED_OBJECT_TYPE, DISABLED_EVENT = "hookhub.webhook", "webhook.disabled"
# What an attempt keeps of a response's headers, in their order: all of a usual answer (a dozen
# or two headers, a few KiB); of a hostile one, a quarter of the client's header limits. The
# attempt's `headers_omitted` counts the headers left out.
STORED_HEADERS = 50  # headers
STORED_HEADER_BYTES = 16 * 1024  # characters of names and values


@dataclass(slots=True)  # not frozen: one per send (see hookhub.db.records)
class Recorded:
    """One attempt's outcome, ready to write: the delivery's new state and the attempt record."""

    outcome: DeliveryOutcome
    attempt: AttemptRecord
    webhook_id: str | None
    gone: bool  # the receiver answered 410 Gone: disable the webhook
    # Ordered or limited: finishing it may let another delivery of its webhook go now.
    unblocks: bool


def _text(data: bytes, limit: int) -> str:
    return data[:limit].decode("utf-8", errors="replace")


def _request_log(request: OutboundRequest, body_limit: int) -> dict[str, Any]:
    """What an attempt keeps of the request: credentials masked, the body up to the limit;
    for a broker destination, where the message went too (exchange, subject, stream, topic)."""
    logged: dict[str, Any] = {
        "url": mask_url(request.url, template=False),
        "method": request.method,
        "headers": mask_headers(request.headers),
        "body": _text(request.body, body_limit),
    }
    if request.destination is not None:
        logged["destination"] = {"type": request.destination.kind, **request.destination.options}
    return logged


def _response(outcome: Outcome, body_limit: int) -> dict[str, Any]:
    """What an attempt keeps of a response: the headers up to the STORED_ limits, masked."""
    kept: dict[str, str] = {}
    room = STORED_HEADER_BYTES
    for name, value in outcome.headers.items():
        room -= len(name) + len(value)
        if room < 0 or len(kept) == STORED_HEADERS:
            break
        kept[name] = value
    response = {
        "status_code": outcome.status,
        "headers": mask_headers(kept),
        "body": _text(outcome.body, body_limit),
    }
    if len(kept) < len(outcome.headers):
        response["headers_omitted"] = len(outcome.headers) - len(kept)
    return response


class Dispatcher(LeaseWorker):
    """Delivers due webhooks until stopped; `drain()` delivers what is due and returns."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        sender: Sender | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__(
            concurrency=settings.concurrency,
            batch=settings.claim_batch,
            poll_interval=settings.poll_interval,
            noun="deliveries",
            log=log,
        )
        self.store = store
        self.settings = settings
        self.sender = sender or Sender.for_settings(settings)
        self.metrics = metrics
        self._webhooks: dict[str, CompiledWebhook] = {}
        self._pacer = limits.Pacer()
        # Delivery id → time.time() its request started, while the request runs: one cut off
        # by a shutdown may have reached the receiver.
        self._sending: dict[str, float] = {}
        self._results: asyncio.Queue[Recorded | None] = asyncio.Queue()
        self._recorded = asyncio.Event()
        self._recorder: asyncio.Task[None] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and deliver until `stop` is set, then finish in-flight sends and record them."""
        # SQLite: other processes' commits (hookhub.emit) wake us through a datagram.
        waker = wake.Receiver.open(self.settings.database_url, self.wake)
        try:
            await super().run(stop)
        finally:
            if waker is not None:
                waker.close()

    # -- the lease loop's steps ----------------------------------------------------------------

    async def _start(self) -> None:
        self._recorder = asyncio.create_task(self._record_loop())

    async def _flush(self) -> None:
        self._results.put_nowait(None)
        if self._recorder is not None:
            await self._recorder

    async def _settle(self) -> bool:
        if self._results.empty():
            return False
        self._recorded.clear()
        await self._recorded.wait()
        return True

    async def _release(self, abandoned: Sequence[Held]) -> int:
        # Unrecorded: due again now for another worker, rather than when the lease ends;
        # a send cut off midway is logged as an attempt of unknown outcome.
        sending = {d: self._sending[d] for d, _ in abandoned if d in self._sending}
        return await self.store.release(abandoned, sending)

    # -- claim ------------------------------------------------------------------------------------

    async def _claim(self, wanted: int) -> tuple[list[Leased], bool]:
        claim = await self.store.claim(wanted, self.settings.lease_margin)
        claimed = claim.deliveries
        full = len(claimed) == wanted
        webhooks, unusable = self._compiled(claim.webhooks)
        if unusable:
            # Unsent: given back before their webhook is disabled, which makes them wait.
            await self._give_back([(d.id, d.lease_id) for d in claimed if d.webhook_id in unusable])
            claimed = [d for d in claimed if d.webhook_id not in unusable]
        if claim.broken or unusable:
            await self._disable({**claim.broken, **unusable})
        work = []
        for delivery in claimed:
            sending = self._deliver(
                delivery,
                None if delivery.event_key is None else claim.events.get(delivery.event_key),
                None if delivery.webhook_id is None else webhooks.get(delivery.webhook_id),
            )
            work.append(Leased(delivery.id, delivery.lease_id, sending))
        return work, full

    def _compiled(
        self, configs: list[WebhookConfig]
    ) -> tuple[dict[str, CompiledWebhook], dict[str, str]]:
        """The claimed webhooks, compiled (cached per version); and those whose stored config
        cannot be used at all (id → why), which an older version or a hand edit can leave."""
        unusable: dict[str, str] = {}
        for config in configs:
            cached = self._webhooks.get(config.id)
            if cached is None or cached.version != config.version:
                try:
                    self._webhooks[config.id] = _sender_of(config)
                except Exception as exc:
                    self._webhooks.pop(config.id, None)
                    unusable[config.id] = (
                        f"its stored settings cannot be used ({type(exc).__name__}: {exc}); "
                        "correct them and enable it again"
                    )
        usable = {c.id: self._webhooks[c.id] for c in configs if c.id in self._webhooks}
        return usable, unusable

    async def _give_back(self, held: list[Held]) -> None:
        """Give claimed deliveries back unsent (`(delivery id, lease id)` pairs)."""
        try:
            await self.store.release(held)
        except Exception:
            # Their lease expires instead.
            log.exception("releasing %d unsent deliveries failed", len(held))

    # -- deliver ----------------------------------------------------------------------------------

    async def _paced(self, send_at: float, pace: limits.Pace) -> None:
        """Wait for a rate-limited send's slot, and past it while its webhook's or tenant's
        previous send was less than an interval ago (slots woken late together)."""
        while True:
            at, now = self._pacer.due(send_at, pace), time.time()
            if at <= now:
                break
            await asyncio.sleep(at - now)
        self._pacer.take(pace, at, now)

    async def _deliver(
        self,
        delivery: ClaimedDelivery,
        event: StoredEvent | None,
        webhook: CompiledWebhook | None,
    ) -> None:
        if delivery.send_at is not None:
            # Rate-limited: claimed ahead within the lease, started at its slot.
            await self._paced(delivery.send_at, delivery.pace)
        started = time.time()
        request: OutboundRequest | None = None
        try:
            request = self._request(delivery, event, webhook, started)
        except RenderError as exc:
            # Templates render the same way every time: retrying cannot help.
            outcome, final = Outcome(status=None, error=f"template error: {exc}"), True
        except HookhubError as exc:
            # A stored callback whose caller plugin is gone: the same on every try.
            outcome, final = Outcome(status=None, error=f"{exc.field}: {exc.message}"), True
        else:
            final = request is None
            if request is None:
                outcome = Outcome(status=None, error="the event or webhook no longer exists")
            else:
                self._sending[delivery.id] = started
                try:
                    outcome = await self.sender.send(request)
                except asyncio.CancelledError:
                    raise  # cut off by a shutdown: `_release` logs an unknown outcome
                except BaseException:
                    del self._sending[delivery.id]
                    raise
                del self._sending[delivery.id]
        policy = CALLBACK_RETRY if webhook is None else webhook.retry
        recorded = self._record(delivery, event, policy, request, outcome, final, started)
        self._results.put_nowait(recorded)

    @staticmethod
    def _request(
        delivery: ClaimedDelivery,
        event: StoredEvent | None,
        webhook: CompiledWebhook | None,
        now: float,
    ) -> OutboundRequest | None:
        spec = delivery.callback
        if spec is not None:
            caller = callbacks.caller_for(spec)
            return caller.build(spec, delivery.payload or {}, delivery.id, now)
        if event is None or webhook is None:
            return None
        return webhook.prepare(event, delivery.id, now)

    def _record(
        self,
        delivery: ClaimedDelivery,
        event: StoredEvent | None,
        policy: RetryPolicy,
        request: OutboundRequest | None,
        outcome: Outcome,
        final: bool,
        started: float,
    ) -> Recorded:
        number = delivery.attempts + 1
        now = time.time()
        if outcome.ok:
            status, next_at = "succeeded", None
        else:
            headers = {k.lower(): v for k, v in outcome.headers.items()}
            final = final or headers.get(ABORT_HEADER, "").strip().lower() == ABORT_VALUE
            delay = None if final else policy.delay_after(number)
            wait = retry_after(headers.get("retry-after"), now)
            if delay is not None and wait is not None:
                delay = max(delay, wait)
            status, next_at = ("failed", None) if delay is None else ("pending", now + delay)
        limit = self.settings.response_body_limit
        update = DeliveryOutcome(
            delivery.id, delivery.lease_id, status, next_at, outcome.status, outcome.error, now
        )
        attempt = AttemptRecord(
            id=new_id("att"),
            delivery_id=delivery.id,
            number=number,
            started_at=started,
            duration_ms=round(outcome.duration_ms, 3),
            request={} if request is None else _request_log(request, limit),
            response=None
            if outcome.status is None and not outcome.confirmed
            else _response(outcome, limit),
            error=outcome.error,
            succeeded=outcome.ok,
        )
        if self.metrics is not None:
            seconds = None if request is None else outcome.duration_ms / 1000
            self.metrics.attempt(delivery.webhook_id, status, seconds)
        if log.isEnabledFor(logging.DEBUG):  # the hot path builds no extras nobody reads
            log.debug(
                "delivery %s attempt %d: %s",
                delivery.id,
                number,
                outcome.status or outcome.error,
                extra={
                    "delivery_id": delivery.id,
                    "event_id": None if event is None else event.id,
                    "webhook_id": delivery.webhook_id,
                },
            )
        return Recorded(
            outcome=update,
            attempt=attempt,
            webhook_id=delivery.webhook_id,
            gone=outcome.status == 410,
            unblocks=delivery.ordering_key is not None or delivery.limited,
        )

    # -- record -----------------------------------------------------------------------------------

    async def _record_loop(self) -> None:
        while True:
            item = await self._results.get()
            if item is not None and self._inflight:
                # Outcomes arriving meanwhile share the transaction: a commit per few ms rather
                # than per outcome (SQLite writes run inline and would otherwise never wait).
                await asyncio.sleep(RECORD_WAIT)
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

    async def _write(self, batch: list[Recorded]) -> None:
        gone = {
            r.webhook_id: f"the receiver answered 410 Gone at {r.attempt.request.get('url')}"
            for r in batch
            if r.gone and r.webhook_id
        }
        while True:
            try:
                disabled = await self.store.finish(
                    [r.outcome for r in batch], [r.attempt for r in batch], _health(batch), gone
                )
                break
            except Exception:
                # Keep the outcomes: dropping them would resend deliveries that already succeeded.
                log.exception("recording %d outcomes failed; retrying", len(batch))
                await asyncio.sleep(DB_RETRY_DELAY)
        if any(r.unblocks for r in batch):
            self._wake.set()
        await self._announce(disabled)

    async def _disable(self, reasons: Mapping[str, str]) -> None:
        """Disable webhooks the claim could not serve (id → why), as a failure streak does."""
        for webhook_id, reason in reasons.items():
            log.error("webhook %s: %s", webhook_id, reason, extra={"webhook_id": webhook_id})
        try:
            disabled = await self.store.disable(reasons)
        except Exception:
            # The claim skips them meanwhile; the next one that meets them tries again.
            log.exception("disabling %d broken webhooks failed", len(reasons))
            return
        await self._announce(disabled)

    async def _announce(self, disabled: Sequence[DisabledWebhook]) -> None:
        """Log each webhook just disabled and emit its `webhook.disabled` event."""
        for webhook in disabled:
            log.warning(
                "webhook %s (%s) disabled: %s",
                webhook.name,
                webhook.id,
                webhook.reason,
                extra={"webhook_id": webhook.id},
            )
            try:
                await intake.ingest(self.store, [disabled_event(webhook)], self.wake)
            except Exception:
                log.exception("emitting webhook.disabled for %s failed", webhook.id)


def _sender_of(config: WebhookConfig) -> CompiledWebhook:
    """A claimed webhook compiled; BrokenLimit if its timeout is out of range (a NaN or
    infinite one would hold a send slot for as long as the receiver keeps the connection)."""
    webhook = CompiledWebhook(config)
    if not limits.MIN_TIMEOUT <= webhook.timeout <= limits.MAX_TIMEOUT:
        raise limits.BrokenLimit(
            f"timeout {webhook.timeout!r} is outside {limits.MIN_TIMEOUT:g} to "
            f"{limits.MAX_TIMEOUT:g} seconds"
        )
    return webhook


def disabled_event(webhook: DisabledWebhook) -> dict[str, Any]:
    """The `webhook.disabled` operational event for a webhook the dispatcher just disabled."""
    at = datetime.fromtimestamp(webhook.disabled_at, UTC).isoformat().replace("+00:00", "Z")
    return {
        # One event per disabling, however many processes notice it.
        "id": f"webhook.disabled:{webhook.id}:{webhook.disabled_at}",
        "object_type": DISABLED_OBJECT_TYPE,
        "event": DISABLED_EVENT,
        "timestamp": at,
        "data": {
            "id": webhook.id,
            "name": webhook.name,
            "url": mask_url(webhook.url),
            "reason": webhook.reason,
            "disabled_at": at,
        },
    }


def _health(batch: Sequence[Recorded]) -> list[Health]:
    """Each webhook's failure streak over `batch`, in the order the attempts finished."""
    streaks: dict[str, Health] = {}
    for r in batch:
        if r.webhook_id is None:
            continue
        old = streaks.get(r.webhook_id, Health(r.webhook_id, False, 0, None))
        if r.attempt.succeeded:
            streaks[r.webhook_id] = Health(r.webhook_id, True, 0, None)
        else:
            first = old.first_failure_at or r.attempt.started_at
            streaks[r.webhook_id] = Health(r.webhook_id, old.recovered, old.failures + 1, first)
    # Sorted: concurrent workers then lock webhook rows in one order and cannot deadlock.
    return [streaks[webhook_id] for webhook_id in sorted(streaks)]
