"""Trigger edge behaviour (DESIGN I6a): pre-filter, dedupe, concurrency, CORS, proxies, limits."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Hookhub
from tests.support.receiver import Receiver, Reply
from tests.support.workflows import create_workflow, trigger_client, wait_run

PUBLIC_URL = "https://hooks.example.com/base"


@pytest.fixture
def settings(database_url: str) -> object:
    from hookhub.settings import Settings

    return Settings(
        database_url=database_url,
        poll_interval=0.05,
        lease_margin=1.0,
        public_url=PUBLIC_URL,
        trusted_proxies=("127.0.0.0/8",),
        max_request_body=1000,
    )


async def _run_count(hookhub: Hookhub, workflow_id: str) -> int:
    response = await hookhub.reader.get("/runs", params={"workflow_id": workflow_id})
    return len(response.json()["items"])


async def test_public_url_prefilter_and_body_limit(hookhub: Hookhub) -> None:
    only_pushes = {
        "conditions": {"attr": "headers.x-github-event", "value": "push"},
        "status": 202,
        "body": "ignored: not a push",
    }
    workflow = await create_workflow(hookhub, trigger={"filter": only_pushes})
    assert workflow["url"] == f"{PUBLIC_URL}/hooks/{workflow['key']}"
    url = f"/hooks/{workflow['key']}"
    async with trigger_client(hookhub) as client:
        skipped = await client.post(url, json={}, headers={"X-GitHub-Event": "issues"})
        taken = await client.post(url, json={}, headers={"X-GitHub-Event": "push"})
        huge = await client.post(url, json={"pad": "x" * 2000}, headers={"X-GitHub-Event": "push"})
    assert (skipped.status_code, skipped.text) == (202, "ignored: not a push")
    assert "hookhub-run-id" not in skipped.headers
    assert taken.status_code == 200
    assert huge.status_code == 413
    await wait_run(hookhub, taken.headers["hookhub-run-id"])
    assert await _run_count(hookhub, workflow["id"]) == 1


async def test_duplicate_deliveries_run_once(hookhub: Hookhub) -> None:
    dedupe = {"header": "X-GitHub-Delivery", "window": 60}
    workflow = await create_workflow(hookhub, trigger={"dedupe": dedupe})
    sync = await create_workflow(hookhub, name="sync", trigger={"mode": "sync", "dedupe": dedupe})
    async with trigger_client(hookhub) as client:
        for target in (workflow, sync):
            url = f"/hooks/{target['key']}"
            first = await client.post(url, json={}, headers={"X-GitHub-Delivery": "d-1"})
            again = await asyncio.gather(
                *(client.post(url, json={}, headers={"X-GitHub-Delivery": "d-1"}) for _ in range(3))
            )
            other = await client.post(url, json={}, headers={"X-GitHub-Delivery": "d-2"})
            assert first.status_code == 200
            for answer in again:
                assert answer.status_code == 200
                assert answer.json() == {"duplicate_of": first.headers["hookhub-run-id"]}
            assert other.headers["hookhub-run-id"] != first.headers["hookhub-run-id"]
            await wait_run(hookhub, other.headers["hookhub-run-id"])
            assert await _run_count(hookhub, target["id"]) == 2


async def test_concurrency_limit_answers_429(hookhub: Hookhub, receiver: Receiver) -> None:
    receiver.reply = lambda _: Reply(delay=0.3)
    call = {"id": "slow", "type": "request", "url": receiver.url, "method": "GET"}
    workflow = await create_workflow(
        hookhub, trigger={"mode": "sync", "concurrency": 2}, nodes=[call]
    )
    async with trigger_client(hookhub) as client:
        answers = await asyncio.gather(
            *(client.post(f"/hooks/{workflow['key']}") for _ in range(5))
        )
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200, 200, 429, 429, 429]
    limited = next(answer for answer in answers if answer.status_code == 429)
    assert limited.headers["retry-after"] == "1"


async def test_cors_preflight_and_allowed_origins(hookhub: Hookhub) -> None:
    workflow = await create_workflow(
        hookhub, trigger={"cors_origins": ["https://app.example.com"], "methods": ["POST"]}
    )
    url = f"/hooks/{workflow['key']}"
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    async with trigger_client(hookhub) as client:
        allowed = await client.options(url, headers=preflight)
        foreign = await client.options(url, headers={**preflight, "Origin": "https://evil.test"})
        wrong_method = await client.options(
            url, headers={**preflight, "Access-Control-Request-Method": "DELETE"}
        )
        actual = await client.post(url, json={}, headers={"Origin": "https://app.example.com"})
        plain_options = await client.options(url)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert allowed.headers["access-control-allow-methods"] == "POST"
    assert allowed.headers["access-control-allow-headers"] == "content-type"
    assert foreign.status_code == 403
    assert wrong_method.status_code == 403
    assert actual.headers["access-control-allow-origin"] == "https://app.example.com"
    assert plain_options.status_code == 405
    assert plain_options.headers["allow"] == "POST, OPTIONS"


async def test_forwarded_for_is_believed_from_trusted_proxies(hookhub: Hookhub) -> None:
    workflow = await create_workflow(hookhub, trigger={"ip_allowlist": ["203.0.113.0/24"]})
    url = f"/hooks/{workflow['key']}"
    async with trigger_client(hookhub) as client:
        direct = await client.post(url, json={})
        proxied = await client.post(url, json={}, headers={"X-Forwarded-For": "203.0.113.9"})
        # The client wrote the first hop itself; the nearest untrusted hop is the one that counts.
        forged = await client.post(
            url, json={}, headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.1"}
        )
    assert direct.status_code == 403
    assert proxied.status_code == 200
    assert forged.status_code == 403
    run = await wait_run(hookhub, proxied.headers["hookhub-run-id"])
    assert run["request"]["client"] == "203.0.113.9"
