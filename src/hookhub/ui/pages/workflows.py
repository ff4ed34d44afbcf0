"""Workflows: list, create and edit as a YAML/JSON document, the trigger URL, the graph, runs."""

from __future__ import annotations

from typing import Any

import pydantic
import yaml
from fastapi import Request
from starlette.responses import Response

from hookhub.api.v1 import runs as runs_api
from hookhub.api.v1 import workflows as api
from hookhub.db.tables import runs, workflows
from hookhub.errors import HookhubError, ValidationError
from hookhub.ui import graph
from hookhub.ui.forms import field_errors, parse_document
from hookhub.ui.web import (
    COUNT_CAP,
    PAGE,
    Form,
    User,
    page_router,
    paging,
    redirect,
    render,
    store_of,
)
from hookhub.workflows.document import WorkflowIn

router = page_router()

EXAMPLE = """\
name: hello
trigger:
  mode: sync
  methods: [POST]
start: check
nodes:
  - id: check
    type: condition
    expression: body.name is defined
    then: greet
    else: ask
  - id: greet
    type: response
    status: 200
    body: "hello {{ body.name }}"
  - id: ask
    type: response
    status: 400
    body: "send {\\"name\\": ...}"
"""


def _document(shown: dict[str, Any]) -> str:
    doc = {key: shown[key] for key in ("name", "enabled", "trigger", "start", "nodes")}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


async def _submit(request: Request, raw: str, workflow_id: str | None) -> Response:
    errors: dict[str, str] = {}
    doc = parse_document(raw, "document", errors)
    if not errors:
        try:
            if not isinstance(doc, dict):
                raise ValidationError("the document must be a mapping (name, trigger, nodes...)")
            if workflow_id is None:
                row = await api.create(request, WorkflowIn.model_validate(doc))
            else:
                row = await api.change(request, workflow_id, doc)
            return redirect(f"/workflows/{row['id']}", "Workflow saved.")
        except HookhubError as exc:
            errors = {"document": exc.message}  # it names the field or node already
        except pydantic.ValidationError as exc:
            found = field_errors(exc).items()
            errors = {"document": "; ".join(f"{k}: {v}" if k != "_" else v for k, v in found)}
    return render(request, "workflows/form.html", 422, document=raw, id=workflow_id, errors=errors)


@router.get("/workflows")
async def list_page(request: Request, _: User, cursor: str | None = None) -> Response:
    store = store_of(request)
    rows, next_cursor = await store.page(workflows, {}, cursor or None, PAGE)
    total = await store.count(workflows, {}, COUNT_CAP)
    return render(
        request,
        "workflows/list.html",
        workflows=[api.public(r, request) for r in rows],
        paging=paging(request, total, "workflow", next_cursor),
    )


@router.get("/workflows/new")
async def new_page(request: Request, _: User) -> Response:
    return render(request, "workflows/form.html", document=EXAMPLE, id=None)


@router.post("/workflows/new")
async def create(request: Request, form: Form) -> Response:
    return await _submit(request, str(form.get("document") or ""), None)


@router.get("/workflows/{workflow_id}")
async def detail_page(
    request: Request, workflow_id: str, _: User, cursor: str | None = None
) -> Response:
    store = store_of(request)
    shown = api.public(await store.get(workflows, workflow_id), request)
    of_workflow = {"workflow_id": workflow_id}
    recent, next_cursor = await store.page(runs, of_workflow, cursor or None, PAGE)
    total = await store.count(runs, of_workflow, COUNT_CAP)
    return render(
        request,
        "workflows/detail.html",
        workflow=shown,
        drawing=graph.draw(shown["start"], shown["nodes"]),
        runs=[runs_api.summary(row) for row in recent],
        paging=paging(request, total, "run", next_cursor),
    )


@router.get("/workflows/{workflow_id}/edit")
async def edit_page(request: Request, workflow_id: str, _: User) -> Response:
    shown = api.public(await store_of(request).get(workflows, workflow_id), request)
    return render(request, "workflows/form.html", document=_document(shown), id=workflow_id)


@router.post("/workflows/{workflow_id}/edit")
async def save(request: Request, workflow_id: str, form: Form) -> Response:
    return await _submit(request, str(form.get("document") or ""), workflow_id)


@router.post("/workflows/{workflow_id}/delete")
async def remove(request: Request, workflow_id: str, _: Form) -> Response:
    await api.remove(request, workflow_id)
    return redirect("/workflows", "Workflow deleted.")


@router.get("/runs/{run_id}")
async def run_page(request: Request, run_id: str, _: User) -> Response:
    run = runs_api.detail(await store_of(request).get(runs, run_id))
    return render(request, "workflows/run.html", run=run)
