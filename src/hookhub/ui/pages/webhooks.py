"""Webhooks: list, create, edit, preview, send a test, enable/disable, delete, retry, replay."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pydantic
from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import Response

from hookhub.api.v1 import webhooks as api
from hookhub.api.v1.operations import SampleEvent, retry_failed_of
from hookhub.db.tables import webhooks
from hookhub.errors import HookhubError
from hookhub.outbound import operations
from hookhub.ui.forms import field_errors, parse_json
from hookhub.ui.web import (
    Form,
    User,
    optional,
    page_router,
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
    retry.update(max_attempts=text(form, "max_attempts"), strategy=text(form, "strategy"))
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
        "timeout": text(form, "timeout"),
        "ssl_verification": form.get("ssl_verification") == "on",
        "enabled": form.get("enabled") == "on",
        "auth": auth,
        "retry": retry,
        "destination": _destination(str(form.get("destination") or "")),
    }


def _errors(exc: pydantic.ValidationError | HookhubError) -> dict[str, str]:
    """`field_errors`, a destination option's shown under the destination box."""
    errors: dict[str, str] = {}
    for field, message in field_errors(exc).items():
        name, _, option = field.partition(".")
        if name == "destination" and option:
            message = f"{option}: {message}"
        errors.setdefault(name if name == "destination" else field, message)
    return errors


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
async def list_page(request: Request, _: User) -> Response:
    rows, _next = await store_of(request).page(webhooks, {}, None, 500)
    return render(request, "webhooks/list.html", webhooks=[api.public(r) for r in rows])


@router.get("/webhooks/new")
async def new_page(request: Request, _: User) -> Response:
    defaults = api.WebhookIn.model_validate({"name": "x", "url": "x"}).model_dump()
    return render(request, "webhooks/form.html", webhook={**defaults, "name": "", "url": ""})


@router.post("/webhooks/new")
async def create(request: Request, form: Form) -> Response:
    values = _fields(form, {})
    try:
        row = await api.create(request, api.WebhookIn.model_validate(values))
    except (pydantic.ValidationError, HookhubError) as exc:
        return render(request, "webhooks/form.html", 422, webhook=values, errors=_errors(exc))
    return redirect(f"/webhooks/{row['id']}", "Webhook created.")


async def _page(request: Request, webhook_id: str, **context: Any) -> Response:
    row = await store_of(request).get(webhooks, webhook_id)
    context.setdefault("webhook", api.public(row))
    context.setdefault("sample", SAMPLE)
    return render(
        request, "webhooks/form.html", context.pop("status", 200), id=row["id"], **context
    )


@router.get("/webhooks/{webhook_id}")
async def edit_page(request: Request, webhook_id: str, _: User) -> Response:
    return await _page(request, webhook_id)


@router.post("/webhooks/{webhook_id}")
async def save(request: Request, webhook_id: str, form: Form) -> Response:
    current = await store_of(request).get(webhooks, webhook_id)
    values = _fields(form, api.public(current))
    try:
        await api.change(request, webhook_id, values)
    except (pydantic.ValidationError, HookhubError) as exc:
        shown = {**api.public(current), **values}
        return await _page(request, webhook_id, webhook=shown, errors=_errors(exc), status=422)
    return redirect(f"/webhooks/{webhook_id}", "Saved.")


@router.post("/webhooks/{webhook_id}/try")
async def try_sample(request: Request, webhook_id: str, form: Form) -> Response:
    """Preview the request a sample event produces, or send it now (`action=test`)."""
    errors: dict[str, str] = {}
    raw = str(form.get("sample") or "")
    sample = parse_json(raw, "sample", errors)
    result: dict[str, Any] | None = None
    if not errors:
        try:
            # An empty sample is no event, as in the API (a `sqle` test sends SQLE's text).
            event = (
                SampleEvent.model_validate(sample).model_dump(exclude_none=True) if sample else None
            )
            webhook = await operations.compiled(store_of(request), webhook_id)
            if form.get("action") == "test":
                result = await operations.send_test(request.app.state.sender, webhook, event)
            else:
                prepared, _ = operations.sample_request(webhook, event)
                result = {"request": operations.describe_request(prepared)}
        except (pydantic.ValidationError, HookhubError) as exc:
            errors["sample"] = "; ".join(field_errors(exc).values())
    status = 422 if errors else 200
    return await _page(request, webhook_id, sample=raw, result=result, errors=errors, status=status)


@router.post("/webhooks/{webhook_id}/toggle")
async def toggle(request: Request, webhook_id: str, _: Form) -> Response:
    row = await store_of(request).get(webhooks, webhook_id)
    await api.change(request, webhook_id, {"enabled": not row["enabled"]})
    state = "disabled" if row["enabled"] else "enabled"
    return redirect(f"/webhooks/{webhook_id}", f"Webhook {state}.")


@router.post("/webhooks/{webhook_id}/delete")
async def remove(request: Request, webhook_id: str, _: Form) -> Response:
    await store_of(request).delete(webhooks, webhook_id)
    return redirect("/webhooks", "Webhook deleted.")


@router.post("/webhooks/{webhook_id}/retry-failed")
async def retry_failed(request: Request, webhook_id: str, _: Form) -> Response:
    retried = await retry_failed_of(request, webhook_id, None)
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
        done = await operations.replay(
            store_of(request),
            webhook_id,
            since,
            until or time.time(),
            on_work=request.app.state.on_work,
        )
    except HookhubError as exc:
        return await _page(request, webhook_id, errors=field_errors(exc), status=422)
    notice = f"Replayed {done.events} events: {done.deliveries} new deliveries."
    return redirect(f"/deliveries?webhook_id={webhook_id}", notice)
