"""The consumer portal over real HTTP: portal links (API, expiry, only a hash stored), the
portal's own session cookie, read-only links, CSRF, framing, and one tenant never reaching
another's objects (docs/portal.md)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from hookhub.db.portal_links import link_hash
from hookhub.db.store import Store
from hookhub.errors import ValidationError
from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.functional.test_cli_objects import run, through
from tests.support import WAIT
from tests.support.receiver import Receiver, Reply
from tests.support.server import running_server


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


@dataclass
class Tenant:
    id: str
    writer: httpx.AsyncClient  # an API client with a write token of this tenant


@pytest.fixture
async def tenants(hookhub: Hookhub) -> AsyncIterator[tuple[Tenant, Tenant]]:
    """Two tenants, each with a tenant-scoped write token."""
    made = []
    for tenant_id in ("acme", "globex"):
        created = await hookhub.admin.post("/tenants", json={"id": tenant_id, "name": tenant_id})
        assert created.status_code == 201, created.text
        token = await hookhub.admin.post(
            "/tokens", json={"name": tenant_id, "scope": "write", "tenant_id": tenant_id}
        )
        assert token.status_code == 201, token.text
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        made.append(
            Tenant(
                tenant_id,
                httpx.AsyncClient(base_url=f"{hookhub.url}/api/v1", headers=headers, timeout=10),
            )
        )
    yield made[0], made[1]
    for tenant in made:
        await tenant.writer.aclose()


async def _link(hookhub: Hookhub, tenant: str, **fields: object) -> str:
    answer = await hookhub.admin.post(f"/tenants/{tenant}/portal-links", json=fields)
    assert answer.status_code == 201, answer.text
    url: str = answer.json()["url"]
    return url


@asynccontextmanager
async def _portal(hookhub: Hookhub, url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client whose portal session was started by opening `url`."""
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as client:
        opened = await client.get(url)
        assert opened.status_code == 303, opened.text
        assert opened.headers["location"] == "/portal/endpoints"
        yield client


