"""The operation commands against a running server (`--url`, `--token`) instead of the database.

Each function returns what its database twin does, so a command prints the same either way.
Requests go through the SDK's client (`hookhub.sdk.client`), the one API client hookhub has.
The API's errors come back as hookhub's own (NotFound, ValidationError, ...: exit 2); a server
that can't be reached or refuses the token is a RemoteError (exit 3).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from hookhub.db.history import DeliveryFilter, EventFilter
from hookhub.errors import Conflict, HookhubError, NotFound, ValidationError
from hookhub.sdk.calls import Call
from hookhub.sdk.client import ApiError, Client
from hookhub.services.operations import Replayed

TIMEOUT = 120.0  # seconds: a replay of a long range or a slow receiver's test takes a while
PAGE = 500  # items per page when walking a list
ERRORS: dict[int, type[HookhubError]] = {
    404: NotFound,
    409: Conflict,
    422: ValidationError,
    400: ValidationError,
}


class RemoteError(HookhubError):
    """The hookhub server could not be used."""

    code = "remote"
    exit_code = 3


@dataclass(frozen=True)
class Remote:
    """A hookhub server's API: base URL (`http://host:8000`) and an API token."""

    url: str
    token: str | None

    def __post_init__(self) -> None:
        scheme = urllib.parse.urlsplit(self.url).scheme
        if scheme not in ("http", "https"):
            raise ValidationError(
                f"--url must be an http:// or https:// URL, got {self.url!r}", field="url"
            )
        if not self.token:
            raise ValidationError("--url needs --token (or HOOKHUB_TOKEN)", field="token")

    def call(
        self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None
    ) -> Any:
        """One API call (`path` under /api/v1); the decoded JSON answer, or None if empty."""
        params = {k: v for k, v in (query or {}).items() if v is not None}
        assert self.token is not None  # checked in __post_init__
        try:
            # A client per call: nothing is left open when a command returns (the CLI also runs
            # in-process, in tests and under `python -m hookhub`), and a command makes few calls.
            with Client(self.url, self.token, timeout=TIMEOUT) as client:
                return client.send(Call(method, path, _json, json=body, params=params))
        except ApiError as exc:
            raise _error(exc) from None
        except httpx.TransportError as exc:
            raise RemoteError(f"cannot reach {self.url}: {exc}") from None

    def items(self, path: str, query: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list, page after page."""
        cursor = None
        while True:
            found = self.call("GET", path, query={**(query or {}), "cursor": cursor})
            yield from found["items"]
            cursor = found["next"]
            if cursor is None:
                return

    def find(self, resource: str, ref: str) -> dict[str, Any]:
        """A webhook or workflow by id or name, as the database commands find them."""
        noun = resource.rstrip("s")
        try:
            found: dict[str, Any] = self.call("GET", f"/{resource}/{urllib.parse.quote(ref)}")
            return found
        except NotFound:
            pass
        for item in self.items(f"/{resource}", {"limit": PAGE}):
            if item["name"] == ref:
                return item
        raise NotFound(f"no {noun} with id or name {ref!r}")

    # -- the operations -----------------------------------------------------------------------

    def deliveries(
        self, webhook: str | None, where: DeliveryFilter, limit: int
    ) -> list[dict[str, Any]]:
        query = {
            "webhook_id": None if webhook is None else self.find("webhooks", webhook)["id"],
            "status": where.status,
            "event_id": where.event_id,
            "object_type": where.object_type,
            "event_type": where.event_type,
            "status_code": where.status_code,
            "since": None if where.since is None else _iso(where.since),
            "until": None if where.until is None else _iso(where.until),
            "search": where.search,
            "limit": limit,
        }
        items: list[dict[str, Any]] = self.call("GET", "/deliveries", query=query)["items"]
        return items

    def events(self, where: EventFilter, limit: int) -> list[dict[str, Any]]:
        query = {
            "object_type": where.object_type,
            "event": where.event,
            "since": None if where.since is None else _iso(where.since),
            "until": None if where.until is None else _iso(where.until),
            "limit": limit,
        }
        items: list[dict[str, Any]] = self.call("GET", "/events", query=query)["items"]
        return items

    def retry(self, delivery_id: str) -> None:
        self.call("POST", f"/deliveries/{urllib.parse.quote(delivery_id)}/retry")

    def retry_failed(self, webhook: str, since: float | None) -> int:
        webhook_id = self.find("webhooks", webhook)["id"]
        body = {} if since is None else {"since": _iso(since)}
        retried: int = self.call("POST", f"/webhooks/{webhook_id}/retry-failed", body)["retried"]
        return retried

    def replay(self, webhook_id: str, since: float, until: float, every: bool) -> Replayed:
        body = {"since": _iso(since), "until": _iso(until), "all_events": every}
        done = self.call("POST", f"/webhooks/{webhook_id}/replay", body)
        return Replayed(events=done["events"], deliveries=done["deliveries"])

    def send_test(self, webhook: str, event: dict[str, Any] | None) -> dict[str, Any]:
        webhook_id = self.find("webhooks", webhook)["id"]
        result: dict[str, Any] = self.call("POST", f"/webhooks/{webhook_id}/test", event)
        return result


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _json(body: Any) -> Any:
    return body


def _error(exc: ApiError) -> HookhubError:
    """The hookhub error an API refusal stands for. An answer that is not hookhub's (a proxy's
    page) has, as the SDK gives it, the start of its body as message."""
    if exc.status in (401, 403):
        kind = "refused the token" if exc.status == 401 else "needs a token with a larger scope"
        return RemoteError(f"the server {kind}: {exc.message}")
    if exc.status in ERRORS:
        return ERRORS[exc.status](exc.message, field=exc.field)
    return RemoteError(f"the server answered {exc.status}: {exc.message}")
