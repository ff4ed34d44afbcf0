"""The capture inbox: a per-user URL that records any request, shown live with its signature
verdict (the browser counterpart of `hookhub receiver`)."""

from __future__ import annotations

import time

from fastapi import Request
from starlette.responses import PlainTextResponse, Response

from hookhub.services import inbox, users
from hookhub.ui.web import Form, User, optional, page_router, pretty, redirect, render, store_of

router = page_router()
# Anyone may send to an inbox's URL: its unguessable key is the only credential.
capture_router = page_router(read=None)

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


async def _body(request: Request) -> tuple[bytes, bool]:
    kept = bytearray()
    truncated = False
    async for chunk in request.stream():
        room = inbox.CAPTURE_LIMIT - len(kept)
        kept += chunk[:room]
        truncated = truncated or len(chunk) > room
    return bytes(kept), truncated


@capture_router.api_route("/capture/{key}", methods=METHODS)
@capture_router.api_route("/capture/{key}/{rest:path}", methods=METHODS)
async def capture(request: Request, key: str) -> Response:
    """Record the request in the inbox of `key` and answer 200."""
    store, now = store_of(request), time.time()
    owner = await inbox.owner(store, key)
    if owner is None:
        return PlainTextResponse("no such capture inbox\n", status_code=404)
    if not inbox.allowed(key, now):
        return PlainTextResponse("too many requests to this inbox\n", status_code=429)
    body, truncated = await _body(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    received = inbox.Received(
        request.method, request.url.path, request.url.query, headers, body, truncated
    )
    await inbox.capture(store, owner, received, now)
    return PlainTextResponse("ok\n")


async def _captures(request: Request, user: dict[str, object]) -> list[dict[str, object]]:
    rows = await inbox.captured(store_of(request), str(user["inbox_key"]))
    return [{**row, "text": pretty(row["body"].decode("utf-8", errors="replace"))} for row in rows]


@router.get("/inbox")
async def inbox_page(request: Request, user: User) -> Response:
    base = request.app.state.settings.public_url or str(request.base_url).rstrip("/")
    return render(
        request,
        "inbox/page.html",
        url=f"{base}/capture/{user['inbox_key']}",
        captures=await _captures(request, user),
    )


@router.get("/inbox/captures")
async def inbox_captures(request: Request, user: User) -> Response:
    """The list alone, fetched every few seconds by the page to show new captures live."""
    return render(request, "inbox/captures.html", captures=await _captures(request, user))


@router.post("/inbox/secret")
async def set_secret(request: Request, user: User, form: Form) -> Response:
    await users.set_inbox_secret(store_of(request), user["id"], optional(form, "secret"))
    return redirect("/inbox", "Secret saved: new captures are checked with it.")
