"""Sources (message brokers): list, create, edit and delete, and each source's refused messages.
The checks and the masking are the service's (services/sources.py), as for the API."""

from __future__ import annotations

from typing import Any

import orjson
import pydantic
from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import Response

from hookhub.errors import HookhubError
from hookhub.services import sources as service
from hookhub.ui.forms import GENERAL, field_errors, parse_json
from hookhub.ui.web import Form, User, page_router, redirect, render, store_of, text

router = page_router()
SHOWN_FAILURES = 50  # the newest refused messages on a source's page
LISTED = 500  # sources the list shows


@router.get("/sources")
async def list_page(request: Request, _: User) -> Response:
    rows, _next = await service.listing(store_of(request), None, LISTED)
    return render(request, "sources/list.html", sources=[service.public(row) for row in rows])


def _shown(source: dict[str, Any], raw_mapping: str | None = None) -> dict[str, Any]:
    """A source as its form shows it: one address, the mapping as indented JSON."""
    if raw_mapping is None:
        mapping = source.get("mapping")
        raw_mapping = orjson.dumps(mapping, option=orjson.OPT_INDENT_2).decode() if mapping else ""
    address = next((source[k] for k in (*service.ADDRESS_FIELDS, "address") if source.get(k)), "")
    return {**source, "address": address, "mapping": raw_mapping}


def _values(form: FormData, errors: dict[str, str]) -> dict[str, Any]:
    """The source's fields as the form gives them (mapping parsed; the address separate)."""
    return {
        "name": text(form, "name"),
        "url": text(form, "url"),
        "group": text(form, "group") or service.DEFAULT_GROUP,
        "mapping": parse_json(str(form.get("mapping") or ""), "mapping", errors),
        "enabled": form.get("enabled") == "on",
    }


def _errors(exc: pydantic.ValidationError | HookhubError) -> dict[str, str]:
    """The service's messages under the form's inputs: any address field under `address`,
    a mapping template's (`mapping.event`) under `mapping`, naming the template."""
    shown: dict[str, str] = {}
    for key, message in field_errors(exc).items():
        if key in service.ADDRESS_FIELDS:
            shown["address"] = message
        elif key.startswith("mapping."):
            shown["mapping"] = f"{key.removeprefix('mapping.')}: {message}"
        elif key in (*service.FIELDS, GENERAL):
            shown[key] = message
        else:
            shown[GENERAL] = f"{key}: {message}"
    return shown


async def _submit(request: Request, form: FormData, source_id: str | None) -> Response:
    errors: dict[str, str] = {}
    values = _values(form, errors)
    address = text(form, "address")
    if not errors:
        try:
            spec = service.with_address(values, address)
            store = store_of(request)
            if source_id is None:
                row = await service.create(store, spec)
            else:
                row = await service.change(store, source_id, spec)
            return redirect(f"/sources/{row['id']}", "Source saved.")
        except (pydantic.ValidationError, HookhubError) as exc:
            errors = _errors(exc)
    shown = _shown({**values, "address": address}, str(form.get("mapping") or ""))
    return render(request, "sources/form.html", 422, source=shown, id=source_id, errors=errors)


@router.get("/sources/new")
async def new_page(request: Request, _: User) -> Response:
    blank = {"group": service.DEFAULT_GROUP, "enabled": True}
    return render(request, "sources/form.html", source=_shown(blank), id=None)


@router.post("/sources/new")
async def create(request: Request, form: Form) -> Response:
    return await _submit(request, form, None)


@router.get("/sources/{source_id}")
async def detail_page(request: Request, source_id: str, _: User) -> Response:
    store = store_of(request)
    row = await service.get(store, source_id)
    failures, _next = await service.failures(store, source_id, None, SHOWN_FAILURES)
    return render(request, "sources/detail.html", source=service.public(row), failures=failures)


@router.get("/sources/{source_id}/edit")
async def edit_page(request: Request, source_id: str, _: User) -> Response:
    row = await service.get(store_of(request), source_id)
    shown = _shown(service.public(row))
    return render(request, "sources/form.html", source=shown, id=source_id)


@router.post("/sources/{source_id}/edit")
async def save(request: Request, source_id: str, form: Form) -> Response:
    return await _submit(request, form, source_id)


@router.post("/sources/{source_id}/delete")
async def remove(request: Request, source_id: str, _: Form) -> Response:
    await service.delete(store_of(request), source_id)
    return redirect("/sources", "Source deleted.")
