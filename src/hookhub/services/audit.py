"""The audit log: who (a UI user, an API token, a portal link, the CLI or `apply`) changed
which webhook, rule, workflow, token, tenant, portal link or user's role, and when.

The services write the entries, so every door's changes are recorded alike: `entry` is a
write that goes into the same transaction as the change it records (`store.commit`), so a
change is never without its entry. Values are recorded as the services show them, secrets
masked: an entry never holds a secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from hookhub.core.times import iso
from hookhub.db import changes
from hookhub.db.store import Row
from hookhub.ids import new_id
from hookhub.services.common import Actor, Context

Shown = Callable[[Row], dict[str, Any]]  # a row as the services show it (secrets masked)


def entry(
    actor: Actor, action: str, row: Row, changed: dict[str, Any] | None = None
) -> changes.Record:
    """The entry saying that `actor` did `action` (`webhook.updated`) to the object `row`,
    with its `changed` fields: a write for the change's own transaction."""
    return changes.Record(
        {
            "id": new_id("aud"),
            "at": time.time(),
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "actor_name": actor.name,
            "tenant_id": row.get("tenant_id") or actor.tenant_id,
            "action": action,
            "object_type": action.partition(".")[0],
            "object_id": row.get("id"),
            "object_name": row.get("name"),
            "changes": changed,
        }
    )


def changed(before: Row, after: Row, fields: Iterable[str], shown: Shown) -> dict[str, Any]:
    """The `fields` whose stored values differ between `before` and `after`, each with its
    value as shown (`shown` masks secrets) before and after."""
    old, new = _shown(before, shown), _shown(after, shown)
    return {
        name: {"from": old.get(name), "to": new.get(name)}
        for name in fields
        if before.get(name) != after.get(name)
    }


def _shown(row: Row, shown: Shown) -> dict[str, Any]:
    try:
        return shown(row)
    except (TypeError, ValueError, KeyError, AttributeError):
        # A stored row that can't be read (edited by hand, or left by an older version), as
        # when such a webhook is healed by a PATCH: its values are left out of the entry.
        return {}


def updated(
    actor: Actor, kind: str, before: Row, after: Row, fields: Iterable[str], shown: Shown
) -> changes.Record:
    """The entry of a change from `before` to `after`: `<kind>.enabled` or `.disabled` when
    only `enabled` changed, `<kind>.updated` otherwise."""
    found = changed(before, after, fields, shown)
    action = "updated"
    if set(found) == {"enabled"}:
        action = "enabled" if after["enabled"] else "disabled"
    return entry(actor, f"{kind}.{action}", after, found)


SHOWN = (
    "id",
    "at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "tenant_id",
    "action",
    "object_type",
    "object_id",
    "object_name",
    "changes",
)


def shown(row: Row) -> dict[str, Any]:
    """An entry as every door shows it."""
    return {**{name: row[name] for name in SHOWN}, "at": iso(row["at"])}


async def page(
    ctx: Context,
    cursor: str | None,
    limit: int,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Entries newest first, after `cursor`, filtered by object and actor (id or name); a
    tenant's actor sees only its tenant's entries. And the next page's cursor."""
    rows, next_cursor = await ctx.store.audit.page(
        cursor, limit, object_type, object_id, actor, ctx.actor.tenant_id
    )
    return [shown(row) for row in rows], next_cursor


async def count(
    ctx: Context, cap: int, object_type: str | None = None, object_id: str | None = None
) -> int:
    """How many entries (of `object_type`, of `object_id`) `ctx.actor` may see, counting no
    further than `cap`."""
    return await ctx.store.audit.count(cap, object_type, object_id, ctx.actor.tenant_id)
