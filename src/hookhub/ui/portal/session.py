"""The portal's session: a signed cookie of its own (not the UI's login), started by opening a
portal link and ending when the link expires; its CSRF token; the pages' route class that
answers refusals as pages and sends the portal's framing policy (docs/portal.md)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.responses import Response

from hookhub.services import portal_links
from hookhub.services.common import Context
from hookhub.services.portal_links import PORTAL_PATH, Link
from hookhub.ui.security import csrf_matches, seal_data, unseal_data
from hookhub.ui.web import PageRoute, cookie_key, is_https, render

COOKIE = "hookhub_portal"
NO_SESSION = "Open the portal with the link you were given: this page needs it."


@dataclass(frozen=True)
class PortalSession:
    """The link a portal session was started with, and the CSRF token its forms echo."""

    link_id: str
    csrf: str

    @classmethod
    def fresh(cls, link_id: str) -> PortalSession:
        """A new session for `link_id`, with a new CSRF token."""
        return cls(link_id, secrets.token_urlsafe(24))


async def _key(request: Request) -> bytes:
    # Derived from the UI's key, so a UI login cookie can never pass for a portal session.
    return hashlib.sha256(await cookie_key(request) + b"\x00portal").digest()


def framing(request: Request) -> str:
    """Whether another site may show the portal in an iframe: `'none'` unless configured."""
    ancestors: str = request.app.state.settings.portal_frame_ancestors
    return ancestors


async def start(request: Request, response: Response, link: Link) -> None:
    """Give the browser a new portal session for `link`, lasting until the link expires."""
    session = PortalSession.fresh(link.id)
    embeddable = framing(request) != "'none'"
    response.set_cookie(
        COOKIE,
        seal_data({"l": session.link_id, "c": session.csrf}, await _key(request)),
        max_age=max(1, int(link.expires_at - time.time())),
        path=PORTAL_PATH,
        httponly=True,
        # In an iframe on another site the cookie is a third-party one: only SameSite=None
        # (which needs Secure) lets the browser send it, partitioned by the embedding site.
        samesite="none" if embeddable else "lax",
        secure=embeddable or is_https(request),
    )
    if embeddable:
        # Starlette writes `Partitioned` only on Python 3.14 and above: added here.
        name, value = response.raw_headers[-1]
        response.raw_headers[-1] = (name, value + b"; Partitioned")


def system(request: Request) -> Context:
    """The services' context before a link is known (opening one, checking a session)."""
    return Context.of(request.app.state)


async def current_link(request: Request) -> Link:
    """The link of the request's portal session; 403 without one, 410 once it expired, 404 once
    it (or its tenant) was deleted."""
    cookie = request.cookies.get(COOKIE)
    data = unseal_data(cookie, await _key(request)) if cookie else None
    if data is None or not isinstance(data.get("l"), str) or not isinstance(data.get("c"), str):
        raise HTTPException(403, NO_SESSION)
    link = await portal_links.of_session(system(request), data["l"], time.time())
    request.state.session = PortalSession(data["l"], data["c"])
    request.state.link = link
    return link


Portal = Annotated[Link, Depends(current_link)]


def context_of(request: Request) -> Context:
    """The services' context for a portal page: who asks is the link, held to its tenant."""
    link: Link = request.state.link
    return Context.of(request.app.state, link.actor)


async def checked_form(request: Request, link: Portal) -> FormData:
    """The submitted form, refused with 403 for a read-only link or without this session's
    CSRF token."""
    if link.read_only:
        raise HTTPException(403, "This portal link can only show things, not change them.")
    form = await request.form()
    session: PortalSession = request.state.session
    token = form.get("csrf")
    if not csrf_matches(session.csrf, token if isinstance(token, str) else None):
        raise HTTPException(403, "CSRF token missing or invalid: reload the page and try again")
    return form


PortalForm = Annotated[FormData, Depends(checked_form)]


def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """A portal page from `templates/portal/`, with the link and its session's CSRF token."""
    return render(
        request, f"portal/{name}", status, link=getattr(request.state, "link", None), **context
    )


class PortalRoute(PageRoute):
    """A portal page: refusals answer as the portal's error page; every answer carries the
    portal's framing policy (not the UI's), no Referer and no caching (a link's URL opens a
    session)."""

    error_page = "portal/error.html"

    def finish(self, request: Request, response: Response) -> Response:
        """Add the portal's headers to an answer: its own framing policy, with no
        `X-Frame-Options` (which cannot name the sites allowed to embed it)."""
        response.headers["Content-Security-Policy"] = f"frame-ancestors {framing(request)}"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response


def portal_router() -> APIRouter:
    """A router for portal pages."""
    return APIRouter(route_class=PortalRoute)
