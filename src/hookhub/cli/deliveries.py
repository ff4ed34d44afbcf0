"""`hookhub deliveries list|retry|replay` and `hookhub send-test`: operator actions from a shell,
straight against the database (a running server's workers pick the work up)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hookhub.cli.common import Database, Token, Url, migrated, remote, with_services, with_store
from hookhub.core.times import iso
from hookhub.db.history import DeliveryFilter
from hookhub.db.store import Store
from hookhub.errors import HookhubError
from hookhub.outbound.client import Sender
from hookhub.outbound.rendering import CompiledWebhook
from hookhub.services import deliveries, operations, webhooks
from hookhub.services.common import Context

deliveries_app = typer.Typer(help="Inspect, retry and replay deliveries.", no_args_is_help=True)
# Piped output (grep, files) gets whole lines rather than an 80-column wrap.
console = Console(width=None if sys.stdout.isatty() else 200)

AGO = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}

Webhook = Annotated[str, typer.Option("--webhook", "-w", help="Webhook id or name.")]
AnyWebhook = Annotated[
    str | None, typer.Option("--webhook", "-w", help="Only this webhook (id or name).")
]
Since = Annotated[
    str | None,
    typer.Option(help="ISO 8601 (UTC unless it says otherwise), an age like 2h or epoch seconds."),
]


def parse_time(value: str, option: str) -> float:
    """Epoch seconds from ISO 8601, an age (`90s`, `30m`, `2h`, `7d` ago) or epoch seconds."""
    ago = AGO.fullmatch(value.strip())
    if ago:
        return time.time() - float(ago.group(1)) * UNIT[ago.group(2)]
    with contextlib.suppress(ValueError):
        return float(value)
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither ISO 8601 nor an age like 2h", param_hint=option
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@deliveries_app.command("list")
def list_deliveries(
    webhook: Annotated[
        str | None, typer.Option("--webhook", "-w", help="Webhook id or name.")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="pending, delivering, succeeded or failed.")
    ] = None,
    event: Annotated[str | None, typer.Option(help="Event id.")] = None,
    object_type: Annotated[
        str | None, typer.Option("--object-type", help="Its event's object type.")
    ] = None,
    event_type: Annotated[
        str | None, typer.Option("--event-type", help="Its event's type (created, ...).")
    ] = None,
    status_code: Annotated[
        int | None,
        typer.Option("--status-code", min=100, max=599, help="The last answer's HTTP status."),
    ] = None,
    since: Since = None,
    until: Annotated[str | None, typer.Option(help="Created before: as --since.")] = None,
    search: Annotated[str | None, typer.Option(help="A delivery id or an event id, whole.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """List deliveries, newest first; --since and --until are when they were created."""
    where = DeliveryFilter(
        event_id=event,
        status=status,
        object_type=object_type,
        event_type=event_type,
        status_code=status_code,
        since=None if since is None else parse_time(since, "--since"),
        until=None if until is None else parse_time(until, "--until"),
        search=search,
    )

    async def fetch(ctx: Context) -> tuple[list[dict[str, Any]], dict[str, str]]:
        webhook_id = None if webhook is None else (await deliveries.webhook(ctx, webhook))["id"]
        chosen = dataclasses.replace(where, webhook_id=webhook_id)
        found, _ = await deliveries.search(ctx, chosen, None, limit)
        return found, await deliveries.webhook_names(ctx)

    server = remote(url, token)
    if server:
        found = server.deliveries(webhook, where, limit)
        hooks = [] if as_json else server.items("/webhooks", {"limit": 500})
        names = {hook["id"]: hook["name"] for hook in hooks}
    else:
        found, names = with_services(migrated(database), fetch)
    if as_json:
        for item in found:
            typer.echo(json.dumps(item))
        return
    table = Table()
    for name in ("id", "webhook", "status", "tries", "next attempt", "last"):
        # Ids stay whole so they can be copied into `deliveries retry`.
        table.add_column(name, no_wrap=name in ("id", "webhook"))
    for item in found:
        last = str(item["last_status_code"] or item["last_error"] or "")
        webhook_id = item["webhook_id"]
        table.add_row(
            item["id"],
            "(callback)" if webhook_id is None else names.get(webhook_id, webhook_id),
            item["status"],
            str(item["attempts"]),
            item["next_attempt_at"] or "",
            last[:60],
        )
    console.print(table)


@deliveries_app.command("retry")
def retry(
    ids: Annotated[list[str] | None, typer.Argument(help="Delivery ids to send again now.")] = None,
    webhook: Annotated[
        str | None,
        typer.Option("--webhook", "-w", help="Retry every failed delivery of this webhook."),
    ] = None,
    since: Since = None,
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Send deliveries again: the ones named, or every failed one of a webhook (--since)."""
    if bool(ids) == bool(webhook):
        raise typer.BadParameter("give delivery ids or --webhook, not both or neither")
    if since and not webhook:
        raise typer.BadParameter("--since needs --webhook", param_hint="--since")
    after = None if since is None else parse_time(since, "--since")

    problems: list[str] = []

    async def run(ctx: Context) -> int:
        if webhook:
            found = await deliveries.webhook(ctx, webhook)
            return await deliveries.retry_failed(ctx, found["id"], after)
        for delivery_id in ids or []:
            # One bad id doesn't stop the others; each problem is reported at the end.
            try:
                await deliveries.retry(ctx, delivery_id)
            except HookhubError as exc:
                problems.append(f"{delivery_id}: {exc.message}")
        return len(ids or []) - len(problems)

    server = remote(url, token)
    if server and webhook:
        count = server.retry_failed(webhook, after)
    elif server:
        for delivery_id in ids or []:
            try:
                server.retry(delivery_id)
            except HookhubError as exc:
                if getattr(exc, "exit_code", 2) != 2:
                    raise  # the server itself is the problem: no use trying the others
                problems.append(f"{delivery_id}: {exc.message}")
        count = len(ids or []) - len(problems)
    else:
        count = with_services(migrated(database), run)
    typer.echo(f"{_deliveries(count)} queued to be sent again")
    for problem in problems:
        typer.secho(f"not retried: {problem}", fg=typer.colors.RED, err=True)
    if problems:
        raise typer.Exit(2)


