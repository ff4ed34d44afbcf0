"""Webhooks: create, change, rotate the secret, delete, and how one is shown (masked).

Every door makes these changes through here, so they behave alike: masked values sent back keep
the stored secrets, a replaced secret signs on for a grace period, disabling a webhook pauses
its pending deliveries and enabling it resumes them, and each change has its audit log entry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from hookhub.core import signing
from hookhub.core.masking import mask_url, unmask_url
from hookhub.core.retry import RetryPolicy
from hookhub.core.times import iso
from hookhub.db import changes
from hookhub.db.store import Row, Store
from hookhub.errors import ValidationError
from hookhub.ids import new_id
from hookhub.outbound import certs, destinations
from hookhub.outbound.client import check_client_certificate
from hookhub.outbound.rendering import MASK, SENSITIVE_HEADER, check_templates
from hookhub.services import audit, tenancy
from hookhub.services.common import Actor, Context, carry_out
from hookhub.services.webhook_input import WebhookIn

FIELDS = tuple(WebhookIn.model_fields)  # what a user writes; the rest is the webhook's state


@dataclass(frozen=True)
class Rotated:
    """A rotation's outcome: the new secret (the only time it is shown whole) and when each
    rotated-out secret stops signing."""

    secret: str
    previous_secrets: list[dict[str, Any]]


def public(row: Row) -> dict[str, Any]:
    """A webhook as every door shows it: credentials masked, times in ISO 8601."""
    auth = dict(row["auth"]) if row["auth"] else None
    for key in ("password", "token", "client_secret"):
        if auth and auth.get(key):
            auth[key] = MASK
    return {
        "id": row["id"],
        "name": row["name"],
        "url": mask_url(row["url"]),
        "method": row["method"],
        "content_type": row["content_type"],
        "headers": "\n".join(_mask_line(line) for line in row["headers"].splitlines()),
        "body_template": row["body_template"],
        "preset": row["preset"],
        "secret": MASK if row["secret"] else None,
        # Receivers verify v1a (whsk_) signatures with this; null for symmetric secrets.
        "public_key": signing.public_key(row["secret"]) if row["secret"] else None,
        "ssl_verification": row["ssl_verification"],
        "ca_file_path": row["ca_file_path"],
        "client_cert_path": row["client_cert_path"],
        "client_key_path": row["client_key_path"],
        "previous_secrets": _expiries(row["previous_secrets"]),
        "timeout": row["timeout"],
        "auth": auth,
        "cookies": {k: MASK for k in row["cookies"]} if row["cookies"] else None,
        "retry": RetryPolicy.from_json(row["retry"]).to_json(),
        "enabled": row["enabled"],
        "max_concurrency": row["max_concurrency"],
        "rate_limit": row["rate_limit"],
        "ordering_key": row["ordering_key"],
        "failure_threshold": row["failure_threshold"],
        "failure_window": row["failure_window"],
        "destination": row["destination"],
        "tenant_id": row["tenant_id"],
        "consecutive_failures": row["consecutive_failures"],
        "failing_since": iso(row["failing_since"]),
        "disabled_reason": row["disabled_reason"],
        "disabled_at": iso(row["disabled_at"]),
        "version": row["version"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def _mask_line(line: str) -> str:
    name, sep, _ = line.partition(":")
    return f"{name}: {MASK}" if sep and SENSITIVE_HEADER.search(name) else line


def unmask(patch: dict[str, Any], row: Row) -> dict[str, Any]:
    """Masked values sent back unchanged (GET, edit, PATCH, a file) keep the stored secret."""
    if patch.get("secret") == MASK:
        patch["secret"] = row["secret"]
    if isinstance(patch.get("url"), str):
        patch["url"] = unmask_url(patch["url"], row["url"])
    auth, old_auth = patch.get("auth"), row["auth"] or {}
    if isinstance(auth, dict):
        for key in ("password", "token", "client_secret"):
            if auth.get(key) == MASK and auth.get("type") == old_auth.get("type"):
                auth[key] = old_auth.get(key)
    cookies, old_cookies = patch.get("cookies"), row["cookies"] or {}
    if isinstance(cookies, dict):
        patch["cookies"] = {
            k: old_cookies.get(k, v) if v == MASK else v for k, v in cookies.items()
        }
    headers = patch.get("headers")
    if isinstance(headers, str) and MASK in headers:
        old = dict(_split(line) for line in row["headers"].splitlines() if ":" in line)
        patch["headers"] = "\n".join(
            f"{name}: {old.get(name, value)}" if value == MASK else line
            for line in headers.split("\n")
            for name, value in [_split(line)]
        )
    return patch


def _split(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip(), value.strip()


def _columns(webhook: WebhookIn, cert_dir: str) -> dict[str, Any]:
    values = webhook.model_dump()
    check_templates(values)
    values["destination"] = destinations.check(values["url"], values["destination"])
    certs.check_paths(values, cert_dir)
    if values["ca_file_path"]:
        certs.check_ca_file(values["ca_file_path"])
    if values["body_template"] is not None and values["preset"] is not None:
        raise ValidationError("set either body_template or preset, not both", field="preset")
    if values["client_key_path"] and not values["client_cert_path"]:
        raise ValidationError("set client_cert_path too", field="client_key_path")
    if values["client_cert_path"]:
        check_client_certificate(values["client_cert_path"], values["client_key_path"])
    return values


def _expiries(previous: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Rotated-out secrets still signing, as shown: only when each stops."""
    live = signing.live_secrets(previous, time.time())
    return [{"expires_at": iso(entry["expires_at"])} for entry in live]


