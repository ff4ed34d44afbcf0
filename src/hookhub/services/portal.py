"""What the consumer portal does for a tenant's customer, beyond plain webhook changes: an
endpoint's subscribed event types kept as rules, endpoints made the portal's way (a plain URL,
a generated secret, Standard Webhooks' body), and example events sent to the tenant.

Every function takes the portal's `Context`, whose actor is held to one tenant: the services
below it decide what that tenant may see and change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hookhub.core import signing
from hookhub.core.events import EventIn
from hookhub.db.history import DeliveryFilter
from hookhub.db.store import Row
from hookhub.errors import ValidationError
from hookhub.outbound.intake import Accepted, Intake
from hookhub.services import deliveries, event_types, events, operations, rules, webhooks
from hookhub.services.common import Context
from hookhub.services.rules import RuleIn
from hookhub.services.webhook_input import WebhookIn

PLAIN_URL = re.compile(r"^https?://[^/?#\s{}%]+[^\s{}]*$", re.IGNORECASE)
PRESET = "standard"  # {"type", "timestamp", "data"}: what Standard Webhooks recommends
EVERY_TYPE = "*"  # shown for a rule's object or event types left empty (every one)


@dataclass(frozen=True)
class Endpoint:
    """A tenant's webhook as the portal shows it: its fields and the event types it gets."""

    webhook: dict[str, Any]
    event_types: list[str]  # empty: every event type


def split_type(name: str) -> tuple[str, str]:
    """An event type name's object type and event: `invoice.paid` -> (`invoice`, `paid`)."""
    object_type, dot, event = name.strip().rpartition(".")
    if not dot or not object_type or not event:
        raise ValidationError(
            f"an event type is object_type.event (e.g. invoice.paid), got {name!r}",
            field="event_types",
        )
    return object_type, event


def check_types(types: Sequence[str]) -> None:
    """ValidationError naming the first of `types` that is not `object_type.event`."""
    for name in types:
        split_type(name)


def _checked_url(url: str) -> str:
    # Customers give a plain address: no templates (they render on the operator's hookhub).
    if not PLAIN_URL.match(url):
        raise ValidationError(
            "give the endpoint's address, e.g. https://example.com/webhooks", field="url"
        )
    return url


def rules_for(webhook_id: str, types: Sequence[str]) -> list[RuleIn]:
    """The rules that send `types` (none: every type) to a webhook: one per object type."""
    if not types:
        return [RuleIn(name=f"{webhook_id} all", webhook_id=webhook_id)]
    grouped: dict[str, list[str]] = {}
    for name in dict.fromkeys(types):
        object_type, event = split_type(name)
        grouped.setdefault(object_type, []).append(event)
    return [
        RuleIn(
            name=f"{webhook_id} {object_type}",
            object_types=[object_type],
            event_types=names,
            webhook_id=webhook_id,
        )
        for object_type, names in grouped.items()
    ]


def subscribed(rows: Sequence[Row]) -> list[str]:
    """The event types a webhook's rules send it (empty: every type)."""
    found: list[str] = []
    for rule in rows:
        if not rule["object_types"] and not rule["event_types"]:
            return []
        for object_type in rule["object_types"] or [EVERY_TYPE]:
            for event in rule["event_types"] or [EVERY_TYPE]:
                # A rule of no object type may name a type in full (`invoice.paid`).
                whole = object_type == EVERY_TYPE and "." in event
                found.append(event if whole else f"{object_type}.{event}")
    return sorted(set(found))


async def endpoints(
    ctx: Context, cursor: str | None, limit: int
) -> tuple[list[Endpoint], str | None]:
    """A page of the tenant's endpoints with their event types, newest first."""
    rows, next_cursor = await webhooks.page(ctx, cursor, limit)
    return [await _endpoint(ctx, row) for row in rows], next_cursor


async def endpoint(ctx: Context, webhook_id: str) -> Endpoint:
    """One of the tenant's endpoints; NotFound for anyone else's."""
    return await _endpoint(ctx, await webhooks.get(ctx, webhook_id))


async def _endpoint(ctx: Context, row: Row) -> Endpoint:
    found, _ = await rules.page(ctx, None, 1000, webhook_id=row["id"])
    return Endpoint(webhooks.public(row), subscribed(found))


async def create(ctx: Context, name: str, url: str, types: Sequence[str]) -> Endpoint:
    """A new endpoint of the tenant: a signed webhook sending Standard Webhooks' body, and the
    rules that send it `types` (none: every type)."""
    hook = WebhookIn.model_validate(
        {
            "name": name,
            "url": _checked_url(url),
            "preset": PRESET,
            "secret": signing.generate_secret(),
        }
    )
    check_types(types)  # before anything is stored
    row = await webhooks.create(ctx, hook)
    try:
        await _subscribe(ctx, row["id"], types)
    except Exception:
        await webhooks.delete(ctx, row["id"])  # no endpoint without its subscriptions
        raise
    return await endpoint(ctx, row["id"])


async def change(
    ctx: Context, webhook_id: str, name: str, url: str, types: Sequence[str]
) -> Endpoint:
    """Rename an endpoint, move it to `url`, and send it `types` from now on."""
    current = await webhooks.get(ctx, webhook_id)
    check_types(types)  # before anything changes
    await webhooks.change(ctx, current["id"], {"name": name, "url": _checked_url(url)})
    await _subscribe(ctx, webhook_id, types)
    return await endpoint(ctx, webhook_id)


async def _subscribe(ctx: Context, webhook_id: str, types: Sequence[str]) -> None:
    """Replace the webhook's rules with those sending it `types`."""
    old, _ = await rules.page(ctx, None, 1000, webhook_id=webhook_id)
    for row in old:
        await rules.delete(ctx, row["id"])
    for rule in rules_for(webhook_id, types):
        await rules.create(ctx, rule)


async def catalog(ctx: Context) -> list[Row]:
    """The event types the portal offers to subscribe to and send examples of, A to Z."""
    return await event_types.every(ctx)


async def send_example(ctx: Context, intake: Intake, type_name: str) -> Accepted:
    """Emit an event of `type_name` for the tenant, with the catalog's first example as its
    data (`{}` without one): each endpoint subscribed to the type gets a delivery."""
    object_type, event = split_type(type_name)
    known = {row["name"]: row for row in await catalog(ctx)}
    examples = known[type_name]["examples"] if type_name in known else None
    data = examples[0] if examples else {}
    example = EventIn(object_type=object_type, event=event, data=data)
    return await events.submit(intake, [example], ctx.actor.tenant_id)


async def delivery_filter(ctx: Context, endpoint: str | None, status: str | None) -> DeliveryFilter:
    """The tenant's deliveries (to `endpoint` only, if given: NotFound for anyone else's) with
    `status`; ValidationError for an unknown status."""
    if endpoint:
        await webhooks.get(ctx, endpoint)
    where = DeliveryFilter(webhook_id=endpoint, status=status)
    for field, message in deliveries.filter_problems(where).items():
        raise ValidationError(message, field=field)
    return where


async def failed_count(ctx: Context, endpoint: str) -> int:
    """How many deliveries to one of the tenant's endpoints have failed."""
    await webhooks.get(ctx, endpoint)
    return await operations.failed_count(ctx.store, endpoint)
