"""Log in and out: a signed session cookie whose CSRF token guards every form."""

from __future__ import annotations

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from hookhub.services import users
from hookhub.ui.security import COOKIE, Session
from hookhub.ui.web import (
    Form,
    page_router,
    redirect,
    render,
    session_of,
    start_session,
    store_of,
    text,
)

router = page_router(read=None)


def _next(target: str) -> str:
    # Only paths on this site: an absolute or scheme-relative URL would be an open redirect.
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    session = await session_of(request) or Session.fresh()
    request.state.session = session
    response = render(request, "login.html", next=_next(next), error=None)
    await start_session(request, response, session)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    session = await session_of(request)
    token = form.get("csrf")
    if session is None or not session.accepts(token if isinstance(token, str) else None):
        raise HTTPException(403, "CSRF token missing or invalid: reload the page and try again")
    username, password = text(form, "username"), form.get("password")
    target = _next(text(form, "next"))
    user = None
    if isinstance(password, str):
        user = await users.log_in(store_of(request), username, password)
    if user is None:
        request.state.session = session
        return render(
            request,
            "login.html",
            status=401,
            next=target,
            error="Unknown username or wrong password.",
            username=username,
        )
    response = redirect(target)
    # A new session (and CSRF token) on login: a token seen before it is worth nothing after.
    await start_session(request, response, Session.fresh(user["id"]))
    return response


@router.post("/logout")
async def logout(_: Form) -> Response:
    response = redirect("/login")
    response.delete_cookie(COOKIE)
    return response
