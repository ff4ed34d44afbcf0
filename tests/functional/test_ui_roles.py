"""UI roles, enforced by the server: a viewer's POST to every form is refused even when crafted
by hand with a valid CSRF token, an editor's to the admin-only ones; pages hide what a role
may not use."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi.routing import iter_route_contexts

from hookhub.app import create_app
from hookhub.db.store import Store
from hookhub.services import audit
from hookhub.services.common import Context
from hookhub.services.users import create_user, user_named
from hookhub.settings import Settings
from hookhub.ui.web import PageRoute
from tests.conftest import Hookhub

PASSWORD = "correct horse battery"
# A session's own, and a capture inbox's URL (its key is the credential): no form.
OPEN_TO_ALL = {"/login", "/logout", "/capture/nope", "/capture/nope/nope"}
ADMIN_ONLY = ("/tokens", "/users", "/audit")


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def _ui_posts(settings: Settings) -> list[str]:
    """Every POST route of the UI, its path parameters filled in with made-up ids."""
    routes = create_app(settings, workers=False).router.routes
    found = [context.original_route for context in iter_route_contexts(routes)]
    paths = [r.path for r in found if isinstance(r, PageRoute) and "POST" in r.methods]
    # The consumer portal's forms belong to a portal link, not to a user: test_portal.py.
    paths = [path for path in paths if not path.startswith("/portal")]
    return sorted(re.sub(r"\{[^}]+\}", "nope", path) for path in paths)


@asynccontextmanager
async def _logged_in(url: str, store: Store, role: str) -> AsyncIterator[httpx.AsyncClient]:
    await create_user(store, role, PASSWORD, role)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        page = await client.get("/login")
        answer = await client.post(
            "/login",
            data={"csrf": _csrf(page.text), "username": role, "password": PASSWORD},
        )
        assert answer.status_code == 303
        yield client


async def _refused(client: httpx.AsyncClient, paths: list[str], which: Callable[[str], bool]):
    """POST each path with this session's CSRF token; the paths answered 403."""
    csrf = _csrf((await client.get("/")).text)
    refused = []
    for path in paths:
        answer = await client.post(path, data={"csrf": csrf, "name": "x", "confirm": "yes"})
        if answer.status_code == 403:
            assert "role" in answer.text, (path, answer.text)
            refused.append(path)
        assert which(path) == (answer.status_code == 403), (path, answer.status_code)
    return refused


async def test_a_viewer_may_post_no_form(hookhub: Hookhub, store: Store, settings: Settings):
    posts = [p for p in _ui_posts(settings) if p not in OPEN_TO_ALL]
    assert len(posts) > 20 and "/webhooks/new" in posts and "/tokens" in posts
    async with _logged_in(hookhub.url, store, "viewer") as viewer:
        assert await _refused(viewer, posts, lambda path: True) == posts
        # Reading stays open, minus the admins' pages; nothing to press is shown.
        page = await viewer.get("/webhooks")
        assert page.status_code == 200 and "New webhook" not in page.text
        assert 'href="/tokens"' not in page.text
        assert (await viewer.get("/tokens")).status_code == 403
        # Logging out is the viewer's own.
        logout = await viewer.post("/logout", data={"csrf": _csrf(page.text)})
        assert logout.status_code == 303


async def test_an_editor_may_post_all_but_the_admins_forms(
    hookhub: Hookhub, store: Store, settings: Settings
) -> None:
    posts = [p for p in _ui_posts(settings) if p not in OPEN_TO_ALL]
    async with _logged_in(hookhub.url, store, "editor") as editor:
        refused = await _refused(editor, posts, lambda path: path.startswith(ADMIN_ONLY))
        assert "/tokens" in refused
        page = await editor.get("/webhooks")
        assert "New webhook" in page.text and 'href="/tokens"' not in page.text
        assert (await editor.get("/tokens")).status_code == 403
    async with _logged_in(hookhub.url, store, "admin") as admin:
        assert await _refused(admin, posts, lambda path: False) == []
        assert 'href="/tokens"' in (await admin.get("/webhooks")).text
        # The admins' users page changes a role.
        page = await admin.get("/users")
        assert page.status_code == 200 and "viewer" in page.text
        editor_row = await user_named(store, "editor")
        assert editor_row is not None
        answer = await admin.post(
            f"/users/{editor_row['id']}/role", data={"csrf": _csrf(page.text), "role": "viewer"}
        )
        assert answer.status_code == 303
        assert (await user_named(store, "editor") or {})["role"] == "viewer"
        [entry], _ = await audit.page(Context(store, settings), None, 10)
        assert (entry["action"], entry["actor_name"], entry["object_name"]) == (
            "user.updated",
            "admin",
            "editor",
        )
        assert entry["changes"] == {"role": {"from": "editor", "to": "viewer"}}
        bad = await admin.post(
            f"/users/{editor_row['id']}/role", data={"csrf": _csrf(page.text), "role": "root"}
        )
        assert bad.status_code == 422 and "must be one of" in bad.text
