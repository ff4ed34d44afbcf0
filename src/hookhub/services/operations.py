"""A webhook's operations: replay a time range of events, send a test, preview a render.

Retry and replay only change stored state (the dispatcher picks the work up); `send_test` and
`preview` render a sample event through the webhook's exact pipeline, now.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from hookhub.core.events import EventIn
from hookhub.core.masking import mask_url
from hookhub.core.templates import RenderError
from hookhub.db.records import StoredEvent
from hookhub.db.store import Row, Store
from hookhub.errors import ValidationError
from hookhub.ids import new_id
from hookhub.outbound.client import OutboundRequest, Sender
from hookhub.outbound.intake import normalize, plan
from hookhub.outbound.rendering import CompiledWebhook, mask_headers
from hookhub.services import webhooks
from hookhub.services.common import Context

REPLAY_BATCH = 500  # events read and planned per step of a replay

# What `send_test` and `preview` render when the caller gives no event.
SAMPLE_EVENT: Mapping[str, Any] = {
    "object_type": "hookhub.test",
    "event": "test",
    "data": {"message": "a test from hookhub"},
    "username": "hookhub",
}


class SampleEvent(EventIn):
    """An event to render or send; every field is optional (a test event by default)."""

    object_type: str = Field(SAMPLE_EVENT["object_type"], min_length=1, max_length=200)
    event: str = Field(SAMPLE_EVENT["event"], min_length=1, max_length=200)


@dataclass(frozen=True)
class Replayed:
    """What a replay did: events in the range, and the deliveries created for them."""

    events: int
    deliveries: int


async def failed_count(store: Store, webhook_id: str) -> int:
    """How many deliveries of a webhook have failed (what retrying the failed would queue)."""
    return await store.failed_count(webhook_id)


async def replay(
    store: Store,
    webhook_id: str,
    since: float,
    until: float,
    every_event: bool = False,
    on_work: Callable[[], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Replayed:
    """New deliveries to a webhook for the events received in [since, until).

    Only the events its enabled rules would send it, unless `every_event`. Events are read and
    queued in batches, so a long range does not hold the database; `progress` hears each batch.
    """
    if until <= since:
        raise ValidationError("until must be after since", field="until")
    webhook = await store.webhooks.get(webhook_id)
    rules = [{**rule, "webhook_id": webhook_id} for rule in await store.rules_of(webhook_id)]
    if every_event:
        rules = [{"webhook_id": webhook_id, "object_types": [], "event_types": []}]
    ordered = {webhook_id: webhook} if webhook["ordering_key"] else {}
    seen = created = 0
    last: Row | None = None
    # Only its own tenant's events (or, for a webhook of no tenant, events of none).
    tenant = webhook["tenant_id"]
    while batch := await store.events_between(since, until, last, REPLAY_BATCH, tenant):
        planned = [
            (event["key"], ordering)
            for event in batch
            for _, ordering in plan(rules, ordered, event)
        ]
        created += await store.add_deliveries(webhook_id, planned, due=webhook["enabled"])
        seen += len(batch)
        last = batch[-1]
        if progress is not None:
            progress(len(batch))
    if created and on_work is not None:
        on_work()
    return Replayed(events=seen, deliveries=created)


async def compiled(ctx: Context, webhook_id: str) -> CompiledWebhook:
    """A webhook with its templates compiled, or NotFound (also another tenant's)."""
    return CompiledWebhook.from_row(await webhooks.get(ctx, webhook_id))


def sample_request(
    webhook: CompiledWebhook, event: Mapping[str, Any] | None, test: bool = False
) -> tuple[OutboundRequest, str]:
    """The exact request `event` (or the sample event) would produce, and its delivery id.
    A `test` without an event sends the preset's test body where it has one (SQLE's test text).
    A template that fails to render is a ValidationError whose message names the field."""
    now = time.time()
    stored = normalize({**SAMPLE_EVENT, **(event or {})}, now)
    delivery_id = new_id("dlv")
    fixed = webhook.test_body() if test and event is None else None
    try:
        return webhook.prepare(StoredEvent.from_row(stored), delivery_id, now, fixed), delivery_id
    except RenderError as exc:
        raise ValidationError(f"template error: {exc}") from None


def describe_request(request: OutboundRequest) -> dict[str, Any]:
    """A request as the API shows it: credentials masked, the body as text."""
    described: dict[str, Any] = {
        "url": mask_url(request.url, template=False),
        "method": request.method,
        "headers": mask_headers(request.headers),
        "body": request.body.decode("utf-8", errors="replace"),
    }
    if request.destination is not None:
        # Where a broker message goes: its kind and rendered targets (exchange, topic, ...).
        described["destination"] = {
            "type": request.destination.kind,
            **request.destination.options,
        }
    return described


async def send_test(
    sender: Sender, webhook: CompiledWebhook, event: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Send the sample request now, outside the queue, and report the receiver's answer or the
    exact network error. Without an event, a `sqle` webhook sends SQLE's own test text."""
    request, _ = sample_request(webhook, event, test=True)
    outcome = await sender.send(request)
    return {
        "ok": outcome.ok,
        "status_code": outcome.status,
        "response_body": outcome.body.decode("utf-8", errors="replace"),
        "error": outcome.error,
        "duration_ms": round(outcome.duration_ms, 3),
        "request": describe_request(request),
    }
