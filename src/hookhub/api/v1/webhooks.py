"""`/webhooks`: where events are delivered, how they are rendered, signed and retried."""

from __future__ import annotations

import os
import re
import time
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute, conflict
from hookhub.api.v1.common import (
    STRICT,
    Cursor,
    Limit,
    Reader,
    StoreDep,
    Writer,
    optional_fields,
    page,
    store_of,
    wake_workers,
)
from hookhub.core import limits, signing
from hookhub.core.limits import Range
from hookhub.core.masking import mask_url, unmask_url
from hookhub.core.retry import DEFAULT_SCHEDULE, RetryPolicy
from hookhub.core.times import iso
from hookhub.db.store import Row
from hookhub.db.tables import webhooks
from hookhub.errors import ValidationError
from hookhub.ids import new_id
from hookhub.outbound import certs, destinations
from hookhub.outbound.client import check_client_certificate
from hookhub.outbound.rendering import MASK, SENSITIVE_HEADER, check_templates

router = APIRouter(tags=["webhooks"], route_class=JSONRoute)

NAME_TAKEN = conflict("Another webhook has this name.")

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
HTTP_URL = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]"  # with a host
# A URL with a scheme (http(s)://, or a broker's: amqp://...), or a template (`{{ ... }}`,
# `{% ... %}`) that renders one.
URL_OR_TEMPLATE = r"^(?:[A-Za-z][A-Za-z0-9+.-]*://\S|[\s\S]*\{[{%])"
# Auto-disable defaults: 50 failed attempts in a row, the first over a day before the last.
DEFAULT_FAILURE_THRESHOLD = 50
DEFAULT_FAILURE_WINDOW = 86400.0


class BasicAuth(BaseModel):
    model_config = STRICT
    type: Literal["basic"]
    username: str
    password: str


class BearerAuth(BaseModel):
    model_config = STRICT
    type: Literal["bearer"]
    token: str = Field(min_length=1)


class OAuth2Auth(BaseModel):
    """OAuth2 client credentials: a token from `token_url`, sent as `Authorization: Bearer`."""

    model_config = STRICT
    type: Literal["oauth2"]
    # The pattern for the schema; the validator says what is wrong in words.
    token_url: str = Field(min_length=1, max_length=4096, json_schema_extra={"pattern": HTTP_URL})
    client_id: str = Field(min_length=1, max_length=1000)
    client_secret: str = Field(min_length=1, max_length=1000)
    scope: str | None = Field(None, max_length=1000, description="space-separated scopes")
    audience: str | None = Field(None, max_length=1000)

    @field_validator("token_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an http:// or https:// URL, got {value[:80]!r}")
        return value


def _checked_secret(value: str) -> str:
    signing.check_secret(value)  # a whsk_ secret must be an ed25519 key
    return value


Secret = Annotated[str, AfterValidator(_checked_secret)]


class SecretRotation(BaseModel):
    """A new signing secret; the old one keeps signing for `grace` seconds."""

    model_config = STRICT
    secret: Secret | None = Field(
        None, min_length=1, max_length=1000, description="null = generate a whsec_ secret"
    )
    grace: Annotated[float, Range(0, limits.MAX_GRACE, "seconds")] | None = Field(
        None, description="seconds; null = HOOKHUB_SECRET_ROTATION_GRACE"
    )


RetryWait = Annotated[float, Range(limits.MIN_RETRY_WAIT, limits.MAX_RETRY_WAIT, "seconds")]
Rate = Annotated[float, Range(limits.MIN_RATE, limits.MAX_RATE, "per second")]


class Retry(BaseModel):
    """How often a failed delivery is tried again (see docs/webhooks.md)."""

    model_config = STRICT
    max_attempts: Annotated[int, Range(0, limits.MAX_ATTEMPTS)] = Field(
        4, description="tries in all; 0 or 1 = one try"
    )
    strategy: Literal["exponential", "fixed", "schedule"] = "exponential"
    interval: RetryWait = Field(5.0, description="seconds")
    max_interval: RetryWait = Field(3600.0, description="seconds")
    schedule: list[RetryWait] = Field(
        default_factory=lambda: list(DEFAULT_SCHEDULE), min_length=1, max_length=50
    )


