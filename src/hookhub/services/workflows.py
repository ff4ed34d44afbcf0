"""Workflows: create, change and delete them (each with a fresh or kept trigger key, checked
as a whole, secrets kept behind their masks, recorded in the audit log), read and list them,
check an unsaved draft, and list the paths of a sample request."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from hookhub.core.paths import parse_query, paths_of
from hookhub.core.times import iso
from hookhub.db import changes
from hookhub.db.store import Row, Store
from hookhub.errors import NotFound, ValidationError
from hookhub.ids import new_id
from hookhub.inbound.compiled import CompiledTrigger
from hookhub.inbound.route import PATHS
from hookhub.services import audit
from hookhub.services.common import Actor, Context, carry_out
from hookhub.workflows.document import FIELDS, WorkflowIn, node_errors, validate_workflow
from hookhub.workflows.engine import CompiledWorkflow
from hookhub.workflows.nodes import compile_node
from hookhub.workflows.secrets import masked, unmasked

KEY_BYTES = 18  # 24 URL-safe characters: unguessable

# Drops a trigger key this process caches, so that it answers with the new version at once
# (other processes within the cache's second); None where nothing caches them.
Forget = Callable[[str], None] | None


def trigger_base(public_url: str, requested: str) -> str:
    """Where trigger URLs start: HOOKHUB_PUBLIC_URL when set, else the URL (`requested`) the
    caller reached this server at."""
    return public_url or requested.rstrip("/")


def shown(row: Row, base_url: str) -> dict[str, Any]:
    """A workflow as every door shows it: credentials masked, its trigger URLs under
    `base_url` (paths if "")."""
    urls = [base_url + path.replace("{key}", row["key"]) for path in PATHS]
    doc = masked({name: row[name] for name in FIELDS})
    return {
        "id": row["id"],
        **doc,
        "key": row["key"],
        "url": urls[0],
        "urls": urls,
        "version": row["version"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def checked(data: dict[str, Any], command_dirs: Sequence[str] | None = None) -> dict[str, Any]:
    """The normalized document, its templates compiled: ValidationError (422) if anything is off.
    With `command_dirs`, command nodes' programs must be inside them (see validate_workflow)."""
    doc = validate_workflow(data, command_dirs)
    CompiledTrigger(doc["trigger"])
    CompiledWorkflow(doc)
    return doc


def problems(data: dict[str, Any]) -> list[ValidationError]:
    """Every node's own problem at once, its fields and then its templates, where `checked`
    stops at the first: what the UI's editor lists together."""
    nodes, found = node_errors(data)
    for node in nodes:
        try:
            compile_node(node)
        except ValidationError as exc:  # it names the node and field already
            found.append(exc)
    return found


