"""What applying a config document would change: create, update, delete or leave each object.

Objects are matched by name. An update lists the fields that differ; objects in the database
but not in the file are deleted only with `prune`, otherwise they are left alone (not listed).
A webhook's credential given as the mask (`********`) means the stored one, as with PATCH.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from hookhub.config.document import RULE_FIELDS, WEBHOOK_FIELDS, Document, DocumentError
from hookhub.core.masking import unmask_url
from hookhub.db.store import Row
from hookhub.services import event_types as event_types_api
from hookhub.services import sources as sources_api
from hookhub.services.webhooks import unmask
from hookhub.workflows.document import FIELDS as WORKFLOW_FIELDS

Action = Literal["create", "update", "delete", "unchanged"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete", "unchanged")
# Singular names, in the order changes are listed (and applied: webhooks before their rules,
# event types before the rules that name them).
KINDS = {
    "event_types": "event_type",
    "webhooks": "webhook",
    "workflows": "workflow",
    "rules": "rule",
    "sources": "source",
}


@dataclass(frozen=True)
class Change:
    """One object's fate; `fields` are the ones an update changes."""

    action: Action
    kind: str
    name: str
    fields: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "kind": self.kind, "name": self.name, "fields": self.fields}


@dataclass(frozen=True)
class Current:
    """The database's webhooks, rules, workflows, sources and event types, each by name."""

    webhooks: dict[str, Row] = field(default_factory=dict)
    rules: dict[str, Row] = field(default_factory=dict)
    workflows: dict[str, Row] = field(default_factory=dict)
    sources: dict[str, Row] = field(default_factory=dict)
    event_types: dict[str, Row] = field(default_factory=dict)

    def webhook_name(self, webhook_id: str) -> str | None:
        for name, row in self.webhooks.items():
            if row["id"] == webhook_id:
                return name
        return None

    def stored(self, kind: str, row: Row) -> dict[str, Any]:
        """A row in the document's form (rules name their webhook)."""
        if kind == "webhooks":
            return {name: row[name] for name in WEBHOOK_FIELDS}
        if kind == "workflows":
            return {name: row[name] for name in WORKFLOW_FIELDS}
        if kind == "sources":
            return sources_api.written(row)
        if kind == "event_types":
            return {name: row[name] for name in event_types_api.FIELDS}
        return {
            **{name: row[name] for name in RULE_FIELDS},
            "webhook": self.webhook_name(row["webhook_id"]),
        }


@dataclass(frozen=True)
class Plan:
    """The changes in order, with what is needed to carry them out."""

    changes: list[Change]
    document: Document
    current: Current

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action == action)

    @property
    def writes(self) -> bool:
        return any(change.action != "unchanged" for change in self.changes)

    def summary(self) -> str:
        return ", ".join(
            f"{self.count(action)} {'to ' + action if action != 'unchanged' else action}"
            for action in ACTIONS
        )


def plan(document: Document, current: Current, prune: bool = False) -> Plan:
    """Compare the document with the database; DocumentError if a rule's webhook won't exist."""
    changes: list[Change] = []
    for kind, noun in KINDS.items():
        wanted: dict[str, dict[str, Any]] = getattr(document, kind)
        existing: dict[str, Row] = getattr(current, kind)
        for name, values in wanted.items():
            row = existing.get(name)
            if row is None:
                changes.append(Change("create", noun, name))
                continue
            if kind == "webhooks":
                # As with PATCH, a credential sent back masked keeps the stored one (a file
                # written from `webhooks list --json` or the API's answers).
                values = wanted[name] = unmask(dict(values), row)
            if kind == "sources":  # likewise the credentials in a source's URL
                values["url"] = unmask_url(values["url"], row["url"])
            stored = current.stored(kind, row)
            differ = tuple(key for key in values if values[key] != stored.get(key))
            changes.append(Change("update" if differ else "unchanged", noun, name, differ))
        if prune:
            changes.extend(Change("delete", noun, name) for name in existing if name not in wanted)
    _check_references(document, current, prune)
    return Plan(changes, document, current)


def _check_references(document: Document, current: Current, prune: bool) -> None:
    remaining = set(document.webhooks) | (set() if prune else set(current.webhooks))
    problems = [
        document.problem(
            "rules",
            name,
            "webhook",
            f"no webhook named {rule['webhook']!r} in the file"
            + ("" if prune else " or the database"),
        )
        for name, rule in document.rules.items()
        if rule["webhook"] not in remaining
    ]
    if problems:
        raise DocumentError(problems)


def by_name(rows: Iterable[Row]) -> dict[str, Row]:
    return {row["name"]: row for row in rows}
