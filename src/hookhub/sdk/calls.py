"""The v1 API's operations, each described once (method, path, body, how to read the answer)
and run by both `Client` and `AsyncClient`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar, Unpack, cast

from hookhub.sdk.models import (
    Accepted,
    Attempt,
    AuditEntry,
    Delivery,
    EventFields,
    EventType,
    Page,
    PortalLink,
    Rule,
    Tenant,
    TestResult,
    Webhook,
    Workflow,
)

T = TypeVar("T")
Json = Any


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP request to `/api/v1` and the function that turns its JSON answer into `T`."""

    method: str
    path: str
    read: Callable[[Json], T]
    json: Json = None
    params: Mapping[str, Any] = field(default_factory=dict)


def _as(kind: type[T]) -> Callable[[Json], T]:
    # TypedDicts are plain dicts at run time: the JSON is the value. `kind` only tells the
    # type checker what T is.
    return lambda body: cast(T, body)


def _page(kind: type[T]) -> Callable[[Json], Page[T]]:
    return lambda body: Page(items=cast(list[T], body["items"]), next=body["next"])


def _nothing(_body: Json) -> None:
    return None


def _listing(
    path: str, kind: type[T], cursor: str | None, limit: int | None, **filters: Any
) -> Call[Page[T]]:
    params = {
        name: value
        for name, value in {**filters, "cursor": cursor, "limit": limit}.items()
        if value is not None
    }
    return Call("GET", path, _page(kind), params=params)


def _iso(moment: datetime | str | None) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else moment


# -- events -----------------------------------------------------------------------------------


def emit(
    object_type: str, event: str, data: Any = None, **fields: Unpack[EventFields]
) -> Call[Accepted]:
    """Emit one event (`id` makes it idempotent: an id seen before is accepted, not redone)."""
    return emit_many([{"object_type": object_type, "event": event, "data": data, **fields}])


def emit_many(events: Sequence[Mapping[str, Any]]) -> Call[Accepted]:
    """Emit a batch of events (dicts with the API's event fields) in one request."""
    return Call("POST", "/events", _accepted, json=list(events))


def _accepted(body: Json) -> Accepted:
    return Accepted(ids=body["ids"], deliveries=body["deliveries"])


# -- webhooks, rules, workflows, event types --------------------------------------------------


@dataclass(frozen=True)
class Resource(Generic[T]):
    """The five calls of a resource kept at `path`: create, get, update, delete and list."""

    path: str
    kind: type[T]

    def create(self, **fields: Any) -> Call[T]:
        """Create one (the API's fields for this resource)."""
        return Call("POST", self.path, _as(self.kind), json=fields)

    def get(self, item_id: str) -> Call[T]:
        """One by id."""
        return Call("GET", f"{self.path}/{item_id}", _as(self.kind))

    def update(self, item_id: str, **fields: Any) -> Call[T]:
        """Change some fields of one."""
        return Call("PATCH", f"{self.path}/{item_id}", _as(self.kind), json=fields)

    def delete(self, item_id: str) -> Call[None]:
        """Delete one."""
        return Call("DELETE", f"{self.path}/{item_id}", _nothing)

    def list(self, cursor: str | None = None, limit: int | None = None) -> Call[Page[T]]:
        """A page of them, newest first."""
        return _listing(self.path, self.kind, cursor, limit)


webhooks = Resource("/webhooks", Webhook)
rules = Resource("/rules", Rule)
workflows = Resource("/workflows", Workflow)
# Keyed by name (`get("invoice.paid")`), listed A to Z.
event_types = Resource("/event-types", EventType)
tenants = Resource("/tenants", Tenant)


def test_webhook(webhook_id: str, event: Mapping[str, Any] | None = None) -> Call[TestResult]:
    """Send a test request now and return its outcome (status, body or the network error)."""
    return Call("POST", f"/webhooks/{webhook_id}/test", _as(TestResult), json=event)


# -- deliveries -------------------------------------------------------------------------------


def list_deliveries(
    webhook_id: str | None = None,
    event_id: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> Call[Page[Delivery]]:
    """A page of deliveries, newest first, filtered by webhook, event and status."""
    filters = {"webhook_id": webhook_id, "event_id": event_id, "status": status}
    return _listing("/deliveries", Delivery, cursor, limit, **filters)


def get_delivery(delivery_id: str) -> Call[Delivery]:
    """One delivery by id."""
    return Call("GET", f"/deliveries/{delivery_id}", _as(Delivery))


def list_attempts(delivery_id: str) -> Call[list[Attempt]]:
    """Every attempt of a delivery, oldest first."""
    return Call(
        "GET",
        f"/deliveries/{delivery_id}/attempts",
        lambda body: cast(list[Attempt], body["items"]),
    )


def list_audit(
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> Call[Page[AuditEntry]]:
    """A page of audit log entries, newest first, by object and actor (id or name); admin."""
    filters = {"object_type": object_type, "object_id": object_id, "actor": actor}
    return _listing("/audit", AuditEntry, cursor, limit, **filters)


def retry_delivery(delivery_id: str) -> Call[Delivery]:
    """Make one delivery due again now."""
    return Call("POST", f"/deliveries/{delivery_id}/retry", _as(Delivery))


def retry_failed(webhook_id: str, since: datetime | str | None = None) -> Call[int]:
    """Retry every failed delivery of a webhook (finished since `since`); returns how many."""
    body = {"since": _iso(since)} if since is not None else None
    return Call(
        "POST", f"/webhooks/{webhook_id}/retry-failed", lambda b: int(b["retried"]), json=body
    )


def replay(
    webhook_id: str, since: datetime | str, until: datetime | str | None = None
) -> Call[dict[str, int]]:
    """Deliver again to a webhook the events received in [since, until); returns the counts
    (`events`, `deliveries`)."""
    body = {"since": _iso(since), "until": _iso(until)}
    return Call(
        "POST", f"/webhooks/{webhook_id}/replay", lambda b: cast(dict[str, int], b), json=body
    )


# -- the consumer portal ----------------------------------------------------------------------


def create_portal_link(
    tenant_id: str, expires_in: int = 3600, read_only: bool = False
) -> Call[PortalLink]:
    """A link to the tenant's consumer portal, valid for `expires_in` seconds."""
    body = {"expires_in": expires_in, "read_only": read_only}
    return Call("POST", f"/tenants/{tenant_id}/portal-links", _as(PortalLink), json=body)


def list_portal_links(
    tenant_id: str, cursor: str | None = None, limit: int | None = None
) -> Call[Page[PortalLink]]:
    """A page of the tenant's portal links, newest first (without their URLs)."""
    return _listing(f"/tenants/{tenant_id}/portal-links", PortalLink, cursor, limit)


def revoke_portal_link(tenant_id: str, link_id: str) -> Call[None]:
    """Revoke a portal link: it opens nothing more, and the sessions it started end."""
    return Call("DELETE", f"/tenants/{tenant_id}/portal-links/{link_id}", _nothing)
