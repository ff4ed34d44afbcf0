"""The portal's endpoints: list, add (URL and subscribed event types), edit, disable/enable,
delete, the signing secret (reveal, rotate), retry every failed delivery, send an example."""

from __future__ import annotations

from typing import Any

import pydantic
from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import Response

from hookhub.errors import HookhubError
from hookhub.services import deliveries, portal, webhooks
from hookhub.ui.forms import field_errors
from hookhub.ui.portal.session import Portal, PortalForm, context_of, page, portal_router
from hookhub.ui.web import COUNT_CAP, PAGE, paging, redirect, text

router = portal_router()


def _values(form: FormData) -> dict[str, Any]:
    """The endpoint form's fields: ticked catalog types, or the comma-separated ones typed."""
    types = [str(t) for t in form.getlist("event_types") if str(t).strip()]
    typed = text(form, "event_types_text")
    types += [part.strip() for part in typed.split(",") if part.strip()]
    url = text(form, "url")
    return {"url": url, "name": text(form, "name") or url[:200], "event_types": types}


def _grace(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:g} hours" if hours >= 1 else f"{seconds:g} seconds"


async def _form_page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    ctx = context_of(request)
    context.setdefault("errors", {})
    grace = _grace(ctx.settings.secret_rotation_grace)
    catalog = await portal.catalog(ctx)
    return page(request, name, status, catalog=catalog, grace=grace, **context)


@router.get("/portal")
async def home(_: Portal) -> Response:
    return redirect("/portal/endpoints")


@router.get("/portal/endpoints")
async def list_page(request: Request, _: Portal, cursor: str | None = None) -> Response:
    ctx = context_of(request)
    found, next_cursor = await portal.endpoints(ctx, cursor or None, PAGE)
    total = await webhooks.count(ctx, COUNT_CAP)
    return page(
        request,
        "endpoints.html",
        endpoints=found,
        paging=paging(request, total, "endpoint", next_cursor),
    )


@router.get("/portal/endpoints/new")
async def new_page(request: Request, _: Portal) -> Response:
    return await _form_page(request, "new.html", values={"event_types": []})


@router.post("/portal/endpoints/new")
async def create(request: Request, form: PortalForm) -> Response:
    values = _values(form)
    try:
        made = await portal.create(
            context_of(request), values["name"], values["url"], values["event_types"]
        )
    except (pydantic.ValidationError, HookhubError) as exc:
        errors = field_errors(exc)
        return await _form_page(request, "new.html", 422, values=values, errors=errors)
    return redirect(f"/portal/endpoints/{made.webhook['id']}", "Endpoint added.")


async def _endpoint_page(
    request: Request, webhook_id: str, status: int = 200, **context: Any
) -> Response:
    ctx = context_of(request)
    shown = await portal.endpoint(ctx, webhook_id)
    context.setdefault("values", {**shown.webhook, "event_types": shown.event_types})
    failed = await portal.failed_count(ctx, webhook_id)
    return await _form_page(
        request, "endpoint.html", status, endpoint=shown, failed=failed, **context
    )


@router.get("/portal/endpoints/{webhook_id}")
async def endpoint_page(request: Request, webhook_id: str, _: Portal) -> Response:
    return await _endpoint_page(request, webhook_id)


@router.get("/portal/endpoints/{webhook_id}/secret")
async def reveal_secret(request: Request, webhook_id: str, _: Portal) -> Response:
    """The endpoint's signing secret, shown whole (what a receiver needs to verify)."""
    row = await webhooks.get(context_of(request), webhook_id)
    return await _endpoint_page(request, webhook_id, secret=row["secret"] or "")


@router.post("/portal/endpoints/{webhook_id}")
async def save(request: Request, webhook_id: str, form: PortalForm) -> Response:
    values = _values(form)
    try:
        await portal.change(
            context_of(request), webhook_id, values["name"], values["url"], values["event_types"]
        )
    except (pydantic.ValidationError, HookhubError) as exc:
        # Another tenant's id stays a 404: the page below is refused the same way.
        errors = field_errors(exc)
        return await _endpoint_page(request, webhook_id, 422, values=values, errors=errors)
    return redirect(f"/portal/endpoints/{webhook_id}", "Saved.")


@router.post("/portal/endpoints/{webhook_id}/toggle")
async def toggle(request: Request, webhook_id: str, _: PortalForm) -> Response:
    ctx = context_of(request)
    row = await webhooks.get(ctx, webhook_id)
    await webhooks.change(ctx, webhook_id, {"enabled": not row["enabled"]})
    state = "disabled" if row["enabled"] else "enabled"
    return redirect(f"/portal/endpoints/{webhook_id}", f"Endpoint {state}.")


@router.post("/portal/endpoints/{webhook_id}/delete")
async def remove(request: Request, webhook_id: str, _: PortalForm) -> Response:
    await webhooks.delete(context_of(request), webhook_id)
    return redirect("/portal/endpoints", "Endpoint deleted.")


@router.post("/portal/endpoints/{webhook_id}/rotate-secret")
async def rotate_secret(request: Request, webhook_id: str, _: PortalForm) -> Response:
    """A new secret, shown this once; the old one signs on for the rotation grace period."""
    rotated = await webhooks.rotate_secret(context_of(request), webhook_id, None, None)
    notice = "New secret made: update your receiver. The previous one still signs for now."
    return await _endpoint_page(request, webhook_id, secret=rotated.secret, notice=notice)


@router.post("/portal/endpoints/{webhook_id}/retry-failed")
async def retry_failed(request: Request, webhook_id: str, _: PortalForm) -> Response:
    retried = await deliveries.retry_failed(context_of(request), webhook_id, None)
    notice = f"Retrying {retried} failed deliveries."
    return redirect(f"/portal/deliveries?endpoint={webhook_id}", notice)


@router.post("/portal/examples")
async def send_example(request: Request, form: PortalForm) -> Response:
    """Send the catalog's example of an event type (or `{}`) to the tenant's endpoints."""
    ctx = context_of(request)
    type_name = text(form, "event_type")
    accepted = await portal.send_example(ctx, request.app.state.intake, type_name)
    count = accepted.deliveries
    notice = f"Example {type_name} sent: {count} {'delivery' if count == 1 else 'deliveries'}."
    endpoint = text(form, "endpoint")
    where = f"?endpoint={endpoint}" if endpoint else ""
    return redirect(f"/portal/deliveries{where}", notice)
