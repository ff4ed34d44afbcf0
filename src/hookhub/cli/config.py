"""`hookhub apply -f hooks.yaml` and `hookhub export`: webhooks, rules and workflows as code
(docs/config-as-code.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hookhub.cli.common import (
    Database,
    migrated,
    require_database,
    settings_from,
    with_services,
    with_store,
)
from hookhub.db.store import Store

if TYPE_CHECKING:
    from hookhub.config.plan import Plan
    from hookhub.services.common import Context

# hookhub.config.* is imported by the two commands that use it: it loads the API's models
# (FastAPI, pydantic), which would add a second to every other command's start.

SYMBOLS = {"create": "+", "update": "~", "delete": "-", "unchanged": "="}


def apply(
    file: Annotated[
        str, typer.Option("--file", "-f", help="The config file (YAML); - reads standard input.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and change nothing.")
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete the objects the file doesn't declare.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The plan as one JSON object.")] = False,
    database: Database = None,
) -> None:
    """Create, update (and with --prune delete) webhooks, rules and workflows to match a file."""
    from hookhub.config import apply as applying
    from hookhub.config.document import load
    from hookhub.migrations import upgrade

    settings = settings_from(database)
    # Validated before the database is opened: a bad file changes nothing.
    document = load(file, cert_dir=settings.cert_dir, command_dirs=settings.command_dirs)
    require_database(settings)
    upgrade(settings.database_url)

    async def run(ctx: Context) -> tuple[Plan, list[tuple[str, str]]]:
        todo = await applying.plan_for(ctx.store, document, prune)
        applying.check_types(ctx, todo)  # HOOKHUB_STRICT_EVENT_TYPES refuses what others warn of
        warnings = await applying.rule_warnings(ctx.store, todo)
        if not dry_run:
            await applying.apply(ctx, todo)
        return todo, warnings

    todo, warnings = with_services(settings, run)
    if as_json:
        changes = [change.to_json() for change in todo.changes]
        warned = [{"kind": "rule", "name": name, "message": text} for name, text in warnings]
        typer.echo(json.dumps({"dry_run": dry_run, "changes": changes, "warnings": warned}))
        return
    for name, text in warnings:
        typer.secho(f"warning: rules[{name}]: {text}", fg=typer.colors.YELLOW, err=True)
    for change in todo.changes:
        fields = f"  ({', '.join(change.fields)})" if change.fields else ""
        symbol = SYMBOLS[change.action]
        typer.echo(f"{symbol} {change.action:<9} {change.kind:<8} {change.name}{fields}")
    verdict = "dry run, nothing changed" if dry_run else ("applied" if todo.writes else "no change")
    typer.echo(f"{todo.summary()}: {verdict}")


def export(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Write to this file, not stdout."),
    ] = None,
    database: Database = None,
) -> None:
    """Write the webhooks, rules and workflows as a config file (secrets as ${ENV} references)."""
    text = with_store(migrated(database), lambda store: _text(store))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


async def _text(store: Store) -> str:
    from hookhub.config import apply as applying
    from hookhub.config.export import dump

    return dump(await applying.current(store))