def fresh(columns: Row, now: float) -> Row:
    """A new workflow's row from its validated columns: a new id and trigger key, version 1."""
    return {
        **columns,
        "id": new_id("wf"),
        "key": secrets.token_urlsafe(KEY_BYTES),
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def draft(data: dict[str, Any], command_dirs: Sequence[str]) -> dict[str, Any]:
    """A workflow document as it would be saved, checked like a save, stored nowhere: what a
    preview of an unsaved document draws."""
    workflow = WorkflowIn.model_validate(data)
    return checked(workflow.model_dump(by_alias=True), command_dirs)


async def create(
    ctx: Context, workflow: WorkflowIn, command_dirs: Sequence[str], forget: Forget
) -> Row:
    """Store a new workflow with a fresh trigger key; Conflict if its name is taken."""
    doc = checked(workflow.model_dump(by_alias=True), command_dirs)
    row = fresh(doc, time.time())
    await carry_out(ctx.store, _stored(row, ctx.actor))
    _forget(forget, row["key"])
    return row


def creation(values: Row, actor: Actor) -> list[changes.Write]:
    """The writes that store a new workflow with validated `values` (`hookhub apply`), with
    `actor`'s audit entry."""
    return _stored(fresh(values, time.time()), actor)


def _stored(row: Row, actor: Actor) -> list[changes.Write]:
    return [changes.Insert("workflow", row), audit.entry(actor, "workflow.created", row)]


def _document(row: Row) -> dict[str, Any]:
    """A workflow's fields as shown, secrets masked (what its audit entries hold)."""
    return masked({name: row[name] for name in FIELDS})


def modification(row: Row, values: Row, actor: Actor) -> list[changes.Write]:
    """The writes that give the workflow `row` the validated `values`, with `actor`'s audit
    entry."""
    after = {**row, **values, "updated_at": time.time()}
    return [
        changes.Change("workflow", row["id"], {**values, "updated_at": after["updated_at"]}),
        audit.updated(actor, "workflow", row, after, FIELDS, _document),
    ]


def deletion(row: Row, actor: Actor) -> list[changes.Write]:
    """The writes that delete the workflow `row` (and its runs), with `actor`'s audit entry."""
    return [changes.Delete("workflow", row["id"]), audit.entry(actor, "workflow.deleted", row)]


async def change(
    ctx: Context,
    workflow_id: str,
    patch: dict[str, Any],
    command_dirs: Sequence[str],
    forget: Forget,
) -> Row:
    """Apply `patch` to a workflow, checked as a whole, masked values keeping their secrets."""
    row = await ctx.store.workflows.get(workflow_id)
    current = {name: row[name] for name in FIELDS}
    merged = unmasked({**current, **patch}, current)
    await carry_out(ctx.store, modification(row, checked(merged, command_dirs), ctx.actor))
    _forget(forget, row["key"])
    return await ctx.store.workflows.get(workflow_id)


async def remove(ctx: Context, workflow_id: str, forget: Forget) -> None:
    """Delete a workflow and its runs; its trigger URLs stop answering."""
    row = await ctx.store.workflows.get(workflow_id)
    await carry_out(ctx.store, deletion(row, ctx.actor))
    _forget(forget, row["key"])


async def get(store: Store, workflow_id: str) -> Row:
    """One workflow; NotFound if there is none."""
    return await store.workflows.get(workflow_id)


async def listed(store: Store, cursor: str | None, limit: int) -> tuple[list[Row], str | None]:
    """A page of workflows, oldest first, and the next page's cursor."""
    return await store.workflows.page(cursor, limit)


async def count(store: Store, cap: int) -> int:
    """How many workflows there are, counting no further than `cap`."""
    return await store.workflows.count(cap)


async def every(store: Store) -> list[Row]:
    """Every workflow, oldest first."""
    return await store.workflows.every()


async def find(store: Store, ref: str) -> Row:
    """A workflow by id or by name; NotFound if neither names one."""
    try:
        return await store.workflows.get(ref)
    except NotFound:
        for row in await every(store):
            if row["name"] == ref:
                return row
    raise NotFound(f"no workflow with id or name {ref!r}")


def query_paths(url: str) -> dict[str, Any]:
    """The paths in a sample request's query string (`url`: a URL or a bare query string)."""
    return _paths("query", parse_query(_query_part(url)))


def body_paths(body: Any) -> dict[str, Any]:
    """The paths in a sample JSON body (a value, or JSON text)."""
    return _paths("body", _json(body))


def _paths(source: str, value: Any) -> dict[str, Any]:
    paths = [{"path": path, "alias": None} for path in paths_of(value)]
    return {"source": source, "value": value, "paths": paths}


def _query_part(url: str) -> str:
    if "?" in url:
        return url.split("?", 1)[1].split("#", 1)[0]
    # A bare query string (`a=1&b=2`) or a URL without one.
    return "" if "://" in url or "=" not in url else url


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"json is not valid JSON text: {exc}", field="json") from None


def _forget(forget: Forget, key: str) -> None:
    if forget is not None:
        forget(key)