def _previous_secrets(row: Row, secret: str | None, grace: float) -> list[dict[str, Any]]:
    """`previous_secrets` once the secret is `secret`: a replaced one signs on for `grace` s."""
    if not secret:
        return []  # unsigned from now on: rotated-out secrets stop signing too
    replaced = row["secret"] if row["secret"] != secret else None
    return signing.rotate(replaced, secret, row["previous_secrets"], grace, time.time())


def new_row(webhook: WebhookIn, cert_dir: str = "") -> Row:
    """The full stored row of a new, validated webhook (its files inside `cert_dir`, if set)."""
    return fresh(_columns(webhook, cert_dir), time.time())


def fresh(columns: Row, now: float) -> Row:
    """A new webhook's row from its validated columns: a new id, version 1, no failures."""
    return {
        **columns,
        "id": new_id("wh"),
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "disabled_reason": None,
        "disabled_at": None,
        "previous_secrets": None,
        "consecutive_failures": 0,
        "failing_since": None,
        "next_send_at": None,
    }


async def get(ctx: Context, webhook_id: str) -> Row:
    """One webhook's stored row, or NotFound (also when the actor's tenant does not own it)."""
    row = await ctx.store.webhooks.get(webhook_id)
    tenancy.check(ctx, row, "webhook")
    return row


async def find(ctx: Context, ref: str) -> Row:
    """A webhook by id or name (within the actor's tenant, if it is held to one), or NotFound."""
    row = await ctx.store.find_webhook(ref, tenancy.scope(ctx))
    tenancy.check(ctx, row, "webhook", ref)
    return row


async def every(store: Store) -> list[Row]:
    """Every webhook of no tenant: what `hookhub apply` and `export` declare (a tenant's are
    its own, managed through the API and its portal)."""
    return [row for row in await store.webhooks.every() if row["tenant_id"] is None]


async def page(
    ctx: Context, cursor: str | None, limit: int, tenant_id: str | None = None
) -> tuple[list[Row], str | None]:
    """Webhooks newest first (the actor's tenant's, or `tenant_id`'s), after `cursor`; and the
    next cursor."""
    tenant = tenancy.listing(ctx, tenant_id)
    return await ctx.store.webhooks.page(cursor, limit, tenant_id=tenant)


async def count(ctx: Context, cap: int) -> int:
    """How many webhooks there are (the actor's tenant's), counting no further than `cap`."""
    return await ctx.store.webhooks.count(cap, tenant_id=tenancy.scope(ctx))


async def create(ctx: Context, webhook: WebhookIn) -> Row:
    """Store a new webhook after checking it; a scoped actor's belongs to its tenant."""
    tenant = await tenancy.owner(ctx, webhook.tenant_id)
    row = new_row(webhook.model_copy(update={"tenant_id": tenant}), ctx.settings.cert_dir)
    await carry_out(ctx.store, _stored(row, ctx.actor))
    return row


def creation(values: Row, actor: Actor) -> tuple[Row, list[changes.Write]]:
    """A new webhook with checked `values` (`WebhookIn`'s fields), and the writes that store
    it with its audit entry."""
    row = fresh(values, time.time())
    return row, _stored(row, actor)


def _stored(row: Row, actor: Actor) -> list[changes.Write]:
    return [changes.Insert("webhook", row), audit.entry(actor, "webhook.created", row)]


