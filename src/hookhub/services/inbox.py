"""Capture inboxes: a per-user URL that records any request with its signature verdict (the
browser's counterpart of `hookhub receiver`), rate-limited, keeping the newest few."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hookhub.db import captures, users
from hookhub.db.store import Row, Store
from hookhub.ids import new_id
from hookhub.receiver import signature_verdicts

CAPTURE_LIMIT = 256 * 1024  # bytes of a captured body kept; the rest is counted as truncated
CAPTURES_KEPT = 100  # per inbox; older captures are dropped as new ones arrive
RATE = 20  # captures per second and inbox, per process; more are refused
UNCHECKED = "Signature: not checked (set a secret on the inbox page)"
_recent: dict[str, tuple[int, int]] = {}  # inbox key -> (second, captures in it)


@dataclass(frozen=True)
class Received:
    """A request an inbox captures: its body cut at `CAPTURE_LIMIT` (`truncated` if longer)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    truncated: bool


async def owner(store: Store, inbox_key: str) -> Row | None:
    """The user whose inbox has this key, if any."""
    return await users.inbox_owner(store, inbox_key)


def allowed(inbox_key: str, now: float) -> bool:
    """Whether one more capture fits this inbox's rate this second (counting it if so)."""
    second = int(now)
    start, count = _recent.get(inbox_key, (second, 0))
    count = count + 1 if start == second else 1
    if len(_recent) > 10_000:
        _recent.clear()  # bounded memory: forgetting the counts only loosens the limit a moment
    _recent[inbox_key] = (second, count)
    return count <= RATE


async def capture(store: Store, inbox: Row, received: Received, now: float) -> None:
    """Record a request in a user's inbox with its signature verdict (by the inbox's secret)."""
    secret = inbox["inbox_secret"]
    headers = dict(received.headers)
    verdict = signature_verdicts(secret, headers, received.body) if secret else [UNCHECKED]
    values = {
        "id": new_id("cap"),
        "inbox_key": inbox["inbox_key"],
        "received_at": now,
        "method": received.method,
        "path": received.path,
        "query": received.query,
        "headers": headers,
        "body": received.body,
        "truncated": received.truncated,
        "verdict": verdict,
    }
    await captures.record(store, values, CAPTURES_KEPT)


async def captured(store: Store, inbox_key: str) -> list[Row]:
    """An inbox's captures, newest first."""
    return await captures.of_inbox(store, inbox_key, CAPTURES_KEPT)
