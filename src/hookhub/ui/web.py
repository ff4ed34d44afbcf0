"""What every UI page shares: templates, the login session, roles, CSRF-checked forms,
redirects."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from hookhub.db.store import Row, Store
from hookhub.errors import HookhubError
from hookhub.services import users
from hookhub.services.common import SYSTEM, Actor, Context
from hookhub.ui.security import COOKIE, SESSION_MAX_AGE, Session, seal, unseal

HERE = Path(__file__).parent


def _ago(seconds: float) -> str:
    """A duration as the pages say it: `just now`, `3 min ago`, `in 2 h`, `5 d ago`."""
    span = abs(seconds)
    if span < 45:
        return "just now"
    if span < 90 * 60:
        amount, unit = max(1, round(span / 60)), "min"
    elif span < 36 * 3600:
        amount, unit = round(span / 3600), "h"
    else:
        amount, unit = round(span / 86400), "d"
    return f"{amount} {unit} ago" if seconds >= 0 else f"in {amount} {unit}"


def when(moment: float | str | None, now: float | None = None) -> Markup:
    """A time as the pages show it: relative (`3 min ago`) in a `<time>` element whose
    `datetime` is ISO 8601 and whose title is the exact UTC time; a dash when there is none."""
    if moment is None or moment == "":
        return Markup("\u2013")  # en dash
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return Markup("{}").format(moment)  # a time as a caller reported it, unread
        epoch = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    else:
        epoch = float(moment)
    exact = datetime.fromtimestamp(epoch, UTC)
    relative = _ago((time.time() if now is None else now) - epoch)
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        exact.isoformat(timespec="seconds").replace("+00:00", "Z"),
        exact.strftime("%Y-%m-%d %H:%M:%S"),
        relative,
    )


def pretty(body: str | None) -> str:
    """A body as indented JSON when it is JSON, else unchanged: easier to read in a page."""
    if not body:
        return ""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return body


COUNT_CAP = 10_000  # a list's total counts this far at most, then shows "10000+"
PAGE = 50  # rows a list shows at once


@dataclass(frozen=True)
class Paging:
    """Where a list page is: its total (capped), and the links to the next and first pages."""

    total: int
    noun: str
    older: str | None  # the next page's URL, None on the last page
    newest: str | None  # the first page's URL, None on the first page

    @property
    def counted(self) -> str:
        """`145 deliveries`, `1 delivery`, `10000+ deliveries`."""
        more = "+" if self.total >= COUNT_CAP else ""
        noun = self.noun if self.total == 1 else _plural(self.noun)
        return f"{self.total}{more} {noun}"


def _plural(noun: str) -> str:
    return noun[:-1] + "ies" if noun.endswith("y") and noun[-2] not in "aeiou" else noun + "s"


def paging(request: Request, total: int, noun: str, next_cursor: str | None) -> Paging:
    """The paging of a list shown at `request`'s URL, whose next page starts at `next_cursor`;
    every other query parameter (the filters) is kept in the links."""
    kept = request.query_params.multi_items()
    params = [(k, v) for k, v in kept if k not in ("cursor", "notice")]
    path = request.url.path
    older = f"{path}?{urlencode([*params, ('cursor', next_cursor)])}" if next_cursor else None
    newest = None
    if request.query_params.get("cursor"):
        newest = f"{path}?{urlencode(params)}" if params else path
    return Paging(total, noun, older, newest)


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["when"] = when
templates.env.filters["pretty"] = pretty


def store_of(request: Request) -> Store:
    """The process's store."""
    store: Store = request.app.state.store
    return store


def context_of(request: Request) -> Context:
    """What the services need from this app: its store, settings and workers' wake-up, and who
    asks (the logged-in user, once `User` has been checked)."""
    user: Row | None = getattr(request.state, "user", None)
    actor = Actor("user", user["id"], user["username"]) if user else SYSTEM
    return Context.of(request.app.state, actor)


async def cookie_key(request: Request) -> bytes:
    """The key that signs the UI's and the portal's cookies (HOOKHUB_SECRET_KEY, else one
    generated once and shared through the database)."""
    state = request.app.state
    if getattr(state, "ui_key", None) is None:
        configured: str = state.settings.secret_key
        # A configured key of any length becomes a 32-byte HMAC key.
        state.ui_key = (
            hashlib.sha256(configured.encode()).digest()
            if configured
            else await users.session_key(store_of(request))
        )
    key: bytes = state.ui_key
    return key


async def session_of(request: Request) -> Session | None:
    """The request's valid session cookie, if any."""
    cookie = request.cookies.get(COOKIE)
    return unseal(cookie, await cookie_key(request), time.time()) if cookie else None


