"""Workflows over real HTTP: validation on save, masking, sync answers, every node type."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Hookhub
from tests.support.receiver import Receiver, Reply
from tests.support.workflows import create_workflow, trigger_client, wait_run

PAYMENT = {
    "name": "payment callback",
    "trigger": {
        "mode": "sync",
        "parse": {"body": [{"path": "order.status", "alias": "status"}]},
    },
    "start": "paid",
    "nodes": [
        {
            "id": "paid",
            "type": "condition",
            "conditions": {"attr": "vars.status", "value": "paid"},
            "then": "ok",
            "else": "retry",
        },
        {
            "id": "ok",
            "type": "response",
            "status": 200,
            "headers": {"Content-Type": "application/json"},
            "body": '{"received": {{ body.order.id | tojson }}}',
        },
        {"id": "retry", "type": "response", "status": 409, "body": "not paid: {{ vars.status }}"},
    ],
}


async def _invalid(hookhub: Hookhub, doc: dict[str, Any]) -> dict[str, Any]:
    response = await hookhub.admin.post("/workflows", json=doc)
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


async def test_save_refuses_broken_graphs_naming_the_node(hookhub: Hookhub) -> None:
    node = {"id": "a", "type": "set", "values": {"x": "1"}}
    cases = [
        ({"start": "zz", "nodes": [node]}, "start", "no node with id 'zz'"),
        ({"nodes": [{**node, "next": "b"}]}, "nodes.a.next", "node 'a': next: no node"),
        (
            {"nodes": [{**node, "next": "b"}, {"id": "b", "type": "set", "values": {}}]},
            "nodes.b.values",
            "node 'b'",
        ),
        (
            {
                "nodes": [
                    {**node, "next": "b"},
                    {"id": "b", "type": "emit", "event": "e", "object_type": "t", "next": "a"},
                ]
            },
            "nodes.b.next",
            "makes a cycle",
        ),
        ({"nodes": [{**node, "values": {"x": "{{ oops"}}]}, "nodes.a.values.x", "node 'a'"),
        ({"nodes": [{"id": "a", "type": "teleport"}]}, "nodes.a.type", "must be one of"),
        (
            {"nodes": [{"id": "c", "type": "condition", "conditions": {"op": "eq"}}]},
            "nodes.c.conditions",
            "node 'c'",
        ),
        ({"nodes": [{"id": "c", "type": "condition"}]}, "nodes.c.conditions", "either"),
        (
            {"nodes": [node], "trigger": {"response": {"body": "{% if %}"}}},
            "trigger.response.body",
            "syntax error",
        ),
        ({"nodes": [node, node]}, "nodes.a.id", "same id"),
    ]
    for changes, field, message in cases:
        doc = {"name": "bad", "start": changes["nodes"][0]["id"], **changes}
        error = await _invalid(hookhub, doc)
        assert error["field"] == field, (changes, error)
        assert message in error["message"], (changes, error)
    assert (await _invalid(hookhub, {"name": "no start", "nodes": [node]}))["field"] == "start"


async def test_secrets_are_masked_and_kept_when_sent_back(hookhub: Hookhub) -> None:
    request_node = {
        "id": "call",
        "type": "request",
        "url": "http://127.0.0.1:9/x",
        "headers": {"Authorization": "Bearer t0ken", "X-Plain": "v"},
        "auth": {"type": "basic", "username": "u", "password": "pw"},
        "secret": "sign-me",
    }
    created = await create_workflow(
        hookhub,
        trigger={"auth": {"type": "hmac", "scheme": "github", "secret": "gh-secret"}},
        nodes=[request_node],
    )
    shown = str(created)
    assert "gh-secret" not in shown and "t0ken" not in shown and "pw" not in shown
    assert created["trigger"]["auth"]["secret"] == "********"
    assert created["nodes"][0]["headers"] == {"Authorization": "********", "X-Plain": "v"}
    patched = await hookhub.admin.patch(
        f"/workflows/{created['id']}", json={"name": "renamed", "nodes": created["nodes"]}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["version"] == 2
    body = b"{}"
    import hashlib
    import hmac

    signature = "sha256=" + hmac.new(b"gh-secret", body, hashlib.sha256).hexdigest()
    async with trigger_client(hookhub) as client:
        answer = await client.post(
            f"/hooks/{created['key']}", content=body, headers={"X-Hub-Signature-256": signature}
        )
    assert answer.status_code == 200
    run = await wait_run(hookhub, answer.headers["hookhub-run-id"])
    # The stored token went out, not the mask.
    assert run["nodes"][0]["input"]["headers"]["Authorization"] == "********"
    assert run["status"] == "failed"
    other = await hookhub.admin.patch(
        f"/workflows/{created['id']}",
        json={"trigger": {"auth": {"type": "basic", "username": "u", "password": "********"}}},
    )
    assert other.status_code == 422


async def test_payment_callback_answers_from_its_response_nodes(hookhub: Hookhub) -> None:
    workflow = await create_workflow(hookhub, **PAYMENT)
    url = f"/hooks/{workflow['key']}"
    async with trigger_client(hookhub) as client:
        paid = await client.post(url, json={"order": {"id": 7, "status": "paid"}})
        unpaid = await client.post(url, json={"order": {"id": 8, "status": "pending"}})
    assert (paid.status_code, paid.json()) == (200, {"received": 7})
    assert (unpaid.status_code, unpaid.text) == (409, "not paid: pending")
    run = await wait_run(hookhub, unpaid.headers["hookhub-run-id"])
    assert [node["id"] for node in run["nodes"]] == ["paid", "retry"]
    assert run["nodes"][0]["output"] == {"result": False}
    assert run["result"] == {"status": 409, "headers": {}, "body": "not paid: pending"}


async def test_sync_without_response_node_is_200_or_500(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    receiver.reply = lambda r: Reply(status=500 if b"fail" in r.body else 200)
    call = {
        "id": "call",
        "type": "request",
        "url": receiver.url + "/charge?key=secret-in-url",
        "body": "{{ body | tojson }}",
    }
    workflow = await create_workflow(hookhub, trigger={"mode": "sync"}, nodes=[call])
    async with trigger_client(hookhub) as client:
        fine = await client.post(f"/hooks/{workflow['key']}", json={"go": "ok"})
        failed = await client.post(f"/hooks/{workflow['key']}", json={"go": "fail"})
    assert fine.status_code == 200
    assert fine.json() == {"id": fine.headers["hookhub-run-id"], "status": "succeeded"}
    assert failed.status_code == 500
    message = failed.json()["error"]["message"]
    assert "node 'call' (request) failed" in message
    assert "secret-in-url" not in message
    run = await wait_run(hookhub, failed.headers["hookhub-run-id"])
    assert run["status"] == "failed"
    assert "status 500" in run["nodes"][0]["error"]


async def test_sync_timeout_is_504_and_the_run_is_still_recorded(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    receiver.reply = lambda _: Reply(delay=0.6)
    call = {"id": "slow", "type": "request", "url": receiver.url, "method": "GET"}
    workflow = await create_workflow(
        hookhub, trigger={"mode": "sync", "timeout": 0.2}, nodes=[call]
    )
    async with trigger_client(hookhub) as client:
        answer = await client.post(f"/hooks/{workflow['key']}")
    assert answer.status_code == 504
    runs = (await hookhub.reader.get("/runs", params={"workflow_id": workflow["id"]})).json()
    run = await wait_run(hookhub, runs["items"][0]["id"])
    assert run["status"] == "succeeded"
    assert run["nodes"][0]["output"]["status"] == 200


async def test_nodes_branch_call_set_and_emit(hookhub: Hookhub, receiver: Receiver) -> None:
    receiver.reply = lambda _: Reply(body='{"approved": true, "ticket": 91}')
    webhook = await hookhub.admin.post(
        "/webhooks", json={"name": "fan-out", "url": receiver.url + "/fanout"}
    )
    await hookhub.admin.post(
        "/rules",
        json={"name": "orders", "object_types": ["shop.order"], "webhook_id": webhook.json()["id"]},
    )
    nodes = [
        {
            "id": "big",
            "type": "condition",
            "expression": "body.total > 100",
            "then": "ask",
            "else": "small",
        },
        {"id": "small", "type": "set", "values": {"route": "small"}},
        {
            "id": "ask",
            "type": "request",
            "url": receiver.url + "/approve/{{ body.id }}",
            "headers": {"X-Run": "{{ run.id }}"},
            "body": '{"total": {{ body.total }}}',
            "next": "note",
        },
        {
            "id": "note",
            "type": "set",
            "values": {
                "ticket": "{{ nodes.ask.json.ticket }}",
                "label": "t-{{ nodes.ask.status }}",
            },
            "next": "tell",
        },
        {
            "id": "tell",
            "type": "emit",
            "object_type": "shop.order",
            "event": "approved",
            "data": '{"id": {{ body.id }}, "ticket": {{ vars.ticket }}}',
        },
    ]
    workflow = await create_workflow(hookhub, start="big", nodes=nodes)
    async with trigger_client(hookhub) as client:
        big = await client.post(f"/hooks/{workflow['key']}", json={"id": 5, "total": 250})
        small = await client.post(f"/hooks/{workflow['key']}", json={"id": 6, "total": 3})
    run = await wait_run(hookhub, big.headers["hookhub-run-id"])
    assert run["status"] == "succeeded", run
    assert [node["id"] for node in run["nodes"]] == ["big", "ask", "note", "tell"]
    assert run["vars"] == {"ticket": 91, "label": "t-200"}
    assert run["nodes"][1]["output"]["json"] == {"approved": True, "ticket": 91}
    assert run["nodes"][3]["output"]["deliveries"] == 1
    await receiver.wait_for(2)
    approve, fanout = receiver.requests[0], receiver.requests[1]
    assert approve.path == "/approve/5"
    assert approve.headers["X-Run"] == run["id"]
    assert approve.body == b'{"total": 250}'
    assert fanout.path == "/fanout"
    assert b'"ticket":91' in fanout.body.replace(b" ", b"")
    small_run = await wait_run(hookhub, small.headers["hookhub-run-id"])
    assert small_run["vars"] == {"route": "small"}
    await asyncio.sleep(0.1)
    assert len(receiver.requests) == 2


async def test_list_get_and_delete_workflows(hookhub: Hookhub) -> None:
    first = await create_workflow(hookhub, name="one")
    second = await create_workflow(hookhub, name="two")
    listed = (await hookhub.reader.get("/workflows", params={"limit": 1})).json()
    assert [item["id"] for item in listed["items"]] == [second["id"]]
    assert listed["next"]
    assert (await hookhub.reader.get(f"/workflows/{first['id']}")).json() == first
    assert (await hookhub.reader.post("/workflows", json={})).status_code == 403
    assert (await hookhub.admin.delete(f"/workflows/{first['id']}")).status_code == 204
    assert (await hookhub.reader.get(f"/workflows/{first['id']}")).status_code == 404
    async with trigger_client(hookhub) as client:
        assert (await client.post(f"/hooks/{first['key']}")).status_code == 404
    duplicate = await hookhub.admin.post(
        "/workflows",
        json={"name": "two", "start": "a", "nodes": [{"id": "a", "type": "response"}]},
    )
    assert duplicate.status_code == 409


async def test_an_emit_node_refuses_what_the_events_api_refuses(hookhub: Hookhub) -> None:
    """An event type rendering to nothing fails the run instead of storing a nameless event."""
    emit = {"id": "emit", "type": "emit", "object_type": "form", "event": "{{ body.action }}"}
    workflow = await create_workflow(hookhub, nodes=[emit])
    async with trigger_client(hookhub) as client:
        answer = await client.post(f"/hooks/{workflow['key']}", json={"action": ""})
    run = await wait_run(hookhub, answer.headers["hookhub-run-id"])
    assert run["status"] == "failed"
    assert (
        "the rendered event is invalid: event: String should have at least 1 character"
        in (run["error"])
    )
