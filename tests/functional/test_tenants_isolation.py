"""Tenant isolation through the real API (issue 25): with a tenant's token, every endpoint
answers 404 for another tenant's ids and for objects of no tenant, and lists never show them;
and, over random tenants, webhooks, rules and events (hypothesis), events never cross tenants,
even when they share ids."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Hookhub
from tests.support.server import api_client

HOOK = {"url": "http://127.0.0.1:9/hook"}  # nothing listens: deliveries fail, and are kept


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.url, response.text)
    return response.json() if response.content else None


@dataclass
class Owned:
    """What one tenant (or no tenant: `tenant` None) owns, made through the API."""

    tenant: str | None
    webhook: dict[str, Any]
    rule: dict[str, Any]
    event: str
    delivery: str
    token: str | None = None
    client: httpx.AsyncClient | None = None
    tokens: list[str] = field(default_factory=list)


async def _owned(hookhub: Hookhub, tenant: str | None) -> Owned:
    admin = hookhub.admin
    if tenant is not None:
        await _ok(await admin.post("/tenants", json={"id": tenant, "name": tenant}), 201)
    body = {**HOOK, "name": "prod", "tenant_id": tenant}
    webhook = await _ok(await admin.post("/webhooks", json=body), 201)
    rule_body = {"name": "all", "webhook_id": webhook["id"]}
    rule = await _ok(await admin.post("/rules", json=rule_body), 201)
    event = {"object_type": "x", "event": "y", "tenant_id": tenant}
    sent = await _ok(await admin.post("/events", json=event), 202)
    assert sent["deliveries"] == 1
    found = await _ok(await admin.get("/deliveries", params={"event_id": sent["ids"][0]}))
    owned = Owned(tenant, webhook, rule, sent["ids"][0], found["items"][0]["id"])
    if tenant is not None:
        token_body = {"name": f"{tenant}-admin", "scope": "admin", "tenant_id": tenant}
        created = await _ok(await admin.post("/tokens", json=token_body), 201)
        owned.tokens.append(created["id"])
        owned.client = api_client(hookhub.url, created["token"])
    return owned


@pytest.fixture
async def world(hookhub: Hookhub) -> AsyncIterator[dict[str | None, Owned]]:
    """Tenants acme and globex, and no tenant, each with a webhook called "prod", a rule, an
    event and its delivery; each tenant with an admin token of its own."""
    found = {tenant: await _owned(hookhub, tenant) for tenant in ("acme", "globex", None)}
    yield found
    for owned in found.values():
        if owned.client is not None:
            await owned.client.aclose()


def _requests(other: Owned) -> list[tuple[str, str, Any]]:
    """Every request naming one of `other`'s objects by id."""
    hook, rule = other.webhook["id"], other.rule["id"]
    since = {"since": "2000-01-01T00:00:00Z"}
    found: list[tuple[str, str, Any]] = [
        ("GET", f"/webhooks/{hook}", None),
        ("PATCH", f"/webhooks/{hook}", {"timeout": 3}),
        ("POST", f"/webhooks/{hook}/rotate-secret", None),
        ("POST", f"/webhooks/{hook}/test", None),
        ("POST", f"/webhooks/{hook}/preview", None),
        ("POST", f"/webhooks/{hook}/retry-failed", None),
        ("POST", f"/webhooks/{hook}/replay", since),
        ("GET", f"/rules/{rule}", None),
        ("PATCH", f"/rules/{rule}", {"enabled": False}),
        ("GET", f"/events/{other.event}", None),
        ("GET", f"/deliveries/{other.delivery}", None),
        ("GET", f"/deliveries/{other.delivery}/attempts", None),
        ("POST", f"/deliveries/{other.delivery}/retry", None),
        ("DELETE", f"/rules/{rule}", None),
        ("DELETE", f"/webhooks/{hook}", None),
    ]
    for token_id in other.tokens:
        found += [("GET", f"/tokens/{token_id}", None), ("DELETE", f"/tokens/{token_id}", None)]
    if other.tenant is not None:
        found.append(("GET", f"/tenants/{other.tenant}", None))
    return found