@deliveries_app.command("replay")
def replay(
    webhook: Webhook,
    since: Annotated[
        str, typer.Option(help="Events received from: ISO 8601, an age (2h) or epoch seconds.")
    ],
    until: Annotated[str | None, typer.Option(help="Up to (default now).")] = None,
    all_events: Annotated[
        bool, typer.Option("--all-events", help="Not only the events its rules match.")
    ] = False,
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Deliver the events of a time range to a webhook again (new deliveries)."""
    start = parse_time(since, "--since")
    end = time.time() if until is None else parse_time(until, "--until")

    async def run(ctx: Context) -> operations.Replayed:
        found = await deliveries.webhook(ctx, webhook)
        with _spinner("replaying to {task.fields[name]}: {task.completed} events read") as progress:
            task = progress.add_task("replay", name=found["name"], total=None)
            return await deliveries.replay(
                ctx,
                found["id"],
                start,
                end,
                every_event=all_events,
                progress=lambda n: progress.advance(task, n),
            )

    server = remote(url, token)
    if server:
        found = server.find("webhooks", webhook)
        with _spinner("replaying to {task.fields[name]} on the server") as progress:
            progress.add_task("replay", name=found["name"], total=None)
            done = server.replay(found["id"], start, end, all_events)
    else:
        done = with_services(migrated(database), run)
    typer.echo(
        f"{done.events} events from {iso(start)} to {iso(end)}: {done.deliveries} deliveries queued"
    )


def _spinner(text: str) -> Progress:
    """A transient progress line: a spinner, `text` (a rich task template), the time taken."""
    return Progress(
        SpinnerColumn(), TextColumn(text), TimeElapsedColumn(), console=console, transient=True
    )


def send_test(
    webhook: Annotated[str, typer.Argument(help="Webhook id or name.")],
    event_file: Annotated[
        Path | None,
        typer.Option("--event", exists=True, dir_okay=False, help="A JSON event to send."),
    ] = None,
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Send a test event to a webhook now and print the receiver's answer (exit 1 if not 2xx)."""
    event = None if event_file is None else _event(event_file)

    async def run(store: Store) -> dict[str, Any]:
        found = CompiledWebhook.from_row(await webhooks.find(Context(store, settings), webhook))
        sender = Sender(1, policy=settings.network_policy(), proxies=settings.proxies())
        try:
            return await operations.send_test(sender, found, event)
        finally:
            await sender.close()

    server = remote(url, token)
    if server:
        result = server.send_test(webhook, event)
    else:
        settings = migrated(database)
        result = with_store(settings, run)
    request = result["request"]
    destination = request.get("destination")
    if destination:  # a broker: where the message went, then the broker's ack
        targets = ", ".join(f"{k} {v!r}" for k, v in destination.items() if k != "type")
        typer.echo(f"{destination['type']} {request['url']} ({targets})")
    else:
        typer.echo(f"{request['method']} {request['url']}")
    if result["status_code"] is not None:
        typer.echo(f"{result['status_code']} in {result['duration_ms']:.0f} ms")
        typer.echo(result["response_body"])
    elif result["ok"]:
        typer.echo(f"{result['response_body']} in {result['duration_ms']:.0f} ms")
    else:
        typer.echo(f"no response: {result['error']}")
    raise typer.Exit(0 if result["ok"] else 1)


def _deliveries(count: int) -> str:
    return f"{count} delivery" if count == 1 else f"{count} deliveries"


def _event(path: Path) -> dict[str, Any]:
    try:
        event = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{path}: {exc}", param_hint="--event") from None
    if not isinstance(event, dict):
        raise typer.BadParameter(f"{path}: expected a JSON object", param_hint="--event")
    return event
