"""Runs over real HTTP: listing, filters, detail, re-runs, and callback webhooks."""

from __future__ import annotations

import orjson

from hookhub.sdk.verify import verify
from tests.conftest import Hookhub
from tests.support.receiver import Receiver
from tests.support.workflows import create_workflow, trigger_client, wait_run

FAILS_ON_NEGATIVE = [
    {
        "id": "check",
        "type": "condition",
        "expression": "body.n >= 0",
        "then": "double",
        "else": "boom",
    },
    {"id": "double", "type": "set", "values": {"double": "{{ body.n * 2 }}"}},
    {"id": "boom", "type": "set", "values": {"x": "{{ body.n.missing.deeper }}"}},
]


async def test_runs_are_listed_filtered_shown_and_rerun(hookhub: Hookhub) -> None:
    no_else = [{**FAILS_ON_NEGATIVE[0], "else": None}, FAILS_ON_NEGATIVE[1]]
    workflow = await create_workflow(hookhub, start="check", nodes=no_else)
    async with trigger_client(hookhub) as client:
        first = await client.post(f"/hooks/{workflow['key']}?page=2", json={"n": 4})
        second = await client.post(f"/hooks/{workflow['key']}", json={"n": -1})
    done = await wait_run(hookhub, first.headers["hookhub-run-id"])
    await wait_run(hookhub, second.headers["hookhub-run-id"])
    assert done["request"]["method"] == "POST"
    assert done["request"]["query"] == {"page": "2"}
    assert done["request"]["body"] == {"n": 4}
    assert done["nodes"][0]["output"] == {"result": True}
    assert done["nodes"][1]["started_at"].endswith("Z")
    assert done["duration_ms"] >= 0
    listed = (await hookhub.reader.get("/runs", params={"workflow_id": workflow["id"]})).json()
    assert [run["id"] for run in listed["items"]] == [
        second.headers["hookhub-run-id"],
        done["id"],
    ]
    assert listed["next"] is None
    succeeded = await hookhub.reader.get("/runs", params={"status": "succeeded"})
    assert len(succeeded.json()["items"]) == 2
    assert (await hookhub.reader.get("/runs", params={"status": "nope"})).status_code == 422
    assert (await hookhub.reader.get("/runs/run_missing")).status_code == 404
    # A re-run uses the stored request against the workflow as it is now.
    patch = {"nodes": FAILS_ON_NEGATIVE}
    assert (await hookhub.admin.patch(f"/workflows/{workflow['id']}", json=patch)).is_success
    again = await hookhub.admin.post(f"/runs/{done['id']}/rerun")
    assert again.status_code == 202
    assert again.json()["rerun_of"] == done["id"]
    rerun = await wait_run(hookhub, again.json()["id"])
    assert rerun["status"] == "succeeded"
    assert rerun["vars"] == {"double": 8}
    assert rerun["request"] == done["request"]
    failing = await hookhub.admin.post(f"/runs/{second.headers['hookhub-run-id']}/rerun")
    failed = await wait_run(hookhub, failing.json()["id"])
    assert failed["status"] == "failed"
    assert "node 'boom' (set) failed" in failed["error"]
    assert "UndefinedError" in failed["nodes"][-1]["error"]
    assert (await hookhub.reader.post(f"/runs/{done['id']}/rerun")).status_code == 403


async def test_async_runs_call_their_callback_webhook(hookhub: Hookhub, receiver: Receiver) -> None:
    workflow = await create_workflow(
        hookhub, trigger={"callback": True}, start="check", nodes=FAILS_ON_NEGATIVE
    )
    url = f"/hooks/{workflow['key']}"
    webhook = {
        "url": receiver.url + "/done",
        "headers": {"X-Job": "j-1"},
        "auth": {"type": "bearer", "token": "cb-token"},
    }
    async with trigger_client(hookhub) as client:
        good = await client.post(url, json={"n": 2, "webhook": webhook})
        bad = await client.post(url, json={"n": -2, "webhook": webhook})
        invalid = await client.post(url, json={"n": 1, "webhook": {"url": "ftp://x"}})
    assert invalid.status_code == 400
    assert invalid.json()["error"]["code"] == "invalid_callback"
    assert "webhook.url" in invalid.json()["error"]["message"]
    assert invalid.json()["error"]["field"] == "webhook.url"
    run = await wait_run(hookhub, good.headers["hookhub-run-id"])
    assert run["callback"]["auth"] == {"type": "bearer", "token": "********"}
    await wait_run(hookhub, bad.headers["hookhub-run-id"])
    await receiver.wait_for(2)
    payloads = {}
    for request in receiver.requests:
        assert request.path == "/done"
        assert request.headers["Authorization"] == "Bearer cb-token"
        assert request.headers["X-Job"] == "j-1"
        payload = orjson.loads(request.body)
        payloads[payload["id"]] = payload
    assert payloads[run["id"]] == {
        "id": run["id"],
        "run_id": run["id"],
        "status": "succeeded",
        "result": {"double": 4},
        "workflow_id": workflow["id"],
        "error": None,
    }
    failed = payloads[bad.headers["hookhub-run-id"]]
    assert failed["status"] == "failed"
    # On failure, `result` is the error text, as NetPulse sends it (docs/callbacks.md).
    assert failed["result"] == failed["error"]
    assert "node 'boom' (set) failed" in failed["error"]
    rerun = await hookhub.admin.post(
        f"/runs/{run['id']}/rerun", json={"webhook": {"url": receiver.url + "/again"}}
    )
    assert rerun.status_code == 202
    await receiver.wait_for(3)
    assert receiver.requests[2].path == "/again"
    assert orjson.loads(receiver.requests[2].body)["id"] == rerun.json()["id"]
    refused = await hookhub.admin.post(f"/runs/{run['id']}/rerun", json={"webhook": {}})
    assert refused.status_code == 422


