"""`hookhub event-types list|create|delete`: the event-type catalog from a shell, on the database
through the same service as the API, or (`--url`, `--token`) through a running server's API."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
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
from hookhub.errors import ValidationError, validation_message
from hookhub.services.common import Context

event_types_app = typer.Typer(help="List, add and delete event types.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="The type name: object_type.event (invoice.paid).")]


@event_types_app.command("list")
def list_event_types(
    as_json: Json = False,
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """List the catalog, A to Z: each type's description, whether it has a schema, and whether
    it is deprecated."""
    from hookhub.services import event_types

    async def fetch(ctx: Context) -> list[dict[str, Any]]:
        return [event_types.public(row) for row in await event_types.every(ctx)]

    found = every_item("/event-types", fetch, database, url, token)
    if as_json:
        print_lines(found)
        return
    table = Table()
    for column in ("name", "description", "schema", "examples", "deprecated"):
        table.add_column(column, no_wrap=column == "name")
    for item in found:
        table.add_row(
            item["name"],
            item["description"],
            "yes" if item["schema"] is not None else "no",
            str(len(item["examples"])),
            "yes" if item["deprecated"] else "",
        )
    console.print(table)


@event_types_app.command("create")
def create_event_type(
    name: Name,
    description: Annotated[str, typer.Option(help="Text for people.")] = "",
    schema: Annotated[
        str | None,
        typer.Option(help="JSON Schema (Draft 2020-12) of the events' data: JSON, or @FILE."),
    ] = None,
    examples: Annotated[
        str | None, typer.Option(help="A JSON list of data values such events carry, or @FILE.")
    ] = None,
    deprecated: Annotated[bool, typer.Option("--deprecated", help="Mark it deprecated.")] = False,
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Add an event type (its schema and examples are checked); print it as JSON."""
    from hookhub.services import event_types

    body: dict[str, Any] = {"name": name, "description": description, "deprecated": deprecated}
    if schema is not None:
        body["schema"] = _json(schema, "schema")
    if examples is not None:
        body["examples"] = _json(examples, "examples")
    server = remote(url, token)
    if server:
        created: dict[str, Any] = server.call("POST", "/event-types", body)
    else:
        try:
            new = event_types.EventTypeIn.model_validate(body)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            raise ValidationError(f"{field}: {validation_message(first)}", field=field) from None

        async def create(ctx: Context) -> dict[str, Any]:
            return event_types.public(await event_types.create(ctx, new))

        created = with_services(migrated(database), create)
    typer.echo(json.dumps(created))


@event_types_app.command("delete")
def delete_event_type(
    name: Name, database: Database = None, url: Url = None, token: Token = None
) -> None:
    """Delete an event type (events already stored keep their data)."""
    from hookhub.services import event_types

    server = remote(url, token)
    if server:
        server.call("DELETE", f"/event-types/{urllib.parse.quote(name, safe='')}")
    else:
        with_services(migrated(database), lambda ctx: event_types.delete(ctx, name))
    typer.echo(f"deleted {name}")


def _json(text: str, option: str) -> Any:
    """The JSON value of an option: the text itself, or with `@` the file it names."""
    try:
        raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
        return json.loads(raw)
    except OSError as exc:
        raise ValidationError(f"--{option}: {exc.strerror or exc}", field=option) from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--{option} is not JSON: {exc}", field=option) from None
