"""Webhooks: list, create, edit, preview, send a test, enable/disable, delete, retry, replay."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pydantic
from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import Response

from hookhub.errors import HookhubError
from hookhub.outbound.rendering import CompiledWebhook, template_errors, template_warnings
from hookhub.services import activity, deliveries, operations
from hookhub.services import webhooks as service
from hookhub.services.operations import SampleEvent
from hookhub.services.webhook_input import WebhookIn
from hookhub.ui import charts
from hookhub.ui.forms import field_errors, parse_json
from hookhub.ui.web import (
    COUNT_CAP,
    PAGE,
    Form,
    User,
    context_of,
    number,
    optional,
    page_router,
    paging,
    parse_time,
    redirect,
    render,
    store_of,
    text,
)

router = page_router()

SAMPLE = orjson.dumps(operations.SAMPLE_EVENT, option=orjson.OPT_INDENT_2).decode()


def _fields(form: FormData, current: dict[str, Any]) -> dict[str, Any]:
    """The webhook fields the form edits; the rest (retry timing, limits...) keep `current`."""
    auth_type = text(form, "auth_type")
    auth: dict[str, Any] | None = None
    if auth_type == "basic":
        auth = {"type": "basic", "username": text(form, "auth_username")}
        auth["password"] = form.get("auth_password") or ""
    elif auth_type == "bearer":
        auth = {"type": "bearer", "token": text(form, "auth_token")}
    elif auth_type == "keep":
        # A kind the form does not edit (OAuth2): kept as stored; its mask restores the secret.
        auth = current.get("auth")
    retry = dict(current.get("retry") or {})
    retry.update(max_attempts=number(form, "max_attempts"), strategy=text(form, "strategy"))
    return {
        "name": text(form, "name"),
        "url": text(form, "url"),
        "method": text(form, "method"),
        "content_type": text(form, "content_type"),
        "headers": str(form.get("headers") or "").replace("\r\n", "\n").strip(),
        # Templates are kept exactly as typed (whitespace can matter); blank means none.
        "body_template": str(form.get("body_template") or "").replace("\r\n", "\n") or None,
        "preset": optional(form, "preset"),
        "secret": optional(form, "secret"),
        "timeout": number(form, "timeout"),
        "ssl_verification": form.get("ssl_verification") == "on",
        "enabled": form.get("enabled") == "on",
        "auth": auth,
        "retry": retry,
        "destination": _destination(str(form.get("destination") or "")),
    }


HEALTH_BUCKET = 3600  # seconds per bar of a webhook's sparkline
HEALTH_BUCKETS = 24  # its health covers these many buckets, the current one included


async def _health(request: Request, ids: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each webhook's health (three grouped queries for the whole page) and sparkline."""
    now = time.time()
    found = await activity.health(store_of(request), ids, HEALTH_BUCKET, HEALTH_BUCKETS, now)
    sparks = {
        hook: charts.sparkline(h.buckets, "attempts per hour, last 24 hours")
        for hook, h in found.items()
    }
    return found, sparks


def _destination(raw: str) -> Any:
    """A broker destination's options from the form's JSON; text that is not JSON is passed on
    as it is, for validation to refuse it with a message naming the field."""
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


@router.get("/webhooks")
async def list_page(request: Request, _: User, cursor: str | None = None) -> Response:
    ctx = context_of(request)
    rows, next_cursor = await service.page(ctx, cursor or None, PAGE)
    health, sparks = await _health(request, [row["id"] for row in rows])
    return render(
        request,
        "webhooks/list.html",
        webhooks=[service.public(r) for r in rows],
        health=health,
        sparks=sparks,
        paging=paging(request, await service.count(ctx, COUNT_CAP), "webhook", next_cursor),
    )