def draft(ctx: Context, values: dict[str, Any], row: Row | None) -> Row:
    """The row a webhook would have with `values` (masked values keep `row`'s secrets), checked
    like a save but stored nowhere: what a preview or test of unsaved edits renders."""
    if row is None:
        return new_row(WebhookIn.model_validate(values), ctx.settings.cert_dir)
    merged = _merged(row, values, ctx.settings.cert_dir)
    return {**row, **merged, "previous_secrets": row["previous_secrets"]}


def _merged(row: Row, patch: dict[str, Any], cert_dir: str) -> Row:
    """`row`'s fields with `patch` over them (masked values kept), checked as a new webhook."""
    current = {name: row[name] for name in FIELDS}
    if patch.get("tenant_id", row["tenant_id"]) != row["tenant_id"]:
        # Its rules and deliveries belong to its tenant: a webhook never moves to another.
        raise ValidationError("a webhook's tenant cannot change", field="tenant_id")
    merged = WebhookIn.model_validate({**current, **unmask(dict(patch), row)})
    return _columns(merged, cert_dir)


def modification(
    row: Row, patch: dict[str, Any], cert_dir: str, grace: float, actor: Actor
) -> list[changes.Write]:
    """The writes that apply `patch` to the webhook `row`: its checked columns (files inside
    `cert_dir` if set), a replaced secret signing on for `grace` seconds, what re-enabling or a
    new rate resets, its deliveries paused (disabled) or resumed (enabled), and `actor`'s audit
    entry."""
    values = _merged(row, patch, cert_dir)
    values["previous_secrets"] = _previous_secrets(row, values["secret"], grace)
    values.update(implied_changes(row, values))
    writes: list[changes.Write] = [
        changes.Change("webhook", row["id"], {**values, "updated_at": time.time()}),
        audit.updated(actor, "webhook", row, {**row, **values}, FIELDS, public),
    ]
    if row["enabled"] and not values["enabled"]:
        writes.append(changes.Pause(row["id"]))
    elif values["enabled"] and not row["enabled"]:
        writes.append(changes.Resume(row["id"]))
    return writes


async def change(ctx: Context, webhook_id: str, patch: dict[str, Any]) -> Row:
    """Apply `patch` to a webhook (see `modification`) and wake the workers for what resumed."""
    row = await get(ctx, webhook_id)
    settings = ctx.settings
    grace = settings.secret_rotation_grace
    await commit(ctx, modification(row, patch, settings.cert_dir, grace, ctx.actor))
    return await ctx.store.webhooks.get(webhook_id)


async def commit(ctx: Context, writes: list[changes.Write]) -> None:
    """Carry out `writes` in one transaction; wake this process's workers for what resumed."""
    if await carry_out(ctx.store, writes):
        ctx.wake()


def implied_changes(row: Row, values: Row) -> Row:
    """What else changes when `row` takes `values`."""
    extra: Row = {}
    if values["enabled"] and not row["enabled"]:
        # Re-enabled: the waiting deliveries resume and the failure streak starts over.
        extra.update(
            disabled_reason=None, disabled_at=None, consecutive_failures=0, failing_since=None
        )
    if values["rate_limit"] != row["rate_limit"] or extra:
        # Send slots restart from now at the new rate: the next free one was computed at the
        # old rate (hours away after a very low one) or is what made the webhook unusable.
        extra["next_send_at"] = None
    return extra


async def rotate_secret(
    ctx: Context, webhook_id: str, secret: str | None, grace: float | None
) -> Rotated:
    """Replace a webhook's signing secret (None: generate one); the old one signs on for
    `grace` seconds (None: the setting)."""
    if secret == MASK:
        raise ValidationError("send the new secret itself, not the mask", field="secret")
    row = await get(ctx, webhook_id)
    secret = secret or signing.generate_secret()
    grace = ctx.settings.secret_rotation_grace if grace is None else grace
    previous = _previous_secrets(row, secret, grace)
    values = {"secret": secret, "previous_secrets": previous, "updated_at": time.time()}
    masked = {"from": MASK if row["secret"] else None, "to": MASK}
    rotated = audit.entry(ctx.actor, "webhook.secret_rotated", row, {"secret": masked})
    await carry_out(ctx.store, [changes.Change("webhook", webhook_id, values), rotated])
    return Rotated(secret, _expiries(previous))


async def delete(ctx: Context, webhook_id: str) -> None:
    """Delete a webhook, with its rules, deliveries and attempts."""
    await carry_out(ctx.store, deletion(await get(ctx, webhook_id), ctx.actor))


def deletion(row: Row, actor: Actor) -> list[changes.Write]:
    """The writes that delete the webhook `row`, with `actor`'s audit entry."""
    return [changes.Delete("webhook", row["id"]), audit.entry(actor, "webhook.deleted", row)]
