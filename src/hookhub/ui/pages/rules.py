"""Event rules: list, create and edit with a JSON conditions editor; test one on an event."""

from __future__ import annotations

from typing import Any

import orjson
import pydantic
from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import Response

from hookhub.core.conditions import ConditionError, explain, validate_conditions
from hookhub.errors import HookhubError
from hookhub.outbound.rules import matches
from hookhub.services import events as events_service
from hookhub.services import rules as service
from hookhub.services import webhooks as webhooks_service
from hookhub.services.operations import SampleEvent
from hookhub.services.rules import RuleIn
from hookhub.ui.forms import field_errors, parse_json
from hookhub.ui.web import (
    COUNT_CAP,
    PAGE,
    Form,
    User,
    context_of,
    page_router,
    paging,
    redirect,
    render,
    store_of,
    text,
)

router = page_router()


def _words(form: FormData, name: str) -> list[str]:
    return [part.strip() for part in text(form, name).replace(",", " ").split() if part.strip()]


def _shown(values: dict[str, Any], raw_conditions: str | None = None) -> dict[str, Any]:
    """A rule as its form shows it: lists as text, conditions as indented JSON."""
    conditions = values.get("conditions")
    if raw_conditions is None:
        raw_conditions = (
            orjson.dumps(conditions, option=orjson.OPT_INDENT_2).decode() if conditions else ""
        )
    return {
        **values,
        "object_types": " ".join(values.get("object_types") or []),
        "event_types": " ".join(values.get("event_types") or []),
        "conditions": raw_conditions,
    }


EVENTS_OFFERED = 20  # latest stored events offered to test a rule against
SAMPLE = orjson.dumps(
    {"object_type": "dcim.device", "event": "updated", "data": {"status": {"value": "active"}}},
    option=orjson.OPT_INDENT_2,
).decode()


async def _form(request: Request, status: int = 200, **context: Any) -> Response:
    hooks, _next = await webhooks_service.page(context_of(request), None, 500)
    recent = await events_service.newest(store_of(request), EVENTS_OFFERED)
    context.setdefault("sample", SAMPLE)
    return render(request, "rules/form.html", status, webhooks=hooks, events=recent, **context)


def _values(form: FormData, raw: str, errors: dict[str, str]) -> dict[str, Any]:
    return {
        "name": text(form, "name"),
        "object_types": _words(form, "object_types"),
        "event_types": _words(form, "event_types"),
        "conditions": parse_json(raw, "conditions", errors),
        "webhook_id": text(form, "webhook_id"),
        "enabled": form.get("enabled") == "on",
    }


async def _submit(request: Request, form: FormData, rule_id: str | None) -> Response:
    errors: dict[str, str] = {}
    raw = str(form.get("conditions") or "")
    values = _values(form, raw, errors)
    if not errors:
        try:
            ctx = context_of(request)
            if rule_id is None:
                saved = await service.create(ctx, RuleIn.model_validate(values))
            else:
                saved = await service.change(ctx, rule_id, values)
            warned = " ".join(f"Warning: {text}." for text in saved.warnings)
            return redirect("/rules", f"Rule saved. {warned}".strip())
        except (pydantic.ValidationError, HookhubError) as exc:
            errors = field_errors(exc)
    # Condition messages name their path inside the document (conditions.and.0.op: ...):
    # shown under the conditions editor.
    for key in [k for k in errors if k not in service.FIELDS and k != "_"]:
        errors["conditions"] = errors.pop(key)
    return await _form(
        request,
        422,
        rule=_shown(values, raw),
        id=rule_id,
        errors=errors,
        sample=str(form.get("sample") or SAMPLE),
        event_key=text(form, "event_key"),
    )


async def _event(request: Request, form: FormData, errors: dict[str, str]) -> dict[str, Any]:
    """The event to test against: a stored one picked (by key), else the pasted JSON."""
    key = text(form, "event_key")
    if key:
        return await events_service.stored(context_of(request), key)
    pasted = parse_json(str(form.get("sample") or ""), "sample", errors)
    if errors:
        return {}
    try:
        return SampleEvent.model_validate(pasted or {}).model_dump()
    except pydantic.ValidationError as exc:
        errors["sample"] = "; ".join(f"{k}: {v}" for k, v in field_errors(exc).items())
        return {}


@router.post("/rules/test")
async def test_rule(request: Request, form: Form) -> Response:
    """The form's rule, saved or not, tried against a stored or pasted event: which parts
    matched. Nothing is saved or sent."""
    errors: dict[str, str] = {}
    raw = str(form.get("conditions") or "")
    values = _values(form, raw, errors)
    if not errors and values["conditions"] is not None:
        try:
            validate_conditions(values["conditions"])
        except ConditionError as exc:
            errors["conditions"] = str(exc)
    event = await _event(request, form, errors)
    outcome: dict[str, Any] | None = None
    if not errors:
        data = event.get("data")
        outcome = {
            "event": event,
            "object_type": not values["object_types"]
            or event["object_type"] in values["object_types"],
            "event_type": not values["event_types"] or event["event"] in values["event_types"],
            "checked": explain(
                values["conditions"], data if isinstance(data, dict) else {}, event.get("snapshots")
            ),
            "matched": matches(values, event),
        }
    rule_id = text(form, "id") or None
    return await _form(
        request,
        422 if errors else 200,
        rule=_shown(values, raw),
        id=rule_id,
        errors=errors,
        outcome=outcome,
        sample=str(form.get("sample") or ""),
        event_key=text(form, "event_key"),
    )


@router.get("/rules")
async def list_page(request: Request, _: User, cursor: str | None = None) -> Response:
    ctx = context_of(request)
    rows, next_cursor = await service.page(ctx, cursor or None, PAGE)
    hooks, _next = await webhooks_service.page(ctx, None, 500)
    names = {hook["id"]: hook["name"] for hook in hooks}
    total = await service.count(ctx, COUNT_CAP)
    shown = paging(request, total, "rule", next_cursor)
    return render(request, "rules/list.html", rules=rows, names=names, paging=shown)


@router.get("/rules/new")
async def new_page(request: Request, _: User) -> Response:
    return await _form(request, rule=_shown({"enabled": True}))


@router.post("/rules/new")
async def create(request: Request, form: Form) -> Response:
    return await _submit(request, form, None)


@router.get("/rules/{rule_id}")
async def edit_page(request: Request, rule_id: str, _: User) -> Response:
    row = await service.get(context_of(request), rule_id)
    return await _form(request, rule=_shown(service.public(row)), id=rule_id)


@router.post("/rules/{rule_id}")
async def save(request: Request, rule_id: str, form: Form) -> Response:
    return await _submit(request, form, rule_id)


@router.post("/rules/{rule_id}/delete")
async def remove(request: Request, rule_id: str, _: Form) -> Response:
    await service.delete(context_of(request), rule_id)
    return redirect("/rules", "Rule deleted.")