def _errors(exc: pydantic.ValidationError | HookhubError, values: dict[str, Any]) -> dict[str, str]:
    """Every problem of the form at once: the fields' own, then each template's (a bad timeout
    no longer hides a bad URL template and a bad body template); a destination option's is
    shown under the destination box."""
    errors: dict[str, str] = {}
    for field, message in field_errors(exc).items():
        name, _, option = field.partition(".")
        if name == "destination" and option:
            message = f"{option}: {message}"
        errors.setdefault(name if name == "destination" else field, message)
    for field, message in template_errors(values).items():
        errors.setdefault(field, message)
    return errors


def _sample(form: FormData, errors: dict[str, str]) -> dict[str, Any] | None:
    """The "Try it" sample event of the form; None for none (the API's default test event)."""
    sample = parse_json(str(form.get("sample") or ""), "sample", errors)
    if errors or not sample:
        return None
    try:
        return SampleEvent.model_validate(sample).model_dump(exclude_none=True)
    except pydantic.ValidationError as exc:
        errors["sample"] = "; ".join(field_errors(exc).values())
        return None


def _warnings(row: dict[str, Any], form: FormData) -> dict[str, str]:
    """Templates reading names no event has, and what the form's sample event fails to render."""
    warnings = template_warnings(row)
    errors: dict[str, str] = {}
    event = _sample(form, errors)
    if not errors:
        try:
            operations.sample_request(CompiledWebhook.from_row(row), event)
        except HookhubError as exc:
            warnings.setdefault(
                exc.field or "body_template", f"with the sample event: {exc.message}"
            )
    return warnings


async def _page(request: Request, webhook_id: str | None, **context: Any) -> Response:
    """The form: a stored webhook's (edit) or a new one's, with what `context` overrides."""
    row = await service.get(context_of(request), webhook_id) if webhook_id else None
    if row is not None:
        context.setdefault("webhook", service.public(row))
        context.setdefault("failed", await operations.failed_count(store_of(request), row["id"]))
        health, sparks = await _health(request, [row["id"]])
        context.update(health=health[row["id"]], spark=sparks[row["id"]])
    context.setdefault("sample", SAMPLE)
    status = context.pop("status", 200)
    return render(request, "webhooks/form.html", status, id=webhook_id, **context)


@router.get("/webhooks/new")
async def new_page(request: Request, _: User) -> Response:
    defaults = WebhookIn.model_validate({"name": "x", "url": "https://x"}).model_dump()
    return await _page(request, None, webhook={**defaults, "name": "", "url": ""})


@router.post("/webhooks/new")
async def create(request: Request, form: Form) -> Response:
    values = _fields(form, {})
    sample = str(form.get("sample") or SAMPLE)
    try:
        row = await service.create(context_of(request), WebhookIn.model_validate(values))
    except (pydantic.ValidationError, HookhubError) as exc:
        errors = _errors(exc, values)
        return await _page(request, None, webhook=values, errors=errors, sample=sample, status=422)
    warnings = _warnings(row, form)
    if warnings:
        notice = "Webhook created, with warnings: check the fields marked below."
        return await _page(request, row["id"], warnings=warnings, notice=notice, sample=sample)
    return redirect(f"/webhooks/{row['id']}", "Webhook created.")


@router.get("/webhooks/{webhook_id}")
async def edit_page(request: Request, webhook_id: str, _: User) -> Response:
    return await _page(request, webhook_id)


@router.post("/webhooks/{webhook_id}")
async def save(request: Request, webhook_id: str, form: Form) -> Response:
    ctx = context_of(request)
    current = await service.get(ctx, webhook_id)
    values = _fields(form, service.public(current))
    sample = str(form.get("sample") or SAMPLE)
    try:
        row = await service.change(ctx, webhook_id, values)
    except (pydantic.ValidationError, HookhubError) as exc:
        shown = {**service.public(current), **values}
        errors = _errors(exc, values)
        return await _page(
            request, webhook_id, webhook=shown, errors=errors, sample=sample, status=422
        )
    warnings = _warnings(row, form)
    if warnings:
        notice = "Saved, with warnings: check the fields marked below."
        return await _page(request, webhook_id, warnings=warnings, notice=notice, sample=sample)
    return redirect(f"/webhooks/{webhook_id}", "Saved.")


