"""Workflows: list, create and edit as a YAML/JSON document, the trigger URL, the graph, runs."""

from __future__ import annotations

from typing import Any

import pydantic
import yaml
from fastapi import Request
from markupsafe import Markup
from starlette.responses import Response

from hookhub.errors import HookhubError
from hookhub.services import runs, workflows
from hookhub.ui import graph
from hookhub.ui.forms import line_of, yaml_error_line
from hookhub.ui.web import (
    COUNT_CAP,
    PAGE,
    Form,
    User,
    context_of,
    optional,
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


def _base(request: Request) -> str:
    return workflows.trigger_base(request.app.state.settings.public_url, str(request.base_url))


def _dirs(request: Request) -> tuple[str, ...]:
    dirs: tuple[str, ...] = request.app.state.settings.command_dirs
    return dirs


def _forget(request: Request) -> workflows.Forget:
    forget: workflows.Forget = request.app.state.triggers.forget
    return forget


def _document(shown: dict[str, Any]) -> str:
    doc = {key: shown[key] for key in ("name", "enabled", "trigger", "start", "nodes")}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


Problem = tuple[int | None, str]  # (line in the document or None, message)


def _problems(
    raw: str, exc: HookhubError | pydantic.ValidationError, doc: dict[str, Any]
) -> list[Problem]:
    """Each message with the line of the document it is about, when that can be found: the
    refusal's, then every other node's (the save stops at the first)."""
    if isinstance(exc, HookhubError):
        found: list[Problem] = []
        for error in [exc, *workflows.problems(doc)]:
            path = error.field.split(".") if error.field else []
            problem = (line_of(raw, path), error.message)
            if problem not in found:
                found.append(problem)
        return found
    shape: list[Problem] = []
    for detail in exc.errors():
        parts = [str(p) for p in detail["loc"] if not str(p)[:1].isupper() and "[" not in str(p)]
        where = ".".join(parts)
        message = f"{where}: {detail['msg']}" if where else str(detail["msg"])
        shape.append((line_of(raw, parts), message))
    return shape


def _parsed(raw: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The document as a mapping, or why not (with the YAML error's line)."""
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        return None, [(yaml_error_line(exc), f"not valid YAML or JSON: {exc}")]
    if not isinstance(doc, dict):
        return None, [(1, "the document must be a mapping (name, trigger, nodes...)")]
    return doc, []


def _drawing(doc: dict[str, Any] | None) -> Markup | None:
    """The graph of a document that has a start and a list of nodes with ids, valid or not."""
    nodes = doc.get("nodes") if doc else None
    if not doc or not isinstance(nodes, list) or not nodes:
        return None
    if not all(isinstance(n, dict) and isinstance(n.get("id"), str) for n in nodes):
        return None
    return graph.draw(str(doc.get("start") or nodes[0]["id"]), nodes)


def _form(
    request: Request, raw: str, workflow_id: str | None, problems: list[Problem], **context: Any
) -> Response:
    lines = [line for line, _ in problems if line]
    return render(
        request,
        "workflows/form.html",
        422 if problems else 200,
        document=raw,
        id=workflow_id,
        problems=problems,
        error_line=lines[0] if lines else None,
        **context,
    )


async def _submit(request: Request, raw: str, workflow_id: str | None) -> Response:
    doc, problems = _parsed(raw)
    if doc is not None:
        try:
            ctx, dirs, forget = context_of(request), _dirs(request), _forget(request)
            if workflow_id is None:
                workflow = WorkflowIn.model_validate(doc)
                row = await workflows.create(ctx, workflow, dirs, forget)
            else:
                row = await workflows.change(ctx, workflow_id, doc, dirs, forget)
            return redirect(f"/workflows/{row['id']}", "Workflow saved.")
        except (HookhubError, pydantic.ValidationError) as exc:
            problems = _problems(raw, exc, doc)
    return _form(request, raw, workflow_id, problems)


@router.post("/workflows/preview")
async def preview(request: Request, form: Form) -> Response:
    """Check the document and draw its graph without saving it."""
    raw = str(form.get("document") or "")
    workflow_id = optional(form, "id")
    doc, problems = _parsed(raw)
    if doc is not None:
        try:
            doc = workflows.draft(doc, _dirs(request))
        except (HookhubError, pydantic.ValidationError) as exc:
            problems = _problems(raw, exc, doc)
    return _form(request, raw, workflow_id, problems, drawing=_drawing(doc), previewed=True)


@router.get("/workflows")
async def list_page(request: Request, _: User, cursor: str | None = None) -> Response:
    store, base = store_of(request), _base(request)
    rows, next_cursor = await workflows.listed(store, cursor or None, PAGE)
    total = await workflows.count(store, COUNT_CAP)
    return render(
        request,
        "workflows/list.html",
        workflows=[workflows.shown(r, base) for r in rows],
        paging=paging(request, total, "workflow", next_cursor),
    )


@router.get("/workflows/new")
async def new_page(request: Request, _: User) -> Response:
    return _form(request, EXAMPLE, None, [])


@router.post("/workflows/new")
async def create(request: Request, form: Form) -> Response:
    return await _submit(request, str(form.get("document") or ""), None)


@router.get("/workflows/{workflow_id}")
async def detail_page(
    request: Request, workflow_id: str, _: User, cursor: str | None = None, status: str = ""
) -> Response:
    store = store_of(request)
    shown = workflows.shown(await workflows.get(store, workflow_id), _base(request))
    chosen = status if status in runs.STATUSES else None
    recent, next_cursor = await runs.listed(store, workflow_id, chosen, cursor or None, PAGE)
    total = await runs.count(store, workflow_id, chosen, COUNT_CAP)
    return render(
        request,
        "workflows/detail.html",
        workflow=shown,
        drawing=graph.draw(shown["start"], shown["nodes"]),
        runs=recent,
        paging=paging(request, total, "run", next_cursor),
        statuses=runs.STATUSES,
        run_status=chosen or "",
    )


@router.get("/workflows/{workflow_id}/edit")
async def edit_page(request: Request, workflow_id: str, _: User) -> Response:
    shown = workflows.shown(await workflows.get(store_of(request), workflow_id), _base(request))
    return _form(request, _document(shown), workflow_id, [])


@router.post("/workflows/{workflow_id}/edit")
async def save(request: Request, workflow_id: str, form: Form) -> Response:
    return await _submit(request, str(form.get("document") or ""), workflow_id)


@router.post("/workflows/{workflow_id}/delete")
async def remove(request: Request, workflow_id: str, _: Form) -> Response:
    await workflows.remove(context_of(request), workflow_id, _forget(request))
    return redirect("/workflows", "Workflow deleted.")


@router.get("/runs/{run_id}")
async def run_page(request: Request, run_id: str, _: User) -> Response:
    run = await runs.get(store_of(request), run_id)
    return render(request, "workflows/run.html", run=run)


@router.post("/runs/{run_id}/rerun")
async def rerun(request: Request, run_id: str, _: Form) -> Response:
    """A new run of the same trigger request (queued, async), as `POST /runs/{id}/rerun`."""
    wake = request.app.state.triggers.runner.wake
    row = await runs.rerun(store_of(request), run_id, {}, wake)
    return redirect(f"/runs/{row['id']}", "Re-run queued with the same input.")
