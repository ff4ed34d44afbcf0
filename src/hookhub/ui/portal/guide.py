"""The portal's reference pages: the event-type catalog (with "send example") and how to
verify a request's signature in Python, Node or Go."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from hookhub.services import portal
from hookhub.ui.portal.session import Portal, context_of, page, portal_router

router = portal_router()

LANGUAGES = {"python": "Python", "node": "Node.js", "go": "Go"}


@router.get("/portal/event-types")
async def event_types(request: Request, _: Portal) -> Response:
    return page(request, "event_types.html", catalog=await portal.catalog(context_of(request)))


@router.get("/portal/verify")
async def verify(request: Request, _: Portal, lang: str = "python") -> Response:
    shown = lang if lang in LANGUAGES else "python"
    return page(request, "verify.html", languages=LANGUAGES, lang=shown)
