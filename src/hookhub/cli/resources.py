"""`hookhub webhooks list`, `workflows list`, `sources list` and `runs list`: what is configured
and what ran,
from the database or (`--url`, `--token`) a running server; a table, or `--json` for scripts."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from hookhub.cli.common import (
    PAGE,
    Database,
    Json,
    Token,
    Url,
    migrated,
    print_lines,
    remote,
    with_store,
)
from hookhub.cli.deliveries import console
from hookhub.db.store import Store

webhooks_app = typer.Typer(help="List and change webhooks.", no_args_is_help=True)
workflows_app = typer.Typer(help="List workflows and their trigger URLs.", no_args_is_help=True)
runs_app = typer.Typer(help="List workflow runs.", no_args_is_help=True)
sources_app = typer.Typer(help="List sources (message brokers).", no_args_is_help=True)


@webhooks_app.command("list")
def list_webhooks(
    as_json: Json = False, database: Database = None, url: Url = None, token: Token = None
) -> None:
    """List every webhook, by name: where it sends, whether it is enabled or why not."""
    from hookhub.services import webhooks

    async def fetch(store: Store) -> list[dict[str, Any]]:
        return [webhooks.public(row) for row in await webhooks.every(store)]

    server = remote(url, token)
    found = list(server.items("/webhooks", {"limit": PAGE})) if server else _local(database, fetch)
    found.sort(key=lambda item: item["name"])
    if as_json:
        print_lines(found)
        return
    table = Table()
    for name in ("id", "name", "method", "url", "enabled", "failures"):
        table.add_column(name, no_wrap=name in ("id", "name"))
    for item in found:
        enabled = "yes" if item["enabled"] else f"no: {item['disabled_reason'] or 'disabled'}"
        table.add_row(
            item["id"],
            item["name"],
            item["method"],
            item["url"],
            enabled,
            str(item["consecutive_failures"]),
        )
    console.print(table)


@sources_app.command("list")
def list_sources(
    as_json: Json = False, database: Database = None, url: Url = None, token: Token = None
) -> None:
    """List every source, by name: its broker URL (credentials masked), what it consumes, the
    messages it refused and its last error."""
    from hookhub.services import sources

    async def fetch(store: Store) -> list[dict[str, Any]]:
        return [sources.public(row) for row in await sources.every(store)]

    server = remote(url, token)
    found = list(server.items("/sources", {"limit": PAGE})) if server else _local(database, fetch)
    found.sort(key=lambda item: item["name"])
    if as_json:
        print_lines(found)
        return
    table = Table()
    for name in ("id", "name", "url", "consumes", "enabled", "failures", "last error"):
        table.add_column(name, no_wrap=name in ("id", "name"))
    for item in found:
        consumes = [
            f"{key} {item[key]}" for key in (*sources.ADDRESS_FIELDS, "address") if key in item
        ]
        table.add_row(
            item["id"],
            item["name"],
            item["url"],
            " ".join(consumes),
            "yes" if item["enabled"] else "no",
            str(item["failures"]),
            item["last_error"] or "",
        )
    console.print(table)


@workflows_app.command("list")
def list_workflows(
    as_json: Json = False, database: Database = None, url: Url = None, token: Token = None
) -> None:
    """List every workflow, by name, with its trigger URL.

    On the database, URLs start with HOOKHUB_PUBLIC_URL, or are paths when it is unset.
    """
    from hookhub.services import workflows

    server = remote(url, token)
    if server:
        found = list(server.items("/workflows", {"limit": PAGE}))
    else:
        settings = migrated(database)

        async def fetch(store: Store) -> list[dict[str, Any]]:
            rows = await workflows.every(store)
            return [workflows.shown(row, settings.public_url) for row in rows]

        found = with_store(settings, fetch)
    found.sort(key=lambda item: item["name"])
    if as_json:
        print_lines(found)
        return
    table = Table()
    for name in ("id", "name", "enabled", "mode", "methods", "url"):
        table.add_column(name, no_wrap=name in ("id", "name", "url"))
    for item in found:
        trigger = item["trigger"]
        table.add_row(
            item["id"],
            item["name"],
            "yes" if item["enabled"] else "no",
            trigger["mode"],
            ",".join(trigger["methods"]),
            item["url"],
        )
    console.print(table)


@runs_app.command("list")
def list_runs(
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", help="Workflow id or name.")
    ] = None,
    status: Annotated[str | None, typer.Option(help="queued, running, succeeded, failed.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 50,
    as_json: Json = False,
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """List workflow runs, newest first."""
    from hookhub.services import runs, workflows

    if status is not None and status not in runs.STATUSES:
        raise typer.BadParameter(
            f"must be one of {', '.join(runs.STATUSES)}", param_hint="--status"
        )

    async def fetch(store: Store) -> list[dict[str, Any]]:
        workflow_id = None if workflow is None else (await workflows.find(store, workflow))["id"]
        found, _ = await runs.listed(store, workflow_id, status, None, limit)
        return found

    server = remote(url, token)
    if server:
        workflow_id = None if workflow is None else server.find("workflows", workflow)["id"]
        query = {"workflow_id": workflow_id, "status": status, "limit": limit}
        found: list[dict[str, Any]] = server.call("GET", "/runs", query=query)["items"]
    else:
        found = _local(database, fetch)
    if as_json:
        print_lines(found)
        return
    table = Table()
    for name in ("id", "workflow", "mode", "status", "created", "ms", "error"):
        table.add_column(name, no_wrap=name in ("id", "workflow"))
    for item in found:
        duration = item["duration_ms"]
        table.add_row(
            item["id"],
            item["workflow_id"],
            item["mode"],
            item["status"],
            item["created_at"],
            "" if duration is None else f"{duration:.0f}",
            (item["error"] or "")[:60],
        )
    console.print(table)


def _local(database: str | None, fetch: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = with_store(migrated(database), fetch)
    return found
