"""API tokens: create (the plaintext is shown once), list, revoke."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from hookhub.services import tokens
from hookhub.ui.web import Form, User, context_of, page_router, redirect, render, text

router = page_router("admin", "admin")

SHOWN = 500  # tokens the page lists


async def _page(request: Request, status: int = 200, **context: object) -> Response:
    found, _next = await tokens.listed(context_of(request), None, SHOWN)
    return render(request, "tokens.html", status, tokens=found, scopes=tokens.SCOPES, **context)


@router.get("/tokens")
async def list_page(request: Request, _: User) -> Response:
    return await _page(request)


@router.post("/tokens")
async def create(request: Request, form: Form) -> Response:
    name, scope = text(form, "name"), text(form, "scope")
    errors = tokens.problems(name, scope)
    if errors:
        return await _page(request, 422, errors=errors, name=name)
    created = await tokens.create(context_of(request), name, scope)
    # Rendered, not redirected: the plaintext exists only in this response.
    return await _page(request, created=created.token, plaintext=created.plaintext)


@router.post("/tokens/{token_id}/revoke")
async def revoke(request: Request, token_id: str, _: Form) -> Response:
    await tokens.revoke(context_of(request), token_id)
    return redirect("/tokens", "Token revoked.")