NETPULSE_JOB = [
    {
        "id": "check",
        "type": "condition",
        "expression": "body.command != 'fail'",
        "then": "answer",
        "else": "boom",
    },
    {
        "id": "answer",
        "type": "response",
        "body": "Interface Gi1/0/1\n description {{ body.command }}",
    },
    {"id": "boom", "type": "set", "values": {"x": "{{ body.n.missing.deeper }}"}},
]


async def test_netpulse_style_callbacks(hookhub: Hookhub, receiver: Receiver) -> None:
    """NetPulse's `webhook` object as it sends it (`auth` as a list), the caller's job id
    passed through, `result` a string as NetPulse sends it, and signed when given a secret."""
    workflow = await create_workflow(
        hookhub, trigger={"callback": True}, start="check", nodes=NETPULSE_JOB
    )
    url = f"/hooks/{workflow['key']}"
    webhook = {
        "name": "basic",
        "url": receiver.url + "/callback",
        "auth": ["admin", "pwd"],
        "timeout": 5.0,
        "secret": "s3cret",
    }
    async with trigger_client(hookhub) as client:
        good = await client.post(url, json={"id": "job-1", "command": "show", "webhook": webhook})
        bad = await client.post(url, json={"id": 42, "command": "fail", "webhook": webhook})
        plain = await client.post(url, json={"command": "show", "webhook": {"url": receiver.url}})
        refused = await client.post(url, json={"id": {"x": 1}, "webhook": webhook})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_callback"
    assert "id" in refused.json()["error"]["message"]
    runs = {key: r.headers["hookhub-run-id"] for key, r in (("ok", good), ("bad", bad))}
    plain_run = plain.headers["hookhub-run-id"]
    stored = await wait_run(hookhub, runs["ok"])
    assert stored["callback"]["auth"] == {
        "type": "basic",
        "username": "admin",
        "password": "********",
    }
    assert stored["callback"]["secret"] == "********"
    await receiver.wait_for(3)
    payloads = {}
    for request in receiver.requests:
        payload = orjson.loads(request.body)
        payloads[payload["run_id"]] = (payload, request)
    ok, request = payloads[runs["ok"]]
    assert ok == {
        "id": "job-1",
        "run_id": runs["ok"],
        "status": "succeeded",
        "result": "Interface Gi1/0/1\n description show",
        "workflow_id": workflow["id"],
        "error": None,
    }
    assert request.headers["Authorization"] == "Basic YWRtaW46cHdk"
    verify(request.headers, request.body, "s3cret")
    failed, _ = payloads[runs["bad"]]
    assert failed["id"] == 42 and failed["status"] == "failed"
    assert failed["result"] == failed["error"] and "node 'boom' (set) failed" in failed["error"]
    unsigned, request = payloads[plain_run]
    assert unsigned["id"] == plain_run
    assert "webhook-signature" not in request.headers


async def test_a_callback_object_sent_to_a_trigger_that_does_not_call_back_is_refused(
    hookhub: Hookhub, receiver: Receiver
) -> None:
    """Not silently ignored: the caller would wait for a call that never comes (issue 23.4)."""
    workflow = await create_workflow(hookhub, start="check", nodes=FAILS_ON_NEGATIVE)
    url = f"/hooks/{workflow['key']}"
    netpulse = {"name": "basic", "url": receiver.url + "/done", "method": "POST", "timeout": 5}
    async with trigger_client(hookhub) as client:
        refused = await client.post(url, json={"n": 1, "webhook": netpulse})
        # Data that merely has a `webhook` key, not a callback object, is the caller's own.
        other = await client.post(url, json={"n": 1, "webhook": {"id": 7, "url": "x", "at": 1}})
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "callback_not_enabled" and error["field"] == "webhook"
    assert '"callback": true' in error["message"]
    assert other.status_code == 200
    runs = (await hookhub.reader.get("/runs", params={"workflow_id": workflow["id"]})).json()
    assert [run["id"] for run in runs["items"]] == [other.headers["hookhub-run-id"]]
