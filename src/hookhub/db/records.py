"""The typed records storage hands the delivery path and takes back from it.

A claim yields `ClaimedDelivery`s with the `StoredEvent`s and `WebhookConfig`s they name; the
dispatcher answers with a `DeliveryOutcome` and an `AttemptRecord` per send, and the `Health`
of each webhook in the batch; storage reports the webhooks that disabled as
`DisabledWebhook`s. `Row` (a dict keyed by column) stays inside `db/` and at the JSON edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hookhub.core.limits import Pace

Row = dict[str, Any]
JSONObject = dict[str, Any]

# The records made once per delivery are not frozen: a frozen dataclass's __init__ sets each
# field through object.__setattr__, about four times the cost of a plain one (13,500 against
# 3,400 instructions for 8 fields); the ~50 fields of one send's records cost ~60,000 of its
# ~900,000 instructions. They are built once and only read after.


@dataclass(slots=True)
class ClaimedDelivery:
    """A delivery leased to one worker: what it sends, and how the claim scheduled it."""

    id: str
    lease_id: str
    event_key: str | None  # events.key; None: a callback (DESIGN O12), which has its own target
    webhook_id: str | None
    attempts: int  # attempts made before this one
    ordering_key: str | None
    callback: JSONObject | None
    payload: JSONObject | None
    # Rate- or concurrency-limited webhook: when this send may start (None: at once), and that
    # finishing it may let another delivery of its webhook go.
    limited: bool = False
    send_at: float | None = None
    pace: Pace = ()  # with `send_at`: the rate limits it keeps (`Pacer`)


@dataclass(slots=True)  # not frozen: see above
class StoredEvent:
    """An event as intake stored it, what templates render."""

    id: str
    object_type: str
    event: str
    timestamp: str
    username: str | None = None
    request_id: str | None = None
    data: Any = None
    snapshots: Any = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StoredEvent:
        """The event in an `events` row (or a normalized event about to be one)."""
        return cls(
            row["id"],
            row["object_type"],
            row["event"],
            row["timestamp"],
            row.get("username"),
            row.get("request_id"),
            row.get("data"),
            row.get("snapshots"),
        )


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """What a webhook's row says about sending to it (one version of it)."""

    id: str
    name: str
    version: int
    url: str
    method: str
    content_type: str
    headers: str
    body_template: str | None
    preset: str | None
    secret: str | None
    previous_secrets: list[JSONObject]
    timeout: float
    ssl_verification: bool
    ca_file_path: str | None
    client_cert_path: str | None
    client_key_path: str | None
    auth: JSONObject | None
    cookies: JSONObject | None
    retry: JSONObject
    destination: JSONObject | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> WebhookConfig:
        """The config in a `webhooks` row; or in a draft, which may lack the optional columns."""
        return cls(
            id=row["id"],
            name=row["name"],
            version=row["version"],
            url=row["url"],
            method=row["method"],
            content_type=row["content_type"],
            headers=row["headers"] or "",
            body_template=row["body_template"],
            preset=row["preset"],
            secret=row["secret"],
            previous_secrets=row.get("previous_secrets") or [],
            timeout=row["timeout"],
            ssl_verification=row["ssl_verification"],
            ca_file_path=row["ca_file_path"],
            client_cert_path=row.get("client_cert_path"),
            client_key_path=row.get("client_key_path"),
            auth=row["auth"],
            cookies=row["cookies"],
            retry=row["retry"],
            destination=row.get("destination"),
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """Deliveries leased together under one lease id, with their events (by id) and webhooks;
    and the webhooks whose stored limits could not be applied (id → why), claimed nothing for."""

    lease_id: str
    deliveries: list[ClaimedDelivery]
    events: dict[str, StoredEvent]
    webhooks: list[WebhookConfig]
    broken: dict[str, str]


@dataclass(slots=True)  # not frozen: see above
class DeliveryOutcome:
    """A delivery's new state after an attempt, applied only while `lease_id` still holds it."""

    delivery_id: str
    lease_id: str
    status: str  # succeeded, failed, or pending (a retry at `next_attempt_at`)
    next_attempt_at: float | None
    status_code: int | None
    error: str | None
    at: float  # when the outcome was decided


@dataclass(slots=True)  # not frozen: see above
class AttemptRecord:
    """One attempt of a delivery, as the log keeps it."""

    id: str
    delivery_id: str
    number: int
    started_at: float
    duration_ms: float
    request: JSONObject  # what was sent: the URL, method, headers and body, masked
    response: JSONObject | None  # None: no answer came
    error: str | None
    succeeded: bool


@dataclass(frozen=True, slots=True)
class Health:
    """A webhook's attempts in one recorded batch: did any succeed, and the failures after the
    last success (how many, and when the first of them started)."""

    webhook_id: str
    recovered: bool
    failures: int
    first_failure_at: float | None


@dataclass(frozen=True, slots=True)
class DisabledWebhook:
    """A webhook storage just disabled, and why."""

    id: str
    name: str
    url: str
    disabled_at: float
    reason: str
