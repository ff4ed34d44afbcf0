"""Object changes as NetBox reports them: one event per object per batch (a request or a
transaction), several changes to it merged the way NetBox merges them.

The first change's prechange snapshot is kept, the last one's data and postchange win, and a
deletion turns the event into `deleted` (created then updated stays `created`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

CREATED, UPDATED, DELETED = "created", "updated", "deleted"


@dataclass
class Change:
    """One object's pending event."""

    object_type: str
    event: str
    data: Any
    prechange: Mapping[str, Any] | None
    postchange: Mapping[str, Any] | None


@dataclass
class Changes:
    """The merged changes of one batch, in the order objects were first changed."""

    pending: dict[Hashable, Change] = field(default_factory=dict)

    def record(self, key: Hashable, change: Change) -> None:
        """Add `change` to the object `key` (e.g. its type and primary key)."""
        earlier = self.pending.get(key)
        if earlier is None:
            self.pending[key] = change
            return
        earlier.data = change.data
        earlier.postchange = change.postchange
        if change.event == DELETED:
            earlier.event = DELETED

    def drain(self, username: str | None, request_id: str | None) -> list[dict[str, Any]]:
        """The batch's events (fields of `hookhub.emit`), emptying it."""
        found = [
            {
                "object_type": change.object_type,
                "event": change.event,
                "data": change.data,
                "snapshots": {"prechange": change.prechange, "postchange": change.postchange},
                "username": username,
                "request_id": request_id,
            }
            for change in self.pending.values()
        ]
        self.pending.clear()
        return found
