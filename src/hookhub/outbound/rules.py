"""Event rules: which webhooks an event goes to, and what to warn about when one is saved."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hookhub.core.conditions import evaluate

if TYPE_CHECKING:
    from hookhub.db.store import Store

# hookhub's own event names for changes to an object (any other name is the sender's own).
OWN_EVENTS = ("created", "updated", "deleted")
# Names hookhub emits itself (operational events).
BUILT_IN_EVENTS = ("webhook.disabled",)
# NetBox 4's event type names, as its event rules spell them, and the `event` values its
# webhooks send for them (NetBox's WEBHOOK_EVENT_TYPES), which a NetBox forwarder passes on.
# Job events all arrive as `job_ended`: the job's status (`data.status`) tells them apart.
NETBOX_EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "object_created": ("created",),
    "object_updated": ("updated",),
    "object_deleted": ("deleted",),
    "job_started": ("job_started", "job.started"),
    "job_completed": ("job_ended", "job_completed", "job.completed"),
    "job_failed": ("job_ended", "job_failed", "job.failed"),
    "job_errored": ("job_ended", "job_errored", "job.errored"),
}
# How many of the newest events a saved rule's types are compared with.
SEEN_WINDOW = 10_000  # events


def _job_status(event: Mapping[str, Any]) -> str | None:
    data = event.get("data")
    status = data.get("status") if isinstance(data, Mapping) else None
    if isinstance(status, Mapping):  # NetBox's choice fields: {"value": ..., "label": ...}
        status = status.get("value")
    return status if isinstance(status, str) else None


def _alias_matches(event_type: str, event: Mapping[str, Any]) -> bool:
    """Whether a rule's NetBox event type (`object_created`, `job_failed`...) names `event`."""
    names = NETBOX_EVENT_TYPES.get(event_type)
    if names is None or event["event"] not in names:
        return False
    if event["event"] != "job_ended":
        return True
    return _job_status(event) == event_type.removeprefix("job_")


def matches(rule: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether `event` passes the rule's object types, event types and conditions.

    An empty list of object or event types matches every one. An event type is an event's name
    (`paid`) or its type name in the catalog (`invoice.paid`: object type, dot, name). NetBox's
    event type names match the events NetBox sends for them (`object_created` matches `created`).
    """
    object_types = rule["object_types"]
    if object_types and event["object_type"] not in object_types:
        return False
    event_types = rule["event_types"]
    if (
        event_types
        and event["event"] not in event_types
        and f"{event['object_type']}.{event['event']}" not in event_types
        and not any(_alias_matches(name, event) for name in event_types)
    ):
        return False
    data = event.get("data")
    return evaluate(
        rule.get("conditions"), data if isinstance(data, Mapping) else {}, event.get("snapshots")
    )


def targets(rules: Sequence[Mapping[str, Any]], event: Mapping[str, Any]) -> list[str]:
    """Webhook ids `event` must be delivered to: one per webhook, however many rules point at it."""
    found = dict.fromkeys(rule["webhook_id"] for rule in rules if matches(rule, event))
    return list(found)


def _guess(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(set(known)), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def warnings(
    object_types: Sequence[str],
    event_types: Sequence[str],
    seen_objects: set[str],
    seen_events: set[str],
) -> list[str]:
    """What may keep a rule from ever matching, given the object types and event names of the
    recent events (`seen_*`): told when the rule is saved, never refused.

    A NetBox event type name is said to be one; an unknown event name is warned about when it
    was not seen, or looks like a misspelt known one; an object type when events were seen and
    none of that type."""
    found: list[str] = []
    recent = f"among the last {SEEN_WINDOW} events" if seen_events else "yet"
    known_events = {*OWN_EVENTS, *BUILT_IN_EVENTS, *seen_events}
    for name in event_types:
        if name in NETBOX_EVENT_TYPES:
            shown = " or ".join(repr(n) for n in NETBOX_EVENT_TYPES[name])
            found.append(
                f"event type {name!r} is NetBox's name: it matches events named {shown}"
                + (" with that job status" if name.startswith("job_") else "")
            )
        elif name not in known_events:
            guess = _guess(name, known_events)
            if seen_events or guess:
                found.append(
                    f"no event named {name!r} has been received {recent}{guess}; hookhub's own"
                    f" names are {', '.join(OWN_EVENTS)}"
                )
    if seen_objects:
        for name in object_types:
            if name not in seen_objects:
                found.append(
                    f"no event with object_type {name!r} has been received {recent}"
                    + _guess(name, seen_objects)
                )
    return found


def _in_catalog(name: str, object_types: Sequence[str], catalog: set[str]) -> bool:
    """Whether a rule's event type `name` (with the rule's `object_types`) names a type of the
    catalog: itself (`invoice.paid`), or as the event of one (`paid`, of `invoice.paid`)."""
    if name in catalog:
        return not object_types or any(name.startswith(o + ".") for o in object_types)
    suffix = "." + name
    return any(
        known.endswith(suffix) and (not object_types or known[: -len(suffix)] in object_types)
        for known in catalog
    )


def _seen_type(name: str, seen_objects: set[str], seen_events: set[str]) -> bool:
    """Whether `name` is `object_type.event` of a seen object type and a seen event name (both
    may hold dots: every split is tried)."""
    return any(
        name[:at] in seen_objects and name[at + 1 :] in seen_events
        for at, char in enumerate(name)
        if char == "."
    )


def unknown_types(
    object_types: Sequence[str], event_types: Sequence[str], catalog: set[str]
) -> list[tuple[str, str]]:
    """(field, message) for what a rule names that the event-type catalog does not know:
    nothing when the catalog is empty (not in use). NetBox's event type names are left to
    `warnings`."""
    if not catalog:
        return []
    found: list[tuple[str, str]] = []
    for name in event_types:
        if name not in NETBOX_EVENT_TYPES and not _in_catalog(name, object_types, catalog):
            said = f"event type {name!r} is not in the event-type catalog" + _guess(name, catalog)
            found.append(("event_types", said))
    if not event_types:
        for name in object_types:
            if not any(known.startswith(name + ".") for known in catalog):
                said = f"no type of the event-type catalog has object_type {name!r}" + _guess(
                    name, {known.rpartition(".")[0] for known in catalog}
                )
                found.append(("object_types", said))
    return found


async def catalog_problems(store: Store, rule: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`unknown_types` of a rule, against the catalog in `store`."""
    if not rule["object_types"] and not rule["event_types"]:
        return []
    catalog = await store.event_types.names()
    return unknown_types(rule["object_types"], rule["event_types"], catalog)


async def save_warnings(
    store: Store, rule: Mapping[str, Any], catalog: set[str] | None = None
) -> list[str]:
    """`warnings` for a rule about to be saved, against the newest events in `store`, and the
    types the event-type catalog (`catalog`, or the one in `store`) does not know."""
    if not rule["object_types"] and not rule["event_types"]:
        return []
    if catalog is None:
        catalog = await store.event_types.names()
    unknown = [
        said for _, said in unknown_types(rule["object_types"], rule["event_types"], catalog)
    ]
    seen_objects, seen_events = await store.recent_event_kinds(SEEN_WINDOW)
    # A type named in full (`invoice.paid`) is known when the catalog has it, or events of it
    # were received.
    named = [
        name
        for name in rule["event_types"]
        if name not in catalog and not _seen_type(name, seen_objects, seen_events)
    ]
    return unknown + warnings(rule["object_types"], named, seen_objects, seen_events)