class WebhookIn(BaseModel):
    """A webhook as written by users; templates are checked when it is saved."""

    model_config = ConfigDict(
        **STRICT,
        # A body template replaces the preset's body: not both.
        json_schema_extra={
            "not": {
                "required": ["body_template", "preset"],
                "properties": {"body_template": {"type": "string"}, "preset": {"type": "string"}},
            }
        },
    )
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(
        min_length=1,
        max_length=4096,
        json_schema_extra={"pattern": URL_OR_TEMPLATE},
        description="an http(s) URL, Jinja2 (`https://{{ data.host }}/x`), or a template that "
        "renders one (`{{ data.callback }}`); amqp(s)://, nats://, redis(s):// or mqtt(s):// "
        "delivers to a broker (see destination)",
    )
    method: Method = "POST"
    content_type: str = Field("application/json", min_length=1, max_length=200)
    headers: str | dict[str, str] = Field("", description="`Name: Value` lines, Jinja2")
    body_template: str | None = Field(None, description="Jinja2; null = the preset's body")
    preset: Literal["netbox", "sqle", "job", "standard"] | None = None
    secret: Secret | None = Field(None, max_length=1000)
    ssl_verification: bool = True
    ca_file_path: str | None = None
    client_cert_path: str | None = Field(None, description="PEM; may hold the key too")
    client_key_path: str | None = Field(None, description="PEM, unencrypted")
    timeout: Annotated[float, Range(limits.MIN_TIMEOUT, limits.MAX_TIMEOUT, "seconds")] = Field(
        5.0, description="seconds"
    )
    auth: Annotated[BasicAuth | BearerAuth | OAuth2Auth, Field(discriminator="type")] | None = None
    cookies: dict[str, str] | None = None
    retry: Retry = Field(default_factory=Retry)
    enabled: bool = True
    max_concurrency: Annotated[int, Range(1, limits.MAX_CONCURRENCY)] | None = Field(
        None, description="requests in flight at once; null = no limit"
    )
    rate_limit: Rate | None = Field(None, description="requests per second; null = no limit")
    ordering_key: str | None = Field(
        None,
        max_length=1000,
        description="Jinja2; deliveries with the same key are sent one at a time, in order",
    )
    failure_threshold: Annotated[int, Range(1, limits.MAX_FAILURE_THRESHOLD)] | None = Field(
        DEFAULT_FAILURE_THRESHOLD,
        description="disable after this many consecutive failed attempts; null = never",
    )
    failure_window: Annotated[float, Range(0, limits.MAX_FAILURE_WINDOW, "seconds")] = Field(
        DEFAULT_FAILURE_WINDOW,
        description="seconds the failures must span before the webhook is disabled",
    )
    destination: dict[str, Any] | None = Field(
        None,
        description="a broker destination's options, targets as Jinja2 templates: amqp "
        '{"exchange", "routing_key", "persistent", "mandatory"}, nats {"subject", "stream", '
        '"deduplicate"}, redis_stream {"stream", "maxlen"}, mqtt {"topic", "qos", "retain"}; '
        "null for http(s) URLs (docs/destinations.md)",
    )

    @field_validator("url")
    @classmethod
    def _url_or_template(cls, value: str) -> str:
        if not re.match(URL_OR_TEMPLATE, value):
            raise ValueError(
                "expected a URL (http://, https://, or a broker's amqp://, nats://, redis://, "
                f"mqtt://) or a Jinja2 template, got {value[:80]!r}"
            )
        return value

    @field_validator("headers")
    @classmethod
    def _header_text(cls, value: str | dict[str, str]) -> str:
        if isinstance(value, dict):
            return "\n".join(f"{k}: {v}" for k, v in value.items())
        return value

    @field_validator("ca_file_path", "client_cert_path", "client_key_path")
    @classmethod
    def _existing_file(cls, value: str | None) -> str | None:
        if value and not os.path.isfile(value):
            raise ValueError(f"no such file: {value}")
        return value or None


@optional_fields
class WebhookPatch(WebhookIn):
    """The fields of a webhook to change; masked values sent back keep their secrets."""


def public(row: Row) -> dict[str, Any]:
    """A webhook as the API shows it: credentials masked, times in ISO 8601."""
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
    """Masked values sent back unchanged (GET, edit, PATCH) keep the stored secret."""
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
    """Rotated-out secrets still signing, as the API shows them: only when each stops."""
    live = signing.live_secrets(previous, time.time())
    return [{"expires_at": iso(entry["expires_at"])} for entry in live]


def _previous_secrets(row: Row, secret: str | None, grace: float) -> list[dict[str, Any]]:
    """`previous_secrets` once the secret is `secret`: a replaced one signs on for `grace` s."""
    if not secret:
        return []  # unsigned from now on: rotated-out secrets stop signing too
    replaced = row["secret"] if row["secret"] != secret else None
    return signing.rotate(replaced, secret, row["previous_secrets"], grace, time.time())