async def start_session(request: Request, response: Response, session: Session) -> None:
    """Set the session cookie: HttpOnly, SameSite=Lax, Secure when the site is https."""
    response.set_cookie(
        COOKIE,
        seal(session, await cookie_key(request)),
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def is_https(request: Request) -> bool:
    """Whether the site is served over https (a cookie set on it may be Secure)."""
    # Behind a TLS-terminating proxy the request is http, but HOOKHUB_PUBLIC_URL says https.
    public_url: str = request.app.state.settings.public_url
    return request.url.scheme == "https" or public_url.startswith("https://")


async def current_user(request: Request) -> Row:
    """The logged-in user; anyone else is sent to the login page."""
    session = await session_of(request)
    user = None
    if session is not None and session.user_id is not None:
        user = await users.user_by_id(store_of(request), session.user_id)  # None once deleted
    if user is None or session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        # Handled by the app's HTTPException handler, which keeps the Location header.
        raise HTTPException(
            303, "log in first", headers={"Location": f"/login?next={quote(target)}"}
        )
    request.state.session = session
    request.state.user = user
    return user


User = Annotated[Row, Depends(current_user)]


async def checked_form(request: Request, _: User) -> FormData:
    """The submitted form, refused with 403 unless it carries this session's CSRF token."""
    form = await request.form()
    session: Session = request.state.session
    token = form.get("csrf")
    if not session.accepts(token if isinstance(token, str) else None):
        raise HTTPException(403, "CSRF token missing or invalid: reload the page and try again")
    return form


Form = Annotated[FormData, Depends(checked_form)]


def _role_check(read: str, write: str) -> Callable[[Request, Row], Coroutine[Any, Any, None]]:
    async def check(request: Request, user: User) -> None:
        needed = read if request.method in ("GET", "HEAD") else write
        if not users.allows(user["role"], needed):
            raise HTTPException(
                403, f"This needs the {needed} role; you are {user['role']}. Ask an admin."
            )

    return check


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """A page from `templates/`, with the user, CSRF token and notice every page shows, and
    `can(role)`: whether the user has `role` (pages hide what they may not use)."""
    session: Session | None = getattr(request.state, "session", None)
    user: Row | None = getattr(request.state, "user", None)
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "can": lambda role: user is not None and users.allows(user["role"], role),
            "csrf": session.csrf if session else "",
            "notice": request.query_params.get("notice"),
            **context,
        },
        status_code=status,
    )


def redirect(path: str, notice: str | None = None) -> RedirectResponse:
    """See-other to `path` (a POST's answer), with a one-line notice for the next page."""
    if notice:
        path += ("&" if "?" in path else "?") + urlencode({"notice": notice})
    return RedirectResponse(path, status_code=303)


def text(form: FormData, name: str) -> str:
    """A form field as text, stripped; "" when absent."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def number(form: FormData, name: str) -> int | float | str:
    """A form field as the JSON number the API takes (an integer when it is one); the text
    itself when it is not a number, for the model to refuse naming the field."""
    value = text(form, name)
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def optional(form: FormData, name: str) -> str | None:
    """A form field as text, None when empty."""
    return text(form, name) or None


def parse_time(value: str, field: str, errors: dict[str, str]) -> float | None:
    """A `datetime-local` or ISO 8601 value (UTC unless it says otherwise) as epoch seconds;
    a message in `errors[field]` when it can't be read."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors[field] = f"not a date and time: {value!r} (expected e.g. 2026-01-31T14:05)"
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


SELF_ONLY = "frame-ancestors 'self'"  # CSP: only the UI's own pages may frame a UI page


def framed_by_self(response: Response) -> Response:
    """`response` with the UI's defence against clickjacking: only the UI's own pages may show
    it in a frame (CSP `frame-ancestors`, added to a policy it already has, and
    `X-Frame-Options` for browsers that predate it)."""
    policy = response.headers.get("Content-Security-Policy")
    response.headers["Content-Security-Policy"] = f"{policy}; {SELF_ONLY}" if policy else SELF_ONLY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


class PageRoute(APIRoute):
    """A page route whose refusals (unknown id, CSRF, login needed) answer as pages, not JSON,
    and whose every answer carries the UI's framing policy."""

    error_page = "error.html"  # the template a refusal is shown with

    def finish(self, request: Request, response: Response) -> Response:
        """Add the headers every answer of these pages carries: the UI's framing policy."""
        return framed_by_self(response)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, with hookhub's errors turned into an error page or a redirect,
        and `finish`'s headers on every answer."""
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except HTTPException as exc:
                if exc.status_code == 303 and exc.headers:
                    response = RedirectResponse(exc.headers["Location"], status_code=303)
                else:
                    response = render(request, self.error_page, exc.status_code, message=exc.detail)
            except HookhubError as exc:
                response = render(request, self.error_page, exc.status, message=exc.message)
            return self.finish(request, response)

        return route


def page_router(read: str | None = "viewer", write: str = "editor") -> APIRouter:
    """A router for one resource's pages: each GET needs a logged-in user of role `read`,
    every other method (each form and action) one of role `write`, checked here once so that
    no route can forget it. `read=None`: pages anyone may open (login), no check."""
    if read is None:
        return APIRouter(route_class=PageRoute)
    return APIRouter(route_class=PageRoute, dependencies=[Depends(_role_check(read, write))])
