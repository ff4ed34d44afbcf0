"""The web UI over real HTTP: login, CSRF refusal, redirects, and the forms' messages."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from hookhub.db.store import Store
from hookhub.db.tables import sources, webhooks
from hookhub.services.users import create_user
from tests.conftest import Hookhub
from tests.support import WAIT
from tests.support.receiver import Receiver, Reply

PASSWORD = "correct horse battery"


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def _webhook_form(client: httpx.AsyncClient, **fields: str) -> dict[str, str]:
    """The new-webhook form as a browser would submit it, with `fields` filled in."""
    page = await client.get("/webhooks/new")
    return {
        "csrf": _csrf(page.text),
        "method": "POST",
        "content_type": "application/json",
        "timeout": "5",
        "max_attempts": "4",
        "strategy": "exponential",
        "enabled": "on",
        **fields,
    }


@pytest.fixture
async def browser(hookhub: Hookhub, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """A client logged in to the UI as a fresh user, cookies kept like a browser's."""
    await create_user(store, "ada", PASSWORD)
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as client:
        page = await client.get("/login")
        answer = await client.post(
            "/login",
            data={"csrf": _csrf(page.text), "username": "ada", "password": PASSWORD, "next": "/"},
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        yield client


async def test_pages_redirect_to_login_when_logged_out(hookhub: Hookhub) -> None:
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as client:
        answer = await client.get("/webhooks?x=1")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/webhooks%3Fx%3D1"
        login = await client.get("/login")
        assert login.status_code == 200 and "Log in" in login.text
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
        # Mounted at / without shadowing the API, health or OpenAPI routes.
        assert (await client.get("/healthz")).status_code == 200
        schema = (await client.get("/openapi.json")).json()
        assert "/login" not in schema["paths"] and "/api/v1/webhooks" in schema["paths"]
        assert (await client.get("/api/v1/webhooks")).status_code == 401
        assert (await client.get("/static/style.css")).status_code == 200


async def test_ui_pages_may_be_framed_by_the_ui_only(
    browser: httpx.AsyncClient, hookhub: Hookhub
) -> None:
    # Clickjacking: another site must not show a UI page (a form, a button) in a frame.
    html = {"Accept": "text/html"}
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as anyone:
        login = await anyone.get("/login")
    pages = [
        login,
        await browser.get("/webhooks"),
        await browser.get("/webhooks/wh_missing"),  # a refusal's error page
        await browser.get("/no-such-page", headers=html),  # the "not found" page
    ]
    for answer in pages:
        assert answer.headers["content-security-policy"] == "frame-ancestors 'self'", answer.url
        assert answer.headers["x-frame-options"] == "SAMEORIGIN", answer.url
    assert [answer.status_code for answer in pages] == [200, 200, 404, 404]
    # The API answers machines, not browsers' frames: no framing headers there.
    api = await hookhub.admin.get("/webhooks")
    assert api.status_code == 200
    assert "content-security-policy" not in api.headers and "x-frame-options" not in api.headers


async def test_wrong_password_is_refused(hookhub: Hookhub, store: Store) -> None:
    await create_user(store, "bob", PASSWORD)
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as client:
        page = await client.get("/login")
        answer = await client.post(
            "/login", data={"csrf": _csrf(page.text), "username": "bob", "password": "nope"}
        )
        assert answer.status_code == 401
        assert "Unknown username or wrong password." in answer.text
        assert (await client.get("/")).status_code == 303


async def test_login_without_csrf_token_is_forbidden(hookhub: Hookhub, store: Store) -> None:
    await create_user(store, "eve", PASSWORD)
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as client:
        await client.get("/login")
        answer = await client.post("/login", data={"username": "eve", "password": PASSWORD})
        assert answer.status_code == 403


async def test_a_form_without_the_csrf_token_is_forbidden(
    browser: httpx.AsyncClient, hookhub: Hookhub
) -> None:
    form = {"name": "w", "url": "http://127.0.0.1:1/", "method": "POST", "timeout": "5"}
    refused = await browser.post("/webhooks/new", data=form)
    assert refused.status_code == 403 and "CSRF token missing or invalid" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    forged = await browser.post("/webhooks/new", data={**form, "csrf": "guessed"})
    assert forged.status_code == 403
    listed = (await hookhub.admin.get("/webhooks")).json()["items"]
    assert listed == []


async def test_webhook_form_shows_template_errors_inline(browser: httpx.AsyncClient) -> None:
    form = await _webhook_form(
        browser, name="broken", url="http://127.0.0.1:9/", body_template="{{ data.name "
    )
    answer = await browser.post("/webhooks/new", data=form)
    assert answer.status_code == 422
    # The message sits beside the field, which keeps what the user typed.
    assert re.search(
        r'name="body_template"[^>]*>\{\{ data.name </textarea>'
        r'<span class="field-error" role="alert">template syntax error',
        answer.text,
    )
    slow = await browser.post("/webhooks/new", data={**form, "body_template": "", "timeout": "0"})
    assert slow.status_code == 422 and "must be from 0.5 to 120 seconds, got 0" in slow.text
    # The form's text reaches the same model: "nan" or "inf" is no number of seconds.
    odd = await browser.post("/webhooks/new", data={**form, "body_template": "", "timeout": "nan"})
    assert odd.status_code == 422 and "must be from 0.5 to 120 seconds, got nan" in odd.text


async def test_create_preview_and_send_test(
    browser: httpx.AsyncClient, receiver: Receiver, hookhub: Hookhub
) -> None:
    form = await _webhook_form(
        browser, name="orders", url=receiver.url + "/in", secret="s3cret-value"
    )
    created = await browser.post("/webhooks/new", data=form)
    assert created.status_code == 303
    edit = await browser.get(created.headers["location"])
    assert "s3cret-value" not in edit.text and "********" in edit.text
    url = created.headers["location"].split("?")[0] + "/try"
    sample = '{"object_type": "shop.order", "event": "created", "data": {"id": 7}}'
    preview = await browser.post(url, data={"csrf": _csrf(edit.text), "sample": sample})
    assert preview.status_code == 200 and "x-hook-signature" in preview.text.lower()
    assert receiver.requests == []
    sent = await browser.post(
        url, data={"csrf": _csrf(edit.text), "sample": sample, "action": "test"}
    )
    assert sent.status_code == 200 and "sent: 200" in sent.text
    assert len(receiver.requests) == 1
    bad = await browser.post(url, data={"csrf": _csrf(edit.text), "sample": "{nope"})
    assert bad.status_code == 422 and "not valid JSON" in bad.text


async def test_rule_conditions_are_validated(browser: httpx.AsyncClient, hookhub: Hookhub) -> None:
    hook = (await hookhub.admin.post("/webhooks", json={"name": "h", "url": "http://x/"})).json()
    page = await browser.get("/rules/new")
    form = {
        "csrf": _csrf(page.text),
        "name": "active devices",
        "webhook_id": hook["id"],
        "object_types": "dcim.device",
        "conditions": '{"attr": "status.value", "value": "active", "op": "nope"}',
        "enabled": "on",
    }
    answer = await browser.post("/rules/new", data=form)
    assert answer.status_code == 422
    assert 'role="alert">conditions.op: unknown operator &#39;nope&#39;' in answer.text
    broken = await browser.post("/rules/new", data={**form, "conditions": "{"})
    assert broken.status_code == 422 and "not valid JSON" in broken.text
    good = await browser.post(
        "/rules/new", data={**form, "conditions": '{"attr": "status.value", "value": "active"}'}
    )
    assert good.status_code == 303
    rules = (await hookhub.admin.get("/rules")).json()["items"]
    assert rules[0]["object_types"] == ["dcim.device"]


async def test_workflow_document_errors_and_token_shown_once(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/workflows/new")
    csrf = _csrf(page.text)
    bad = await browser.post(
        "/workflows/new",
        data={
            "csrf": csrf,
            "document": "name: x\nstart: nowhere\nnodes: [{id: a, type: response}]",
        },
    )
    assert bad.status_code == 422
    # Each message names the line it is about, and the editor marks it.
    assert "<strong>line 2</strong>: start: no node with id &#39;nowhere&#39;" in bad.text
    assert 'data-error-line="2"' in bad.text
    unparsable = await browser.post(
        "/workflows/new", data={"csrf": csrf, "document": "x: 1\na: b: c\nd: 1"}
    )
    assert unparsable.status_code == 422 and "not valid YAML or JSON" in unparsable.text
    assert 'data-error-line="2"' in unparsable.text
    created = await browser.post("/tokens", data={"csrf": csrf, "name": "ci", "scope": "read"})
    token = re.search(r'id="new-token">([^<]+)<', created.text)
    assert token
    assert token.group(1) not in (await browser.get("/tokens")).text


async def test_capture_inbox_records_requests(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/inbox")
    url = re.search(r'id="inbox-url">([^<]+)<', page.text)
    assert url
    async with httpx.AsyncClient(timeout=10) as anyone:
        answer = await anyone.put(url.group(1) + "/a/b?x=1", content=b'{"hello": "inbox"}')
        assert answer.status_code == 200
        assert (await anyone.post(url.group(1) + "x-unknown")).status_code == 404
    shown = await browser.get("/inbox/captures")
    assert "PUT" in shown.text and "&#34;hello&#34;: &#34;inbox&#34;" in shown.text
    assert "Signature: not checked" in shown.text


async def test_operator_actions(
    browser: httpx.AsyncClient, receiver: Receiver, hookhub: Hookhub
) -> None:
    receiver.reply = lambda _: Reply(status=500)
    form = await _webhook_form(
        browser, name="ops", url=receiver.url, secret="keep-me", max_attempts="1"
    )
    hook_id = (await browser.post("/webhooks/new", data=form)).headers["location"]
    hook_id = hook_id.split("?")[0].rsplit("/", 1)[1]
    rule = {"name": "all", "webhook_id": hook_id}
    assert (await hookhub.admin.post("/rules", json=rule)).status_code == 201
    await hookhub.admin.post("/events", json={"object_type": "a.b", "event": "created"})
    await receiver.wait_for(1)
    csrf = _csrf((await browser.get(f"/webhooks/{hook_id}")).text)

    # Saving the form as shown (secret masked) keeps the stored secret.
    shown = {**form, "csrf": csrf, "secret": "********", "timeout": "7"}
    assert (await browser.post(f"/webhooks/{hook_id}", data=shown)).status_code == 303
    receiver.reply = lambda _: Reply(status=200)
    sent = await browser.post(f"/webhooks/{hook_id}/try", data={"csrf": csrf, "action": "test"})
    assert "sent: 200" in sent.text
    assert "x-hook-signature" in {k.lower() for k in receiver.requests[-1].headers}

    async with asyncio.timeout(WAIT):
        while (
            'class="badge failed">failed<'
            not in (await browser.get(f"/deliveries?webhook_id={hook_id}")).text
        ):
            await asyncio.sleep(0.05)
    # Asked first, with the count; nothing is re-sent until confirmed.
    asked = await browser.post(f"/webhooks/{hook_id}/retry-failed", data={"csrf": csrf})
    assert asked.status_code == 200 and "re-send <strong>1</strong> failed delivery" in asked.text
    confirm = {"csrf": csrf, "confirm": "yes"}
    retried = await browser.post(f"/webhooks/{hook_id}/retry-failed", data=confirm)
    assert retried.status_code == 303 and "Retrying+1+failed" in retried.headers["location"]
    await receiver.wait_for(3)

    bad_range = await browser.post(
        f"/webhooks/{hook_id}/replay", data={"csrf": csrf, "since": "yesterday"}
    )
    assert bad_range.status_code == 422 and "not a date and time" in bad_range.text
    replayed = await browser.post(
        f"/webhooks/{hook_id}/replay", data={"csrf": csrf, "since": "2000-01-01T00:00"}
    )
    assert "Replayed+1+events" in replayed.headers["location"]
    await receiver.wait_for(4)

    await browser.post(f"/webhooks/{hook_id}/toggle", data={"csrf": csrf})
    assert (await hookhub.admin.get(f"/webhooks/{hook_id}")).json()["enabled"] is False
    await browser.post(f"/webhooks/{hook_id}/delete", data={"csrf": csrf})
    assert (await hookhub.admin.get(f"/webhooks/{hook_id}")).status_code == 404
    gone = await browser.get(f"/webhooks/{hook_id}")
    assert gone.status_code == 404 and "no webhook with id" in gone.text

    made = await browser.post("/tokens", data={"csrf": csrf, "name": "tmp", "scope": "read"})
    found = re.search(r'id="new-token">([^<]+)<', made.text)
    assert found
    token_id = re.search(r'action="/tokens/([^/]+)/revoke"', made.text)
    assert token_id
    headers = {"Authorization": f"Bearer {found.group(1)}"}
    api = f"{hookhub.url}/api/v1/webhooks"
    assert (await browser.get(api, headers=headers)).status_code == 200
    await browser.post(f"/tokens/{token_id.group(1)}/revoke", data={"csrf": csrf})
    assert (await browser.get(api, headers=headers)).status_code == 401

    await browser.post("/logout", data={"csrf": csrf})
    assert (await browser.get("/")).status_code == 303


async def test_saving_keeps_fields_the_form_does_not_edit(
    browser: httpx.AsyncClient, hookhub: Hookhub, store: Store
) -> None:
    oauth = {
        "type": "oauth2",
        "token_url": "http://127.0.0.1:9/token",
        "client_id": "me",
        "client_secret": "very-secret",
    }
    made = await hookhub.admin.post(
        "/webhooks",
        json={"name": "o", "url": "http://127.0.0.1:9/", "auth": oauth, "cookies": {"s": "1"}},
    )
    hook_id = made.json()["id"]
    page = await browser.get(f"/webhooks/{hook_id}")
    assert '<option value="keep" selected>oauth2' in page.text
    form = await _webhook_form(
        browser, name="o", url="http://127.0.0.1:9/", auth_type="keep", timeout="9"
    )
    assert (await browser.post(f"/webhooks/{hook_id}", data=form)).status_code == 303
    row = await store.get(webhooks, hook_id)
    assert row["auth"]["client_secret"] == "very-secret" and row["cookies"] == {"s": "1"}
    assert row["timeout"] == 9


async def test_url_credentials_are_masked_on_pages_and_kept_on_save(
    browser: httpx.AsyncClient, hookhub: Hookhub, store: Store, receiver: Receiver
) -> None:
    host = receiver.url.removeprefix("http://")
    url = f"http://ops:url-pa55word@{host}/in?token=url-t0ken&page=1"
    made = await hookhub.admin.post("/webhooks", json={"name": "creds", "url": url})
    hook_id = made.json()["id"]
    await hookhub.admin.post("/rules", json={"name": "all", "webhook_id": hook_id})
    await hookhub.admin.post("/events", json={"object_type": "x", "event": "created"})
    await receiver.wait_for(1)
    page = await browser.get(f"/webhooks/{hook_id}")
    sample = '{"object_type": "x", "event": "created"}'
    tried = await browser.post(
        f"/webhooks/{hook_id}/try", data={"csrf": _csrf(page.text), "sample": sample}
    )
    for _ in range(100):
        found = (await hookhub.reader.get("/deliveries")).json()["items"]
        if found and found[0]["status"] == "succeeded":
            break
        await asyncio.sleep(0.05)
    shown = [page.text, tried.text, (await browser.get("/webhooks")).text]
    shown.append((await browser.get(f"/deliveries/{found[0]['id']}")).text)
    for text in shown:
        assert "url-pa55word" not in text and "url-t0ken" not in text
    assert f"http://ops:********@{host}/in?token=********&amp;page=1" in page.text
    assert f"http://ops:********@{host}/in?token=********&amp;page=1" in shown[-1]

    # Saving the form as shown (the URL masked) keeps the stored credentials.
    masked = f"http://ops:********@{host}/in?token=********&page=1"
    form = await _webhook_form(browser, name="creds", url=masked, timeout="9")
    assert (await browser.post(f"/webhooks/{hook_id}", data=form)).status_code == 303
    row = await store.get(webhooks, hook_id)
    assert row["url"] == url and row["timeout"] == 9


async def test_the_graph_draws_loops_and_error_branches_apart(
    browser: httpx.AsyncClient, hookhub: Hookhub
) -> None:
    nodes = [
        {"id": "each", "type": "foreach", "items": "[1, 2]", "do": "call", "next": "wait"},
        {"id": "call", "type": "request", "url": "http://127.0.0.1:9/", "on_error": "note"},
        {"id": "note", "type": "set", "values": {"failed": "{{ error.message }}"}},
        {"id": "wait", "type": "delay", "seconds": "5"},
    ]
    doc = {"name": "drawn", "start": "each", "nodes": nodes}
    created = (await hookhub.admin.post("/workflows", json=doc)).json()
    svg = (await browser.get(f"/workflows/{created['id']}")).text
    svg = svg[svg.index("<svg") : svg.index("</svg>")]
    assert svg.count('class="edge loop" stroke-dasharray="7 4" marker-end="url(#arrow-loop)"') == 1
    assert (
        svg.count('class="edge error" stroke-dasharray="2 3" marker-end="url(#arrow-error)"') == 1
    )
    assert svg.count('class="edge" marker-end="url(#arrow)"') == 1  # each → wait
    assert 'class="edge-label do" text-anchor="middle">each</text>' in svg
    assert 'class="edge-label on_error" text-anchor="middle">on error</text>' in svg
    for kind in ("foreach", "request", "set", "delay"):
        assert f'<g class="node {kind}">' in svg or f'<g class="node start {kind}">' in svg


async def test_source_forms_create_edit_and_delete(
    browser: httpx.AsyncClient, hookhub: Hookhub, store: Store
) -> None:
    page = await browser.get("/sources/new")
    assert page.status_code == 200 and 'name="address"' in page.text
    form = {"csrf": _csrf(page.text), "name": "jobs", "group": "hookhub"}

    # Every problem is shown beside its input, with what was typed kept.
    refused = await browser.post(
        "/sources/new", data={**form, "url": "ftp://x", "address": "q", "mapping": "{nope"}
    )
    assert refused.status_code == 422 and "not valid JSON" in refused.text
    refused = await browser.post("/sources/new", data={**form, "url": "ftp://x", "address": "q"})
    assert refused.status_code == 422 and "no source broker for URL scheme" in refused.text
    assert 'value="ftp://x"' in refused.text
    url = "redis://:s3cret-pass@127.0.0.1:6379/0"
    no_event = '{"object_type": "netpulse.job"}'
    refused = await browser.post(
        "/sources/new", data={**form, "url": url, "address": "", "mapping": no_event}
    )
    assert refused.status_code == 422 and "consumes a stream" in refused.text
    refused = await browser.post(
        "/sources/new", data={**form, "url": url, "address": "jobs", "mapping": no_event}
    )
    assert refused.status_code == 422 and "event: required when a mapping is given" in refused.text
    assert "s3cret-pass" in refused.text  # what the user typed, shown back to them only

    # Created disabled (no consumer starts): as the API would have stored it.
    mapping = '{"object_type": "netpulse.job", "event": "{{ body.status }}"}'
    created = await browser.post(
        "/sources/new", data={**form, "url": url, "address": "jobs", "mapping": mapping}
    )
    assert created.status_code == 303
    source_id = created.headers["location"].split("?")[0].rsplit("/", 1)[1]
    stored = (await hookhub.admin.get(f"/sources/{source_id}")).json()
    assert stored["stream"] == "jobs" and stored["enabled"] is False
    assert stored["mapping"] == {"object_type": "netpulse.job", "event": "{{ body.status }}"}

    # The edit form shows the URL masked; saving it so keeps the stored password.
    edit = await browser.get(f"/sources/{source_id}/edit")
    assert "s3cret-pass" not in edit.text and "redis://:********@127.0.0.1:6379/0" in edit.text
    for shown in (await browser.get("/sources"), await browser.get(f"/sources/{source_id}")):
        assert "s3cret-pass" not in shown.text and "jobs" in shown.text
    masked = {**form, "csrf": _csrf(edit.text), "url": "redis://:********@127.0.0.1:6379/0"}
    saved = await browser.post(
        f"/sources/{source_id}/edit", data={**masked, "address": "jobs2", "group": "g2"}
    )
    assert saved.status_code == 303
    row = await hookhub.admin.get(f"/sources/{source_id}")
    assert row.json()["stream"] == "jobs2" and row.json()["group"] == "g2"
    assert row.json()["mapping"] is None  # the form's mapping was emptied
    assert (await store.get(sources, source_id))["url"] == url

    forged = await browser.post(f"/sources/{source_id}/delete", data={"csrf": "guessed"})
    assert forged.status_code == 403
    deleted = await browser.post(f"/sources/{source_id}/delete", data={"csrf": _csrf(edit.text)})
    assert deleted.status_code == 303 and deleted.headers["location"].startswith("/sources")
    assert (await hookhub.admin.get(f"/sources/{source_id}")).status_code == 404