def _cert_dir(request: Request) -> str:
    cert_dir: str = request.app.state.settings.cert_dir
    return cert_dir


def _rotation_grace(request: Request) -> float:
    grace: float = request.app.state.settings.secret_rotation_grace
    return grace


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


@router.post("/webhooks", status_code=201, summary="Create a webhook", responses=NAME_TAKEN)
async def create_webhook(webhook: WebhookIn, store: StoreDep, _: Writer, request: Request) -> JSON:
    return JSON(public(await create(request, webhook)), status_code=201)


async def create(request: Request, webhook: WebhookIn) -> Row:
    """Store a new webhook after checking it (the API and the UI)."""
    return await store_of(request).insert(webhooks, new_row(webhook, _cert_dir(request)))


def draft(request: Request, values: dict[str, Any], row: Row | None) -> Row:
    """The row a webhook would have with `values` (masked values keep `row`'s secrets), checked
    like a save but stored nowhere: what a preview or test of unsaved edits renders."""
    if row is None:
        return new_row(WebhookIn.model_validate(values), _cert_dir(request))
    current = {name: row[name] for name in WebhookIn.model_fields}
    merged = WebhookIn.model_validate({**current, **unmask(dict(values), row)})
    columns = _columns(merged, _cert_dir(request))
    return {**row, **columns, "previous_secrets": row["previous_secrets"]}


@router.get("/webhooks", summary="List webhooks")
async def list_webhooks(
    store: StoreDep, _: Reader, cursor: Cursor = None, limit: Limit = 50
) -> JSON:
    rows, next_cursor = await store.page(webhooks, {}, cursor, limit)
    return JSON(page([public(row) for row in rows], next_cursor))


@router.get("/webhooks/{webhook_id}", summary="Get a webhook")
async def get_webhook(webhook_id: str, store: StoreDep, _: Reader) -> JSON:
    return JSON(public(await store.get(webhooks, webhook_id)))


@router.patch(
    "/webhooks/{webhook_id}", summary="Change some fields of a webhook", responses=NAME_TAKEN
)
async def patch_webhook(
    webhook_id: str,
    store: StoreDep,
    _: Writer,
    request: Request,
    patch: WebhookPatch,
) -> JSON:
    changes = patch.model_dump(exclude_unset=True)
    return JSON(public(await change(request, webhook_id, changes)))


async def change(request: Request, webhook_id: str, patch: dict[str, Any]) -> Row:
    """Apply `patch` to a webhook, masked values keeping their secrets (the API and the UI)."""
    store = store_of(request)
    row = await store.get(webhooks, webhook_id)
    current = {name: row[name] for name in WebhookIn.model_fields}
    merged = WebhookIn.model_validate({**current, **unmask(dict(patch), row)})
    values = _columns(merged, _cert_dir(request))
    values["previous_secrets"] = _previous_secrets(row, values["secret"], _rotation_grace(request))
    values.update(implied_changes(row, values))
    updated = await store.update(webhooks, webhook_id, {**values, "updated_at": time.time()})
    if row["enabled"] and not values["enabled"]:
        await store.pause(webhook_id)
    elif values["enabled"] and not row["enabled"]:
        await store.resume(webhook_id)
        wake_workers(request)
    return updated


def implied_changes(row: Row, values: Row) -> Row:
    """What else changes when `row` takes `values` (PATCH, the UI, `hookhub apply`)."""
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


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    summary="Replace the signing secret; the old one signs on for a grace period",
)
async def rotate_secret(
    webhook_id: str,
    store: StoreDep,
    _: Writer,
    request: Request,
    rotation: SecretRotation | None = None,
) -> JSON:
    rotation = rotation or SecretRotation()
    if rotation.secret == MASK:
        raise ValidationError("send the new secret itself, not the mask", field="secret")
    row = await store.get(webhooks, webhook_id)
    secret = rotation.secret or signing.generate_secret()
    grace = _rotation_grace(request) if rotation.grace is None else rotation.grace
    previous = _previous_secrets(row, secret, grace)
    await store.update(
        webhooks,
        webhook_id,
        {"secret": secret, "previous_secrets": previous, "updated_at": time.time()},
    )
    # The only time the new secret is shown whole.
    return JSON({"secret": secret, "previous_secrets": _expiries(previous)})


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Delete a webhook")
async def delete_webhook(webhook_id: str, store: StoreDep, _: Writer) -> None:
    await store.delete(webhooks, webhook_id)
