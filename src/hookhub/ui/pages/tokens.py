"""API tokens: create (the plaintext is shown once), list, revoke."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from hookhub.db.store import SCOPES
from hookhub.db.tables import tokens
from hookhub.ui.web import Form, User, page_router, redirect, render, store_of, text

router = page_router()


async def _page(request: Request, status: int = 200, **context: object) -> Response:
    rows, _next = await store_of(request).page(tokens, {}, None, 500)
    return render(request, "tokens.html", status, tokens=rows, scopes=SCOPES, **context)


@router.get("/tokens")
async def list_page(request: Request, _: User) -> Response:
    return await _page(request)


@router.post("/tokens")
async def create(request: Request, form: Form) -> Response:
    name, scope = text(form, "name"), text(form, "scope")
    errors = {}
    if not name or len(name) > 200:
        errors["name"] = "give the token a name (up to 200 characters)"
    if scope not in SCOPES:
        errors["scope"] = f"must be one of {', '.join(SCOPES)}"
    if errors:
        return await _page(request, 422, errors=errors, name=name)
    row, plaintext = await store_of(request).create_token(name, scope)
    # Rendered, not redirected: the plaintext exists only in this response.
    return await _page(request, created=row, plaintext=plaintext)


@router.post("/tokens/{token_id}/revoke")
async def revoke(request: Request, token_id: str, _: Form) -> Response:
    await store_of(request).revoke_token(token_id)
    return redirect("/tokens", "Token revoked.")