async def test_a_link_is_made_for_a_tenant_and_only_its_hash_is_kept(
    hookhub: Hookhub, store: Store, tenants: tuple[Tenant, Tenant]
) -> None:
    before = time.time()
    answer = await hookhub.admin.post(
        "/tenants/acme/portal-links", json={"expires_in": 600, "read_only": True}
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["url"].startswith(f"{hookhub.url}/portal/hhp_")
    assert body["read_only"] is True and body["tenant_id"] == "acme"
    expires = time.mktime(time.strptime(body["expires_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    expires -= time.timezone
    assert before + 590 < expires < time.time() + 610
    opaque = body["url"].rsplit("/", 1)[1]
    row = await store.portal_links.get(body["id"])
    assert row["token_hash"] == link_hash(opaque) and opaque not in str(row)

    # Defaults: an hour, read-write; no body at all is fine too.
    default = await hookhub.admin.post("/tenants/acme/portal-links")
    assert default.status_code == 201 and default.json()["read_only"] is False

    # Unknown tenant, bad input, a reader's token, no token.
    assert (await hookhub.admin.post("/tenants/nope/portal-links", json={})).status_code == 404
    bad = await hookhub.admin.post("/tenants/acme/portal-links", json={"expires_in": 0})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "expires_in"
    bad = await hookhub.admin.post("/tenants/acme/portal-links", json={"expires_in": "1"})
    assert bad.status_code == 422
    assert (await hookhub.reader.post("/tenants/acme/portal-links", json={})).status_code == 403
    assert (await hookhub.anonymous.post("/tenants/acme/portal-links")).status_code == 401


async def test_a_tenant_token_makes_links_for_its_own_tenant_only(
    tenants: tuple[Tenant, Tenant],
) -> None:
    acme, globex = tenants
    assert (await acme.writer.post("/tenants/acme/portal-links", json={})).status_code == 201
    assert (await acme.writer.post("/tenants/globex/portal-links", json={})).status_code == 404
    assert (await globex.writer.post("/tenants/acme/portal-links", json={})).status_code == 404


async def test_public_url_is_the_links_base(settings: Settings, store: Store) -> None:
    public = dataclasses.replace(settings, public_url="https://hooks.example.com")
    _, admin_token = await store.create_token("admin", "admin")
    async with running_server(public, workers=False) as url:
        headers = {"Authorization": f"Bearer {admin_token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
            await client.post("/api/v1/tenants", json={"id": "acme", "name": "Acme"})
            answer = await client.post("/api/v1/tenants/acme/portal-links", json={})
    assert answer.json()["url"].startswith("https://hooks.example.com/portal/hhp_")


async def test_opening_a_link_starts_a_portal_session_of_its_own(
    hookhub: Hookhub, tenants: tuple[Tenant, Tenant]
) -> None:
    url = await _link(hookhub, "acme")
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as client:
        # Without a session the portal's pages refuse, and the UI's pages still want a login.
        refused = await client.get("/portal/endpoints")
        assert refused.status_code == 403 and "link you were given" in refused.text
        opened = await client.get(url)
        assert opened.status_code == 303
        cookie = opened.headers["set-cookie"].lower()
        assert cookie.startswith("hookhub_portal=")
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/portal" in cookie
        assert "secure" not in cookie  # http here; https sites get Secure
        assert opened.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert opened.headers["referrer-policy"] == "no-referrer"
        home = await client.get("/portal/endpoints")
        assert home.status_code == 200 and "Endpoints" in home.text and "acme" in home.text
        assert home.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert "x-frame-options" not in home.headers  # the UI's SAMEORIGIN would block embedding
        ui = await client.get("/webhooks")
        assert ui.status_code == 303 and ui.headers["location"].startswith("/login")

        # A forged cookie is no session.
        client.cookies.set("hookhub_portal", "e30.0000", domain="127.0.0.1", path="/portal")
        assert (await client.get("/portal/endpoints")).status_code == 403


async def test_unknown_and_expired_links_are_refused(
    hookhub: Hookhub, store: Store, tenants: tuple[Tenant, Tenant]
) -> None:
    async with httpx.AsyncClient(base_url=hookhub.url, timeout=10) as client:
        unknown = await client.get("/portal/hhp_nothing-like-this")
        assert unknown.status_code == 404 and "not valid" in unknown.text
        assert "set-cookie" not in unknown.headers
        url = await _link(hookhub, "acme", expires_in=60)
        assert (await client.get(url)).status_code == 303
        assert (await client.get("/portal/endpoints")).status_code == 200
        # The link expires: opening it again is refused, and so is the session it started.
        link_id = (await store.portal_links.page(None, 1))[0][0]["id"]
        await store.portal_links.update(link_id, {"expires_at": time.time() - 1})
        gone = await client.get(url)
        assert gone.status_code == 410 and "expired" in gone.text
        assert (await client.get("/portal/endpoints")).status_code == 410
        # Deleting the tenant deletes its links: the session ends too.
        await hookhub.admin.delete("/tenants/acme")
        assert (await client.get(url)).status_code == 404


async def test_forms_need_the_sessions_csrf_token_and_a_writable_link(
    hookhub: Hookhub, tenants: tuple[Tenant, Tenant]
) -> None:
    async with _portal(hookhub, await _link(hookhub, "acme")) as client:
        page = await client.get("/portal/endpoints/new")
        form = {"url": "https://example.com/hook", "name": "prod"}
        refused = await client.post("/portal/endpoints/new", data=form)
        assert refused.status_code == 403 and "CSRF" in refused.text
        made = await client.post("/portal/endpoints/new", data={**form, "csrf": _csrf(page.text)})
        assert made.status_code == 303, made.text
    listed = (await tenants[0].writer.get("/webhooks")).json()["items"]
    assert [hook["name"] for hook in listed] == ["prod"]

    async with _portal(hookhub, await _link(hookhub, "acme", read_only=True)) as reader:
        page = await reader.get(f"/portal/endpoints/{listed[0]['id']}")
        assert page.status_code == 200 and "Rotate secret" not in page.text
        assert "Add endpoint" not in (await reader.get("/portal/endpoints")).text
        csrf = _csrf(page.text)
        for path in (
            "/portal/endpoints/new",
            f"/portal/endpoints/{listed[0]['id']}/delete",
            f"/portal/endpoints/{listed[0]['id']}/rotate-secret",
            "/portal/examples",
        ):
            answer = await reader.post(path, data={"csrf": csrf, **form})
            assert answer.status_code == 403, path
    assert len((await tenants[0].writer.get("/webhooks")).json()["items"]) == 1


async def test_an_endpoint_is_a_signed_webhook_with_rules_for_its_event_types(
    hookhub: Hookhub, tenants: tuple[Tenant, Tenant]
) -> None:
    acme, _ = tenants
    async with _portal(hookhub, await _link(hookhub, "acme")) as client:
        csrf = _csrf((await client.get("/portal/endpoints/new")).text)
        bad = await client.post(
            "/portal/endpoints/new",
            data={"csrf": csrf, "url": "https://{{ event }}.example.com"},
        )
        assert bad.status_code == 422 and "address" in bad.text
        bad = await client.post(
            "/portal/endpoints/new",
            data={"csrf": csrf, "url": "https://a.example.com", "event_types_text": "nodot"},
        )
        assert bad.status_code == 422 and "object_type.event" in bad.text
        made = await client.post(
            "/portal/endpoints/new",
            data={
                "csrf": csrf,
                "url": "https://a.example.com/hook",
                "event_types_text": "invoice.paid, invoice.voided, customer.created",
            },
        )
        assert made.status_code == 303
        hook_id = made.headers["location"].split("/")[-1].split("?")[0]
    hook = (await acme.writer.get(f"/webhooks/{hook_id}")).json()
    assert hook["name"] == "https://a.example.com/hook" and hook["preset"] == "standard"
    assert hook["secret"] == "********"
    # The audit log names the portal link as who made it.
    entries = (await hookhub.admin.get("/audit", params={"object_id": hook_id})).json()["items"]
    assert [(e["action"], e["actor_kind"], e["tenant_id"]) for e in entries] == [
        ("webhook.created", "portal", "acme")
    ]
    assert entries[0]["actor_id"].startswith("pl_")
    found = (await acme.writer.get("/rules", params={"webhook_id": hook_id})).json()["items"]
    assert sorted((r["object_types"], r["event_types"]) for r in found) == [
        (["customer"], ["created"]),
        (["invoice"], ["paid", "voided"]),
    ]


async def test_another_tenants_objects_answer_404(
    hookhub: Hookhub, tenants: tuple[Tenant, Tenant]
) -> None:
    _, globex = tenants
    theirs = await globex.writer.post(
        "/webhooks", json={"name": "theirs", "url": "https://globex.example.com"}
    )
    assert theirs.status_code == 201, theirs.text
    hook_id = theirs.json()["id"]
    async with _portal(hookhub, await _link(hookhub, "acme")) as client:
        csrf = _csrf((await client.get("/portal/endpoints/new")).text)
        for path in (
            f"/portal/endpoints/{hook_id}",
            f"/portal/endpoints/{hook_id}/secret",
            f"/portal/deliveries?endpoint={hook_id}",
        ):
            assert (await client.get(path)).status_code == 404, path
        for path in ("", "/toggle", "/delete", "/rotate-secret", "/retry-failed"):
            answer = await client.post(
                f"/portal/endpoints/{hook_id}{path}",
                data={"csrf": csrf, "url": "https://x.example.com"},
            )
            assert answer.status_code == 404, path
        listed = await client.get("/portal/endpoints")
        assert "theirs" not in listed.text
    assert (await globex.writer.get(f"/webhooks/{hook_id}")).json()["enabled"] is True


async def test_frame_ancestors_setting_lets_a_site_embed_the_portal(
    settings: Settings, store: Store
) -> None:
    framed = dataclasses.replace(settings, portal_frame_ancestors="https://app.example.com")
    _, admin_token = await store.create_token("admin", "admin")
    async with running_server(framed, workers=False) as url:
        headers = {"Authorization": f"Bearer {admin_token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
            await client.post("/api/v1/tenants", json={"id": "acme", "name": "Acme"})
            link = (await client.post("/api/v1/tenants/acme/portal-links", json={})).json()
            opened = await client.get(link["url"])
    assert opened.headers["content-security-policy"] == "frame-ancestors https://app.example.com"
    assert "x-frame-options" not in opened.headers
    cookie = opened.headers["set-cookie"].lower()
    assert "samesite=none" in cookie and "secure" in cookie and "partitioned" in cookie


async def test_catalog_types_are_offered_and_an_example_reaches_the_subscribed_endpoint(
    hookhub: Hookhub, tenants: tuple[Tenant, Tenant], receiver: Receiver
) -> None:
    example = {"invoice": "in_1042", "amount": 4200}
    for name in ("invoice.paid", "invoice.voided"):
        made = await hookhub.admin.post("/event-types", json={"name": name, "examples": [example]})
        assert made.status_code == 201, made.text
    # globex has an endpoint for the same type: acme's example must not reach it.
    await tenants[1].writer.post(
        "/webhooks", json={"name": "globex", "url": receiver.url + "/globex"}
    )
    async with _portal(hookhub, await _link(hookhub, "acme")) as client:
        page = await client.get("/portal/endpoints/new")
        assert 'value="invoice.voided"' in page.text and "comma-separated" not in page.text
        made = await client.post(
            "/portal/endpoints/new",
            data={
                "csrf": _csrf(page.text),
                "url": receiver.url + "/hook",
                "event_types": "invoice.paid",
            },
        )
        assert made.status_code == 303
        types = await client.get("/portal/event-types")
        assert "in_1042" in types.text and "Send example" in types.text
        for name in ("invoice.voided", "invoice.paid"):
            sent = await client.post(
                "/portal/examples", data={"csrf": _csrf(page.text), "event_type": name}
            )
            assert sent.status_code == 303
        assert "sent%3A+1+delivery" in sent.headers["location"]
    async with asyncio.timeout(WAIT):
        while not receiver.requests:
            await asyncio.sleep(0.05)
    # Deliveries are made at intake: globex's endpoint got none, the voided type none either.
    assert (await tenants[1].writer.get("/deliveries")).json()["items"] == []
    assert len((await tenants[0].writer.get("/deliveries")).json()["items"]) == 1
    assert [r.path for r in receiver.requests] == ["/hook"]
    body = json.loads(receiver.requests[0].body)
    assert body["type"] == "invoice.paid" and body["data"] == example


async def test_the_cli_makes_portal_links(
    hookhub: Hookhub, database_url: str, tenants: tuple[Tenant, Tenant]
) -> None:
    command = ("tenants", "portal-link", "acme", "--expires-in", "600", "--read-only")
    remote = await asyncio.to_thread(run, *command, env=through(hookhub))
    assert remote.exit_code == 0, remote.output
    made = json.loads(remote.stdout)
    assert made["url"].startswith(f"{hookhub.url}/portal/hhp_") and made["read_only"] is True
    async with _portal(hookhub, made["url"]) as client:
        assert (await client.get("/portal/endpoints")).status_code == 200
    # On the database there is no request to read the address from: it must be given.
    local = ("tenants", "portal-link", "globex", "--database", database_url)
    unknown = await asyncio.to_thread(run, *local)
    assert isinstance(unknown.exception, ValidationError), unknown.output
    assert "--base-url" in unknown.exception.message
    given = await asyncio.to_thread(run, *local, "--base-url", "https://hooks.example.com/")
    assert given.exit_code == 0, given.output
    assert json.loads(given.stdout)["url"].startswith("https://hooks.example.com/portal/hhp_")


async def test_deliveries_are_listed_retried_and_another_tenants_stay_out_of_reach(
    hookhub: Hookhub, tenants: tuple[Tenant, Tenant], receiver: Receiver
) -> None:
    acme, globex = tenants
    receiver.reply = lambda _: Reply(status=503, body="down")
    # globex: a webhook, a rule and an event, so it has a delivery of its own.
    theirs = (await globex.writer.post("/webhooks", json={"name": "g", "url": receiver.url})).json()
    await globex.writer.post("/rules", json={"name": "all", "webhook_id": theirs["id"]})
    await globex.writer.post("/events", json={"object_type": "invoice", "event": "paid"})
    async with asyncio.timeout(WAIT):
        while not (listed := (await globex.writer.get("/deliveries")).json()["items"]):
            await asyncio.sleep(0.05)
    their_delivery = listed[0]["id"]
    async with _portal(hookhub, await _link(hookhub, "acme")) as client:
        csrf = _csrf((await client.get("/portal/endpoints/new")).text)
        made = await client.post(
            "/portal/endpoints/new", data={"csrf": csrf, "url": receiver.url + "/acme"}
        )
        hook_id = made.headers["location"].split("/")[-1].split("?")[0]
        # One try, so the delivery fails at once (the portal keeps the default retries).
        once = await acme.writer.patch(f"/webhooks/{hook_id}", json={"retry": {"max_attempts": 1}})
        assert once.status_code == 200, once.text
        sent = await client.post("/portal/examples", data={"csrf": csrf, "event_type": "a.b"})
        assert sent.status_code == 303 and "1+delivery" in sent.headers["location"]
        async with asyncio.timeout(WAIT):
            while "failed" not in [
                d["status"] for d in (await acme.writer.get("/deliveries")).json()["items"]
            ]:
                await asyncio.sleep(0.05)
        page = await client.get("/portal/deliveries", params={"endpoint": hook_id})
        assert page.status_code == 200 and "Retry all failed" in page.text
        assert their_delivery not in (await client.get("/portal/deliveries")).text
        retried = await client.post(
            f"/portal/endpoints/{hook_id}/retry-failed", data={"csrf": csrf}
        )
        assert retried.status_code == 303 and "Retrying+1+failed" in retried.headers["location"]
        # globex's delivery, by its id: not found, to read or to retry.
        assert (await client.get(f"/portal/deliveries/{their_delivery}")).status_code == 404
        again = await client.post(f"/portal/deliveries/{their_delivery}/retry", data={"csrf": csrf})
        assert again.status_code == 404
        bad = await client.get("/portal/deliveries", params={"status": "nope"})
        assert bad.status_code == 422 and "unknown status" in bad.text


async def test_links_are_listed_without_urls_and_a_revoked_one_ends_its_sessions(
    hookhub: Hookhub, tenants: tuple[Tenant, Tenant]
) -> None:
    acme, globex = tenants
    kept = await _link(hookhub, "acme")
    made = await acme.writer.post("/tenants/acme/portal-links", json={"read_only": True})
    link = made.json()
    async with _portal(hookhub, link["url"]) as client:
        listed = (await acme.writer.get("/tenants/acme/portal-links")).json()
        assert listed["items"][0]["id"] == link["id"]
        assert len(listed["items"]) == 2 and listed["next"] is None
        assert all("url" not in item and "token_hash" not in item for item in listed["items"])
        assert (await globex.writer.get("/tenants/acme/portal-links")).status_code == 404
        path = f"/tenants/acme/portal-links/{link['id']}"
        assert (await globex.writer.delete(path)).status_code == 404
        wrong = f"/tenants/globex/portal-links/{link['id']}"
        assert (await hookhub.admin.delete(wrong)).status_code == 404
        assert (await acme.writer.delete(path)).status_code == 204
        assert (await client.get("/portal/endpoints")).status_code == 404
        assert (await client.get(link["url"])).status_code == 404
        assert (await acme.writer.delete(path)).status_code == 404
    async with _portal(hookhub, kept) as client:
        assert (await client.get("/portal/endpoints")).status_code == 200
    audit = (await hookhub.admin.get("/audit", params={"object_id": link["id"]})).json()
    assert [(e["action"], e["actor_kind"]) for e in audit["items"]] == [
        ("portal_link.revoked", "token"),
        ("portal_link.created", "token"),
    ]