@router.post("/webhooks/{webhook_id}/try")
async def try_sample(request: Request, webhook_id: str, form: Form) -> Response:
    """Preview the request a sample event produces, or send it now (`action=test`), with the
    webhook as the form has it, saved or not (`webhook_id` "new": a webhook not created yet)."""
    errors: dict[str, str] = {}
    ctx = context_of(request)
    current = None if webhook_id == "new" else await service.get(ctx, webhook_id)
    values = _fields(form, service.public(current) if current else {})
    if not values["name"]:
        values["name"] = "unsaved"  # a preview needs no name yet
    event = _sample(form, errors)
    result: dict[str, Any] | None = None
    try:
        # A post with only a sample (a script, an old page) tries the webhook as saved.
        unsaved = current is None or "url" in form
        row = service.draft(ctx, values, current) if unsaved or current is None else current
        webhook = CompiledWebhook.from_row(row)
        if not errors and form.get("action") == "test":
            result = await operations.send_test(request.app.state.sender, webhook, event)
        elif not errors:
            prepared, _ = operations.sample_request(webhook, event)
            result = {"request": operations.describe_request(prepared)}
    except (pydantic.ValidationError, HookhubError) as exc:
        for field, message in _errors(exc, values).items():
            errors.setdefault(field, message)
    shown = {**(service.public(current) if current else {}), **values, "name": text(form, "name")}
    if not unsaved and current is not None:
        shown = service.public(current)
    return await _page(
        request,
        current["id"] if current else None,
        webhook=shown,
        sample=str(form.get("sample") or ""),
        result=result,
        errors=errors,
        status=422 if errors else 200,
    )


@router.get("/webhooks/{webhook_id}/retry-failed")
async def retry_failed_page(request: Request, webhook_id: str, _: User) -> Response:
    """Ask first: how many deliveries would be re-sent, and where."""
    row = await service.get(context_of(request), webhook_id)
    count = await operations.failed_count(store_of(request), webhook_id)
    return render(request, "webhooks/retry.html", webhook=service.public(row), count=count)


@router.post("/webhooks/{webhook_id}/toggle")
async def toggle(request: Request, webhook_id: str, _: Form) -> Response:
    ctx = context_of(request)
    row = await service.get(ctx, webhook_id)
    await service.change(ctx, webhook_id, {"enabled": not row["enabled"]})
    state = "disabled" if row["enabled"] else "enabled"
    return redirect(f"/webhooks/{webhook_id}", f"Webhook {state}.")


@router.post("/webhooks/{webhook_id}/delete")
async def remove(request: Request, webhook_id: str, _: Form) -> Response:
    await service.delete(context_of(request), webhook_id)
    return redirect("/webhooks", "Webhook deleted.")


@router.post("/webhooks/{webhook_id}/retry-failed")
async def retry_failed(request: Request, webhook_id: str, form: Form) -> Response:
    if form.get("confirm") != "yes":
        return await retry_failed_page(request, webhook_id, request.state.user)
    retried = await deliveries.retry_failed(context_of(request), webhook_id, None)
    return redirect(
        f"/deliveries?webhook_id={webhook_id}", f"Retrying {retried} failed deliveries."
    )


@router.post("/webhooks/{webhook_id}/replay")
async def replay(request: Request, webhook_id: str, form: Form) -> Response:
    errors: dict[str, str] = {}
    since = parse_time(text(form, "since"), "since", errors)
    until = parse_time(text(form, "until"), "until", errors)
    if since is None and "since" not in errors:
        errors["since"] = "give the start of the range"
    if errors or since is None:
        return await _page(request, webhook_id, errors=errors, status=422)
    try:
        done = await deliveries.replay(context_of(request), webhook_id, since, until or time.time())
    except HookhubError as exc:
        return await _page(request, webhook_id, errors=field_errors(exc), status=422)
    notice = f"Replayed {done.events} events: {done.deliveries} new deliveries."
    return redirect(f"/deliveries?webhook_id={webhook_id}", notice)
