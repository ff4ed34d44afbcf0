"""What the API client returns: the v1 API's JSON objects, typed (see docs/sdk.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar

Item = TypeVar("Item")


@dataclass(frozen=True)
class Accepted:
    """`POST /events`: each event's id, and how many deliveries they created."""

    ids: list[str]
    deliveries: int


@dataclass(frozen=True)
class Page(Generic[Item]):
    """One page of a list; pass `next` as `cursor` for the following one (None: the last)."""

    items: list[Item]
    next: str | None


class EventFields(TypedDict, total=False):
    """An event's optional fields, beside `object_type`, `event` and `data`."""

    snapshots: Mapping[str, Any] | None  # {"prechange": {...}, "postchange": {...}}
    username: str | None
    request_id: str | None
    timestamp: str | None  # ISO 8601; default now
    id: str | None  # idempotency key: an id seen before is accepted, not processed again
    tenant_id: str | None  # reaches only this tenant's webhooks (a tenant's token: its own)


class Webhook(TypedDict, total=False):
    """A webhook as the API shows it: secrets masked, `public_key` for v1a secrets."""

    id: str
    name: str
    url: str
    method: str
    secret: str | None
    public_key: str | None
    enabled: bool
    retry: dict[str, Any]
    tenant_id: str | None  # the tenant it belongs to; null: none


class Rule(TypedDict, total=False):
    """An event rule: which events (types, conditions) go to which webhook."""

    id: str
    name: str
    object_types: list[str]
    event_types: list[str]
    conditions: dict[str, Any] | None
    webhook_id: str
    enabled: bool
    tenant_id: str | None  # always its webhook's tenant
    # In the answer to a create or update only: what may keep the rule from ever matching.
    warnings: list[str]


class Tenant(TypedDict, total=False):
    """A tenant: a customer of yours, owning its webhooks, rules, events and tokens."""

    id: str
    name: str
    metadata: dict[str, Any] | None
    rate_limit: float | None  # deliveries per second across its webhooks
    max_concurrency: int | None  # sends in flight at once across its webhooks
    created_at: str
    updated_at: str


class Workflow(TypedDict, total=False):
    """A workflow and its trigger URL (`url`, `/hooks/<key>`)."""

    id: str
    name: str
    key: str
    url: str
    enabled: bool
    trigger: dict[str, Any]
    start: str
    nodes: list[dict[str, Any]]


class EventType(TypedDict, total=False):
    """An event type of the catalog: `name` is `object_type + "." + event`; `schema` (JSON
    Schema of the events' `data`) is checked at intake."""

    name: str
    description: str
    schema: dict[str, Any] | None
    examples: list[Any]
    deprecated: bool
    created_at: str
    updated_at: str


class Delivery(TypedDict, total=False):
    """One (event, webhook) pair being delivered, and where it stands."""

    id: str
    event_id: str
    webhook_id: str
    status: str
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None


class Attempt(TypedDict, total=False):
    """One try of a delivery: the request sent, the response, how long it took, any error."""

    id: str
    number: int
    request: dict[str, Any]
    response: dict[str, Any] | None
    error: str | None
    succeeded: bool


class AuditEntry(TypedDict, total=False):
    """Who changed which object and when; `changes` holds the changed fields, secrets masked."""

    id: str
    at: str
    actor_kind: str  # user | token | portal | cli | system
    actor_id: str | None
    actor_name: str | None
    tenant_id: str | None
    action: str  # webhook.created, rule.deleted, token.revoked, ...
    object_type: str
    object_id: str | None
    object_name: str | None
    changes: dict[str, Any] | None


class TestResult(TypedDict):
    """`POST /webhooks/{id}/test`: the outcome of a request sent now."""

    ok: bool
    status_code: int | None
    response_body: str | None
    error: str | None


class PortalLink(TypedDict, total=False):
    """A link to a tenant's consumer portal; its `url` only in the answer that made it."""

    id: str
    tenant_id: str
    url: str
    expires_at: str
    read_only: bool
    created_at: str
