"""`hookhub tenants list|create|show|patch|delete`: the customers a product sends webhooks to,
on the database through the same service as the API, or (`--url`, `--token`, an admin token)
through a running server's API."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import pydantic
import typer
from rich.table import Table

from hookhub.cli.common import (
    Database,
    Json,
    Token,
    Url,
    every_item,
    migrated,
    print_lines,
    remote,
    with_services,
)
from hookhub.cli.deliveries import console
from hookhub.cli.webhooks import _problems
from hookhub.errors import ValidationError
from hookhub.services.common import Context

tenants_app = typer.Typer(help="Manage tenants.", no_args_is_help=True)

TenantId = Annotated[str, typer.Argument(help="The tenant's id.")]


def _run(
    database: str | None, work: Callable[[Context], Awaitable[dict[str, Any] | None]]
) -> dict[str, Any] | None:
    try:
        return with_services(migrated(database), work)
    except pydantic.ValidationError as exc:
        raise ValidationError(_problems(exc)) from None


def _fields(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        found = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"not JSON: {exc}", field="metadata") from None
    if not isinstance(found, dict):
        raise ValidationError("must be a JSON object", field="metadata")
    return found


def _path(tenant_id: str) -> str:
    return f"/tenants/{urllib.parse.quote(tenant_id, safe='')}"


@tenants_app.command("list")
def list_tenants(
    as_json: Json = False,
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """List every tenant: id, name, limits."""
    from hookhub.services import tenants

    async def fetch(ctx: Context) -> list[dict[str, Any]]:
        return [tenants.public(row) for row in await tenants.every(ctx)]

    found = every_item("/tenants", fetch, database, url, token)
    found.sort(key=lambda item: item["id"])
    if as_json:
        print_lines(found)
        return
    table = Table()
    for name in ("id", "name", "rate limit", "max concurrency", "created"):
        table.add_column(name, no_wrap=name in ("id", "name"))
    for item in found:
        rate, concurrency = item["rate_limit"], item["max_concurrency"]
        table.add_row(
            item["id"],
            item["name"],
            "" if rate is None else f"{rate:g}/s",
            "" if concurrency is None else str(concurrency),
            item["created_at"],
        )
    console.print(table)


@tenants_app.command("create")
def create(
    tenant_id: Annotated[str, typer.Option("--id", help="Its id: [a-z0-9][a-z0-9_-]{0,63}.")],
    name: Annotated[str, typer.Option("--name", help="Its name, as people read it.")],
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="A JSON object, yours to use.")
    ] = None,
    rate_limit: Annotated[
        float | None, typer.Option("--rate-limit", help="Deliveries per second, all webhooks.")
    ] = None,
    max_concurrency: Annotated[
        int | None, typer.Option("--max-concurrency", help="Sends in flight, all webhooks.")
    ] = None,
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Create a tenant; print it as JSON."""
    body = {
        "id": tenant_id,
        "name": name,
        "metadata": _fields(metadata) if metadata is not None else None,
        "rate_limit": rate_limit,
        "max_concurrency": max_concurrency,
    }
    server = remote(url, token)
    if server:
        typer.echo(json.dumps(server.call("POST", "/tenants", body)))
        return

    async def work(ctx: Context) -> dict[str, Any]:
        from hookhub.services import tenants

        return tenants.public(await tenants.create(ctx, tenants.TenantIn.model_validate(body)))

    typer.echo(json.dumps(_run(database, work)))


@tenants_app.command("show")
def show(
    tenant_id: TenantId, database: Database = None, url: Url = None, token: Token = None
) -> None:
    """Print one tenant as JSON."""
    server = remote(url, token)
    if server:
        typer.echo(json.dumps(server.call("GET", _path(tenant_id))))
        return

    async def work(ctx: Context) -> dict[str, Any]:
        from hookhub.services import tenants

        return tenants.public(await tenants.get(ctx, tenant_id))

    typer.echo(json.dumps(_run(database, work)))


@tenants_app.command("patch")
def patch(
    tenant_id: TenantId,
    fields: Annotated[
        str, typer.Argument(help='The fields to change, as the body of PATCH: \'{"name": "x"}\'.')
    ],
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Change a tenant's name, metadata or limits, as `PATCH /api/v1/tenants/{id}`."""
    changes = _fields(fields)
    server = remote(url, token)
    if server:
        typer.echo(json.dumps(server.call("PATCH", _path(tenant_id), changes)))
        return

    async def work(ctx: Context) -> dict[str, Any]:
        from hookhub.services import tenants

        checked = tenants.TenantPatch.model_validate(changes).model_dump(exclude_unset=True)
        return tenants.public(await tenants.change(ctx, tenant_id, checked))

    typer.echo(json.dumps(_run(database, work)))


@tenants_app.command("delete")
def delete(
    tenant_id: TenantId, database: Database = None, url: Url = None, token: Token = None
) -> None:
    """Delete a tenant with its webhooks (their deliveries and attempts), rules and tokens."""
    server = remote(url, token)
    if server:
        server.call("DELETE", _path(tenant_id))
    else:

        async def work(ctx: Context) -> None:
            from hookhub.services import tenants

            await tenants.delete(ctx, tenant_id)

        _run(database, work)
    typer.echo(f"deleted {tenant_id}")


@tenants_app.command("portal-link")
def portal_link(
    tenant_id: TenantId,
    expires_in: Annotated[
        int, typer.Option("--expires-in", help="Seconds the link stays valid (up to 30 days).")
    ] = 3600,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="The portal shows everything, changes nothing.")
    ] = False,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="Where customers reach hookhub (on the database; default HOOKHUB_PUBLIC_URL).",
        ),
    ] = None,
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Make a link to the tenant's consumer portal; print it as JSON (its url is shown once)."""
    body = {"expires_in": expires_in, "read_only": read_only}
    server = remote(url, token)
    if server:
        typer.echo(json.dumps(server.call("POST", f"{_path(tenant_id)}/portal-links", body)))
        return

    async def work(ctx: Context) -> dict[str, Any]:
        from hookhub.services import portal_links

        base = base_url or ctx.settings.public_url
        if not base:
            raise ValidationError(
                "give --base-url or set HOOKHUB_PUBLIC_URL: the address customers open hookhub at",
                field="base_url",
            )
        link = portal_links.LinkIn.model_validate(body)
        created = await portal_links.create(ctx, tenant_id, link, base.rstrip("/"))
        return portal_links.shown(created)

    typer.echo(json.dumps(_run(database, work)))
