"""Opening a portal link: `/portal/<opaque>` starts a portal session and goes to the portal's
home; an unknown link is refused with 404, an expired one with 410."""

from __future__ import annotations

import time

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from hookhub.db.portal_links import LINK_PREFIX
from hookhub.services import portal_links
from hookhub.ui.portal.session import portal_router, start, system
from hookhub.ui.web import redirect

router = portal_router()


@router.get("/portal/{opaque}")
async def open_link(request: Request, opaque: str) -> Response:
    """Start a session for the link (replacing any other) and show the tenant's endpoints."""
    if not opaque.startswith(LINK_PREFIX):
        raise HTTPException(404, f"There is no portal page at {request.url.path}.")
    link = await portal_links.opened(system(request), opaque, time.time())
    response = redirect("/portal/endpoints")
    await start(request, response, link)
    return response