async def test_a_tenant_token_reaches_nothing_of_others(
    hookhub: Hookhub, world: dict[str | None, Owned]
) -> None:
    acme = world["acme"]
    assert acme.client is not None
    for other in (world["globex"], world[None]):
        for method, path, body in _requests(other):
            answer = await acme.client.request(method, path, json=body)
            assert answer.status_code == 404, (method, path, answer.text)
            assert answer.json()["error"]["code"] == "not_found"
    # Lists show its own only, and asking for another tenant's finds nothing.
    own = {
        "/webhooks": {acme.webhook["id"]},
        "/rules": {acme.rule["id"]},
        "/events": {acme.event},
        "/deliveries": {acme.delivery},
        "/tokens": set(acme.tokens),
        "/tenants": {"acme"},
    }
    for path, ids in own.items():
        listed = await _ok(await acme.client.get(path))
        assert {item["id"] for item in listed["items"]} == ids, path
        if path != "/tenants":
            refused = await acme.client.get(path, params={"tenant_id": "globex"})
            assert refused.status_code == 404, path
    # What belongs to the whole installation is refused: a workflow or a source emits events
    # of no tenant; the event-type catalog is shared (read, not changed).
    for method, path, body in (
        ("GET", "/workflows", None),
        ("POST", "/workflows", {}),
        ("GET", "/runs", None),
        ("GET", "/sources", None),
        ("POST", "/sources", {}),
        ("POST", "/event-types", {"name": "acme.thing"}),
    ):
        answer = await acme.client.request(method, path, json=body)
        assert answer.status_code == 403, (method, path, answer.text)
    assert (await acme.client.get("/event-types")).status_code == 200
    # The others' objects are all still there, untouched.
    for other in (world["globex"], world[None]):
        webhook = await _ok(await hookhub.admin.get(f"/webhooks/{other.webhook['id']}"))
        assert webhook["timeout"] == 5
        rule = await _ok(await hookhub.admin.get(f"/rules/{other.rule['id']}"))
        assert rule["enabled"] is True
    # Its own objects answer as usual.
    hook = acme.webhook["id"]
    assert (await acme.client.get(f"/webhooks/{hook}")).status_code == 200
    assert (await acme.client.get(f"/deliveries/{acme.delivery}/attempts")).status_code == 200
    assert (await acme.client.post(f"/webhooks/{hook}/preview")).status_code == 200


# -- events never cross tenants ----------------------------------------------------------------

KINDS = ("a", "b")
NAMES = ("x", "y")
IDS = (None, "e1", "e2")  # None: hookhub picks one; tenants (and no tenant) may share the others

Rule = tuple[int, tuple[str, ...], tuple[str, ...]]  # (webhook index, object types, events)
# (tenant index, object type, event, by its token, id)
Event = tuple[int | None, str, str, bool, str | None]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[int, list[int | None], list[Rule], list[Event]]:
    """Tenants (how many), webhooks (each a tenant's index, or None: no tenant), rules on them
    and events (some with ids other events share)."""
    tenants = draw(st.integers(1, 3))
    owner = st.one_of(st.none(), st.integers(0, tenants - 1))
    webhooks = draw(st.lists(owner, min_size=1, max_size=5))
    subset = st.lists(st.sampled_from(KINDS), max_size=2, unique=True).map(tuple)
    events_of = st.lists(st.sampled_from(NAMES), max_size=2, unique=True).map(tuple)
    rules = draw(
        st.lists(st.tuples(st.integers(0, len(webhooks) - 1), subset, events_of), max_size=6)
    )
    events = draw(
        st.lists(
            st.tuples(
                owner,
                st.sampled_from(KINDS),
                st.sampled_from(NAMES),
                st.booleans(),
                st.sampled_from(IDS),
            ),
            min_size=1,
            max_size=6,
        )
    )
    return tenants, webhooks, rules, events


