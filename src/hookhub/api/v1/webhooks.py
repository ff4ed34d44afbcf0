"""`/webhooks`: where events are delivered, how they are rendered, signed and retried."""

from __future__ import annotations

import os
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hookhub.api.responses import JSON
from hookhub.api.v1.common import Cursor, Limit, Reader, StoreDep, Writer, iso, page
from hookhub.core.retry import DEFAULT_SCHEDULE, RetryPolicy
from hookhub.db.store import Row
from hookhub.db.tables import webhooks
from hookhub.errors import ValidationError
from hookhub.ids import new_id
from hookhub.outbound.rendering import MASK, SENSITIVE_HEADER, check_templates

router = APIRouter(tags=["webhooks"])

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
WEEK = 7 * 86400.0  # seconds


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["basic"]
    username: str
    password: str


class BearerAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["bearer"]
    token: str = Field(min_length=1)


class Retry(BaseModel):
    """How often a failed delivery is tried again (see docs/webhooks.md)."""

    model_config = ConfigDict(extra="forbid")
    max_attempts: int = Field(4, ge=0, le=100, description="tries in all; 0 or 1 = one try")
    strategy: Literal["exponential", "fixed", "schedule"] = "exponential"
    interval: float = Field(5.0, gt=0, le=WEEK, description="seconds")
    max_interval: float = Field(3600.0, gt=0, le=WEEK, description="seconds")
    schedule: list[Annotated[float, Field(gt=0, le=WEEK)]] = Field(
        default_factory=lambda: list(DEFAULT_SCHEDULE), min_length=1, max_length=50
    )


class WebhookIn(BaseModel):
    """A webhook as written by users; templates are checked when it is saved."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=4096, description="Jinja2 template")
    method: Method = "POST"
    content_type: str = Field("application/json", min_length=1, max_length=200)
    headers: str | dict[str, str] = Field("", description="`Name: Value` lines, Jinja2")
    body_template: str | None = Field(None, description="Jinja2; null = the preset's body")
    preset: Literal["netbox", "sqle", "job", "standard"] | None = None
    secret: str | None = Field(None, max_length=1000)
    ssl_verification: bool = True
    ca_file_path: str | None = None
    timeout: float = Field(5.0, ge=0.5, le=120, description="seconds")
    auth: Annotated[BasicAuth | BearerAuth, Field(discriminator="type")] | None = None
    cookies: dict[str, str] | None = None
    retry: Retry = Field(default_factory=Retry)
    enabled: bool = True

    @field_validator("headers")
    @classmethod
    def _header_text(cls, value: str | dict[str, str]) -> str:
        if isinstance(value, dict):
            return "\n".join(f"{k}: {v}" for k, v in value.items())
        return value

    @field_validator("ca_file_path")
    @classmethod
    def _ca_file(cls, value: str | None) -> str | None:
        if value and not os.path.isfile(value):
            raise ValueError(f"no such file: {value}")
        return value or None


def public(row: Row) -> dict[str, Any]:
    """A webhook as the API shows it: credentials masked, times in ISO 8601."""
    auth = dict(row["auth"]) if row["auth"] else None
    for key in ("password", "token"):
        if auth and auth.get(key):
            auth[key] = MASK
    return {
        "id": row["id"],
        "name": row["name"],
        "url": row["url"],
        "method": row["method"],
        "content_type": row["content_type"],
        "headers": "\n".join(_mask_line(line) for line in row["headers"].splitlines()),
        "body_template": row["body_template"],
        "preset": row["preset"],
        "secret": MASK if row["secret"] else None,
        "ssl_verification": row["ssl_verification"],
        "ca_file_path": row["ca_file_path"],
        "timeout": row["timeout"],
        "auth": auth,
        "cookies": {k: MASK for k in row["cookies"]} if row["cookies"] else None,
        "retry": RetryPolicy.from_json(row["retry"]).to_json(),
        "enabled": row["enabled"],
        "disabled_reason": row["disabled_reason"],
        "disabled_at": iso(row["disabled_at"]),
        "version": row["version"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def _mask_line(line: str) -> str:
    name, sep, _ = line.partition(":")
    return f"{name}: {MASK}" if sep and SENSITIVE_HEADER.search(name) else line


def _unmask(patch: dict[str, Any], row: Row) -> dict[str, Any]:
    """Masked values sent back unchanged (GET, edit, PATCH) keep the stored secret."""
    if patch.get("secret") == MASK:
        patch["secret"] = row["secret"]
    auth, old_auth = patch.get("auth"), row["auth"] or {}
    if isinstance(auth, dict):
        for key in ("password", "token"):
            if auth.get(key) == MASK and auth.get("type") == old_auth.get("type"):
                auth[key] = old_auth.get(key)
    cookies, old_cookies = patch.get("cookies"), row["cookies"] or {}
    if isinstance(cookies, dict):
        patch["cookies"] = {
            k: old_cookies.get(k, v) if v == MASK else v for k, v in cookies.items()
        }
    headers = patch.get("headers")
    if isinstance(headers, str):
        old = dict(_split(line) for line in row["headers"].splitlines() if ":" in line)
        patch["headers"] = "\n".join(
            f"{name}: {old.get(name, value)}" if value == MASK else line
            for line in headers.splitlines()
            for name, value in [_split(line)]
        )
    return patch


def _split(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip(), value.strip()


def _columns(webhook: WebhookIn) -> dict[str, Any]:
    values = webhook.model_dump()
    check_templates(values)
    if values["body_template"] is not None and values["preset"] is not None:
        raise ValidationError("set either body_template or preset, not both", field="preset")
    return values


def new_row(webhook: WebhookIn) -> Row:
    """The full stored row of a new, validated webhook."""
    now = time.time()
    return {
        **_columns(webhook),
        "id": new_id("wh"),
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "disabled_reason": None,
        "disabled_at": None,
    }


@router.post("/webhooks", status_code=201, summary="Create a webhook")
async def create_webhook(webhook: WebhookIn, store: StoreDep, _: Writer) -> JSON:
    return JSON(public(await store.insert(webhooks, new_row(webhook))), status_code=201)


@router.get("/webhooks", summary="List webhooks")
async def list_webhooks(
    store: StoreDep, _: Reader, cursor: Cursor = None, limit: Limit = 50
) -> JSON:
    rows, next_cursor = await store.page(webhooks, {}, cursor, limit)
    return JSON(page([public(row) for row in rows], next_cursor))


@router.get("/webhooks/{webhook_id}", summary="Get a webhook")
async def get_webhook(webhook_id: str, store: StoreDep, _: Reader) -> JSON:
    return JSON(public(await store.get(webhooks, webhook_id)))


@router.patch("/webhooks/{webhook_id}", summary="Change some fields of a webhook")
async def patch_webhook(
    webhook_id: str, store: StoreDep, _: Writer, patch: dict[str, Any] = Body(...)
) -> JSON:
    row = await store.get(webhooks, webhook_id)
    current = {name: row[name] for name in WebhookIn.model_fields}
    merged = WebhookIn.model_validate({**current, **_unmask(dict(patch), row)})
    values = _columns(merged)
    if values["enabled"] and not row["enabled"]:
        values.update(disabled_reason=None, disabled_at=None)
    updated = await store.update(webhooks, webhook_id, {**values, "updated_at": time.time()})
    return JSON(public(updated))


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Delete a webhook")
async def delete_webhook(webhook_id: str, store: StoreDep, _: Writer) -> None:
    await store.delete(webhooks, webhook_id)
