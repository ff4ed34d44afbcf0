"""`hookhub webhooks enable|disable|patch|rotate-secret`: change a webhook from a shell, on the
database through the same service as the API and the UI, or (`--url`, `--token`) through a
running server's API. The webhook is found by id or name."""

from __future__ import annotations

import json
import urllib.parse
from typing import Annotated, Any

import pydantic
import typer

from hookhub.cli.common import Database, Token, Url, migrated, remote, with_services
from hookhub.errors import ValidationError, validation_message
from hookhub.services.common import Context

Webhook = Annotated[str, typer.Argument(help="Webhook id or name.")]


def enable(
    webhook: Webhook, database: Database = None, url: Url = None, token: Token = None
) -> None:
    """Enable a webhook: its waiting deliveries are sent, its failure streak starts over."""
    shown = _change(webhook, {"enabled": True}, database, url, token)
    typer.echo(f"enabled {shown['name']}")


def disable(
    webhook: Webhook, database: Database = None, url: Url = None, token: Token = None
) -> None:
    """Disable a webhook: its deliveries wait (new ones too) until it is enabled again."""
    shown = _change(webhook, {"enabled": False}, database, url, token)
    typer.echo(f"disabled {shown['name']}")


def patch(
    webhook: Webhook,
    fields: Annotated[
        str,
        typer.Argument(help="The fields to change, as the body of PATCH: '{\"timeout\": 10}'."),
    ],
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Change some fields of a webhook, as `PATCH /api/v1/webhooks/{id}`; print it (masked)."""
    try:
        changes = json.loads(fields)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"FIELDS is not JSON: {exc}", field="fields") from None
    if not isinstance(changes, dict):
        raise ValidationError("FIELDS must be a JSON object", field="fields")
    typer.echo(json.dumps(_change(webhook, changes, database, url, token)))


def rotate_secret(
    webhook: Webhook,
    secret: Annotated[
        str | None, typer.Option(help="The new secret (default: generate a whsec_ one).")
    ] = None,
    grace: Annotated[
        float | None,
        typer.Option(
            help="Seconds the old secret signs on (default HOOKHUB_SECRET_ROTATION_GRACE)."
        ),
    ] = None,
    database: Database = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Replace a webhook's signing secret; print the new one (alone, on the last line)."""
    server = remote(url, token)
    if server:
        webhook_id = _quoted(server.find("webhooks", webhook)["id"])
        body = {"secret": secret, "grace": grace}
        new: str = server.call("POST", f"/webhooks/{webhook_id}/rotate-secret", body)["secret"]
    else:
        new = with_services(migrated(database), lambda ctx: _rotate(ctx, webhook, secret, grace))
    typer.echo("New signing secret. It is shown only now:", err=True)
    typer.echo(new)


async def _rotate(ctx: Context, webhook: str, secret: str | None, grace: float | None) -> str:
    from hookhub.services import webhooks

    found = await webhooks.find(ctx, webhook)
    return (await webhooks.rotate_secret(ctx, found["id"], secret, grace)).secret


def _change(
    webhook: str, changes: dict[str, Any], database: str | None, url: str | None, token: str | None
) -> dict[str, Any]:
    """Apply `changes` to the webhook; it as the API shows it."""
    server = remote(url, token)
    if server:
        webhook_id = _quoted(server.find("webhooks", webhook)["id"])
        shown: dict[str, Any] = server.call("PATCH", f"/webhooks/{webhook_id}", changes)
        return shown
    settings = migrated(database)
    try:
        return with_services(settings, lambda ctx: _local_change(ctx, webhook, changes))
    except pydantic.ValidationError as exc:
        raise ValidationError(_problems(exc)) from None


async def _local_change(ctx: Context, webhook: str, changes: dict[str, Any]) -> dict[str, Any]:
    # Imported here: the input models load pydantic's validators, paid only when changing.
    from hookhub.services import webhooks
    from hookhub.services.webhook_input import WebhookPatch

    found = await webhooks.find(ctx, webhook)
    checked = WebhookPatch.model_validate(changes).model_dump(exclude_unset=True)
    return webhooks.public(await webhooks.change(ctx, found["id"], checked))


def _problems(exc: pydantic.ValidationError) -> str:
    """Every problem pydantic found, as `field: message`, one a line (as the API lists them)."""
    return "\n".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {validation_message(error)}"
        for error in exc.errors()
    )


def _quoted(webhook_id: str) -> str:
    return urllib.parse.quote(webhook_id, safe="")
