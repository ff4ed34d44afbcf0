"""Trigger URLs over real HTTP: routing, methods, authentication, parsing, async answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import orjson
from standardwebhooks import Webhook

from tests.conftest import Hookhub
from tests.support.workflows import create_workflow, trigger_client, wait_run


async def _runs(hookhub: Hookhub, workflow_id: str) -> list[dict[str, Any]]:
    response = await hookhub.reader.get("/runs", params={"workflow_id": workflow_id})
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_both_urls_trigger_and_unknown_keys_are_404(hookhub: Hookhub) -> None:
    workflow = await create_workflow(hookhub)
    key = workflow["key"]
    assert workflow["url"] == f"{hookhub.url}/hooks/{key}"
    assert workflow["urls"][1] == f"{hookhub.url}/api/webhook:trigger/{key}"
    async with trigger_client(hookhub) as client:
        for path in (f"/hooks/{key}", f"/api/webhook:trigger/{key}"):
            answer = await client.post(path, json={"n": 1})
            assert (answer.status_code, answer.text) == (200, "ok")
            run = await wait_run(hookhub, answer.headers["hookhub-run-id"])
            assert run["status"] == "succeeded"
            assert run["vars"] == {"seen": {"n": 1}}
        missing = await client.post("/hooks/nope", json={})
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        disabled = await hookhub.admin.patch(
            f"/workflows/{workflow['id']}", json={"enabled": False}
        )
        assert disabled.status_code == 200
        assert (await client.post(f"/hooks/{key}", json={})).status_code == 404


async def test_methods_outside_the_trigger_get_405_with_allow(hookhub: Hookhub) -> None:
    default = await create_workflow(hookhub, name="post only")
    both = await create_workflow(hookhub, name="get put", trigger={"methods": ["GET", "PUT"]})
    async with trigger_client(hookhub) as client:
        refused = await client.get(f"/hooks/{default['key']}")
        assert refused.status_code == 405
        assert refused.headers["allow"] == "POST"
        assert (await client.get(f"/hooks/{both['key']}?a=1")).status_code == 200
        assert (await client.put(f"/hooks/{both['key']}")).status_code == 200
        assert (await client.post(f"/hooks/{both['key']}")).headers["allow"] == "GET, PUT"


async def test_basic_auth(hookhub: Hookhub) -> None:
    auth = {"type": "basic", "username": "shop", "password": "s3cret"}
    workflow = await create_workflow(hookhub, trigger={"auth": auth})
    assert workflow["trigger"]["auth"]["password"] == "********"
    url = f"/hooks/{workflow['key']}"
    async with trigger_client(hookhub) as client:
        for credentials in (None, ("shop", "wrong"), ("other", "s3cret")):
            refused = await client.post(url, json={}, auth=credentials)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Basic realm=")
        accepted = await client.post(url, json={}, auth=("shop", "s3cret"))
        assert accepted.status_code == 200
        run = await wait_run(hookhub, accepted.headers["hookhub-run-id"])
    assert run["request"]["headers"]["authorization"] == "********"
    # Failed verification never makes a run.
    assert len(await _runs(hookhub, workflow["id"])) == 1


async def test_header_token_is_checked_and_masked_in_the_run(hookhub: Hookhub) -> None:
    auth = {"type": "header", "name": "X-Shop-Key", "value": "k-123"}
    workflow = await create_workflow(hookhub, trigger={"auth": auth})
    url = f"/hooks/{workflow['key']}"
    async with trigger_client(hookhub) as client:
        assert (await client.post(url, json={})).status_code == 401
        assert (await client.post(url, headers={"X-Shop-Key": "k-12"})).status_code == 401
        accepted = await client.post(url, json={}, headers={"X-Shop-Key": "k-123"})
        assert accepted.status_code == 200
    run = await wait_run(hookhub, accepted.headers["hookhub-run-id"])
    assert run["request"]["headers"]["x-shop-key"] == "********"


async def test_standard_webhooks_signatures(hookhub: Hookhub) -> None:
    secret = "whsec_" + base64.b64encode(b"standard-webhooks-test-key").decode()
    auth = {"type": "hmac", "scheme": "standard", "secret": secret}
    workflow = await create_workflow(hookhub, trigger={"auth": auth})
    url = f"/hooks/{workflow['key']}"
    body = b'{"type": "invoice.paid",  "n": 1}'
    signer = Webhook(secret)
    now = int(time.time())
    async with trigger_client(hookhub) as client:

        async def send(msg_id: str, sent_at: int, payload: bytes, signed: bytes) -> int:
            signature = signer.sign(msg_id, _datetime(sent_at), signed.decode())
            headers = {
                "webhook-id": msg_id,
                "webhook-timestamp": str(sent_at),
                "webhook-signature": signature,
                "content-type": "application/json",
            }
            return (await client.post(url, content=payload, headers=headers)).status_code

        assert await send("msg_1", now, body, body) == 200
        assert await send("msg_2", now, body + b" ", body) == 401
        assert await send("msg_3", now - 3600, body, body) == 401
        missing = await client.post(url, content=body)
        assert missing.status_code == 401
        assert "webhook-signature" in missing.json()["error"]["message"]


def _datetime(epoch: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)


async def test_github_stripe_and_generic_hmac(hookhub: Hookhub) -> None:
    body = b'{"ref": "refs/heads/main"}'
    secret = "It's a Secret to Everybody"
    github = await create_workflow(
        hookhub, name="gh", trigger={"auth": {"type": "hmac", "scheme": "github", "secret": secret}}
    )
    stripe = await create_workflow(
        hookhub,
        name="stripe",
        trigger={"auth": {"type": "hmac", "scheme": "stripe", "secret": "whsec_stripe"}},
    )
    generic_auth = {
        "type": "hmac",
        "scheme": "generic",
        "secret": secret,
        "header": "X-Signature-512",
        "algorithm": "sha512",
        "encoding": "base64",
        "prefix": "v1=",
    }
    generic = await create_workflow(hookhub, name="generic", trigger={"auth": generic_auth})
    hub = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    t = str(int(time.time()))
    v1 = hmac.new(b"whsec_stripe", t.encode() + b"." + body, hashlib.sha256).hexdigest()
    mac = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha512).digest()).decode()
    cases = [
        (github, {"X-Hub-Signature-256": hub}, {"X-Hub-Signature-256": hub[:-1] + "0"}),
        (
            stripe,
            {"Stripe-Signature": f"t={t},v1=deadbeef,v1={v1}"},
            {"Stripe-Signature": f"t={int(t) - 3600},v1={v1}"},
        ),
        (generic, {"X-Signature-512": "v1=" + mac}, {"X-Signature-512": mac}),
    ]
    async with trigger_client(hookhub) as client:
        for workflow, good, bad in cases:
            url = f"/hooks/{workflow['key']}"
            assert (await client.post(url, content=body, headers=good)).status_code == 200
            assert (await client.post(url, content=body, headers=bad)).status_code == 401
            assert (await client.post(url, content=body)).status_code == 401


async def test_ip_allowlist(hookhub: Hookhub) -> None:
    inside = await create_workflow(hookhub, name="in", trigger={"ip_allowlist": ["127.0.0.0/8"]})
    outside = await create_workflow(hookhub, name="out", trigger={"ip_allowlist": ["10.1.2.3"]})
    async with trigger_client(hookhub) as client:
        assert (await client.post(f"/hooks/{inside['key']}")).status_code == 200
        # X-Forwarded-For is ignored: 127.0.0.1 is not a trusted proxy here.
        spoofed = {"X-Forwarded-For": "10.1.2.3"}
        refused = await client.post(f"/hooks/{outside['key']}", headers=spoofed)
        assert refused.status_code == 403
        assert "127.0.0.1" in refused.json()["error"]["message"]
    assert await _runs(hookhub, outside["id"]) == []


async def test_query_body_and_header_parsing_with_aliases(hookhub: Hookhub) -> None:
    parse = {
        "headers": [{"name": "X-Request-Id", "alias": "request_id"}],
        "query": [{"path": "a[0].b", "alias": "ab"}, {"path": "tags"}, {"path": "x.y"}],
        "body": [{"path": "order.id", "alias": "order"}, {"path": "items[1].sku"}],
    }
    workflow = await create_workflow(
        hookhub,
        trigger={"parse": parse},
        nodes=[{"id": "keep", "type": "set", "values": {"q": "{{ query | tojson }}"}}],
    )
    body = {"order": {"id": 42}, "items": [{"sku": "a"}, {"sku": "b"}]}
    async with trigger_client(hookhub) as client:
        answer = await client.post(
            f"/hooks/{workflow['key']}?a[0].b=1&tags[]=x&tags[]=y&x.y=z",
            json=body,
            headers={"X-Request-Id": "req-7"},
        )
    run = await wait_run(hookhub, answer.headers["hookhub-run-id"])
    assert run["vars"] == {
        "request_id": "req-7",
        "ab": "1",
        "tags": ["x", "y"],
        "x.y": "z",
        "order": 42,
        "items[1].sku": "b",
        "q": {"a": [{"b": "1"}], "tags": ["x", "y"], "x": {"y": "z"}},
    }
    assert run["request"]["query"] == run["vars"]["q"]
    assert run["request"]["body"] == body


async def test_form_bodies_raw_bytes_and_bad_bodies(hookhub: Hookhub) -> None:
    parse = {"body": [{"path": "amount", "alias": "amount"}]}
    workflow = await create_workflow(
        hookhub,
        trigger={"parse": parse},
        nodes=[{"id": "raw", "type": "set", "values": {"raw": "{{ request.raw | tojson }}"}}],
    )
    url = f"/hooks/{workflow['key']}"
    raw = b'{ "amount" :  12.50,\n"note": "caf\xc3\xa9" }'
    async with trigger_client(hookhub) as client:
        form = await client.post(url, data={"amount": "7", "a[b]": "c"})
        exact = await client.post(url, content=raw, headers={"Content-Type": "application/json"})
        broken = await client.post(url, content=b'{"amount": 1,}', headers=_json_type())
        text = await client.post(url, content=b"hello", headers={"Content-Type": "text/plain"})
        # No Content-Type at all (SQLE sends none): JSON if it parses as JSON.
        untyped = await client.post(url, content=b'{"amount": 3}')
        untyped_text = await client.post(url, content=b"hello")
    run = await wait_run(hookhub, untyped.headers["hookhub-run-id"])
    assert run["vars"]["amount"] == 3
    assert untyped_text.status_code == 415
    run = await wait_run(hookhub, form.headers["hookhub-run-id"])
    assert run["vars"]["amount"] == "7"
    assert run["request"]["body"] == {"amount": "7", "a": {"b": "c"}}
    run = await wait_run(hookhub, exact.headers["hookhub-run-id"])
    assert run["request"]["raw"].encode() == raw
    assert run["vars"] == {"amount": 12.5, "raw": raw.decode()}
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "invalid_json"
    assert "line 1 column 13" in broken.json()["error"]["message"]
    assert text.status_code == 415
    assert "application/json" in text.json()["error"]["message"]


def _json_type() -> dict[str, str]:
    return {"Content-Type": "application/json"}


async def test_async_answer_is_configurable_and_templated(hookhub: Hookhub) -> None:
    response = {
        "status": 202,
        "headers": {"X-Order": "{{ body.order }}", "Content-Type": "application/json"},
        "body": '{"accepted": {{ body.order | tojson }}, "run": "{{ run.id }}"}',
    }
    workflow = await create_workflow(hookhub, trigger={"response": response})
    async with trigger_client(hookhub) as client:
        answer = await client.post(f"/hooks/{workflow['key']}", json={"order": "A-1"})
    assert answer.status_code == 202
    assert answer.headers["x-order"] == "A-1"
    assert answer.json() == {"accepted": "A-1", "run": answer.headers["hookhub-run-id"]}


async def test_parse_sample_lists_paths(hookhub: Hookhub) -> None:
    from_url = await hookhub.reader.post(
        "/workflows/parse-sample", json={"url": "http://x/hooks/k?a[0].b=1&a[1].b=2&c=3"}
    )
    assert from_url.status_code == 200
    assert from_url.json()["source"] == "query"
    assert from_url.json()["value"] == {"a": [{"b": "1"}, {"b": "2"}], "c": "3"}
    paths = [entry["path"] for entry in from_url.json()["paths"]]
    assert paths == ["a", "a[0]", "a[0].b", "a[1]", "a[1].b", "c"]
    bare_query = await hookhub.reader.post("/workflows/parse-sample", json={"url": "q=1"})
    assert bare_query.json()["value"] == {"q": "1"}
    sample = {"a": 1, "b": {"c": 2}, "items": [{"id": 5}]}
    for given in (sample, orjson.dumps(sample).decode()):
        from_json = await hookhub.reader.post("/workflows/parse-sample", json={"json": given})
        paths = [entry["path"] for entry in from_json.json()["paths"]]
        assert paths == ["a", "b", "b.c", "items", "items[0]", "items[0].id"]
    bad = await hookhub.reader.post("/workflows/parse-sample", json={"json": "{nope"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "json"
    neither = await hookhub.reader.post("/workflows/parse-sample", json={})
    assert neither.status_code == 422
    both = await hookhub.reader.post("/workflows/parse-sample", json={"url": "a=1", "json": 1})
    assert both.status_code == 422, both.text
    null = await hookhub.reader.post("/workflows/parse-sample", json={"json": None})
    assert null.json() == {"source": "body", "value": None, "paths": []}