def _matches(rule: Rule, kind: str, name: str) -> bool:
    _, kinds, names = rule
    return (not kinds or kind in kinds) and (not names or name in names)


@pytest.mark.timeout(600)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
async def test_events_never_cross_tenants(
    hookhub: Hookhub, scenario: tuple[int, list[int | None], list[Rule], list[Event]]
) -> None:
    tenant_count, owners, rules, events = scenario
    admin = hookhub.admin
    run = uuid.uuid4().hex[:8]  # the server lives across examples: names of this one
    tenants = [f"t{run}-{i}" for i in range(tenant_count)]
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        for tenant in tenants:
            await _ok(await admin.post("/tenants", json={"id": tenant, "name": tenant}), 201)
            body = {"name": tenant, "scope": "write", "tenant_id": tenant}
            created = await _ok(await admin.post("/tokens", json=body), 201)
            clients[tenant] = api_client(hookhub.url, created["token"])
        hooks: list[str] = []
        tenant_of: dict[str, str | None] = {}
        for index, owner in enumerate(owners):
            tenant = None if owner is None else tenants[owner]
            body = {**HOOK, "name": f"w{run}-{index}", "tenant_id": tenant}
            made = await _ok(await admin.post("/webhooks", json=body), 201)
            hooks.append(made["id"])
            tenant_of[made["id"]] = tenant
        for index, (hook, kinds, names) in enumerate(rules):
            body = {
                "name": f"r{run}-{index}",
                "webhook_id": hooks[hook],
                "object_types": list(kinds),
                "event_types": list(names),
            }
            await _ok(await admin.post("/rules", json=body), 201)
        # (tenant, id) → the event first sent with it: a repeat within its tenant is skipped.
        first: dict[tuple[str | None, str], tuple[str, str]] = {}
        for owner, kind, name, by_token, chosen in events:
            tenant = None if owner is None else tenants[owner]
            event = {"object_type": kind, "event": name}
            if chosen is not None:
                event["id"] = f"{run}-{chosen}"  # the server lives across examples
            if tenant is not None and by_token:
                sent = await _ok(await clients[tenant].post("/events", json=event), 202)
            else:
                sent = await _ok(
                    await admin.post("/events", json={**event, "tenant_id": tenant}), 202
                )
            event_id = sent["ids"][0]
            repeat = (tenant, event_id) in first
            kind, name = first.setdefault((tenant, event_id), (kind, name))
            picked = {} if tenant is None else {"tenant_id": tenant}
            stored = await _ok(await admin.get(f"/events/{event_id}", params=picked))
            assert (stored["tenant_id"], stored["object_type"], stored["event"]) == (
                tenant,
                kind,
                name,
            )
            if repeat:
                assert sent["deliveries"] == 0
            reached = {d["webhook_id"] for d in stored["deliveries"]}
            # Every delivery goes to a webhook of the event's own tenant (of any example) ...
            for webhook_id in reached:
                webhook = await _ok(await admin.get(f"/webhooks/{webhook_id}"))
                assert webhook["tenant_id"] == tenant, (stored, webhook)
            # ... and among this example's, to exactly those its tenant's rules match.
            expected = {
                hooks[rule[0]]
                for rule in rules
                if tenant_of[hooks[rule[0]]] == tenant and _matches(rule, kind, name)
            }
            assert reached & set(hooks) == expected
            # A tenant's token sees its own tenant's event with this id, and no other's.
            for other, client in clients.items():
                seen = await client.get(f"/events/{event_id}")
                if (other, event_id) in first:
                    assert seen.status_code == 200
                    assert seen.json()["tenant_id"] == other
                else:
                    assert seen.status_code == 404
    finally:
        for client in clients.values():
            await client.aclose()
