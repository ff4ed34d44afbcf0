"""Trigger URLs served ahead of the API stack: odd paths, odd methods and streamed bodies get
the trigger's own 4xx answers, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import Hookhub
from tests.support.workflows import create_workflow, trigger_client

LIMIT = 1000  # bytes: the body limit of these tests


@pytest.fixture
def settings(database_url: str) -> object:
    from hookhub.settings import Settings

    return Settings(database_url=database_url, poll_interval=0.05, max_request_body=LIMIT)


async def test_paths_without_one_key_are_404_and_a_trailing_slash_redirects(
    hookhub: Hookhub,
) -> None:
    workflow = await create_workflow(hookhub)
    key = workflow["key"]
    async with trigger_client(hookhub) as client:
        for path in (f"/hooks/{key}/more", "/hooks/", f"/hooks/{key}%2Fmore", "/hooks//"):
            answer = await client.post(path, json={})
            assert answer.status_code == 404, path
            assert answer.json()["error"]["code"] == "not_found"
        slash = await client.post(f"/hooks/{key}/?a=1", json={})
    assert slash.status_code == 307
    assert slash.headers["location"].endswith(f"/hooks/{key}?a=1")


async def test_any_other_method_is_the_triggers_405(hookhub: Hookhub) -> None:
    workflow = await create_workflow(hookhub)
    async with trigger_client(hookhub) as client:
        for method in ("TRACE", "PROPFIND"):
            answer = await client.request(method, f"/hooks/{workflow['key']}")
            assert answer.status_code == 405, method
            assert answer.headers["allow"] == "POST"
            assert answer.json()["error"]["code"] == "method_not_allowed"


async def test_streamed_bodies_over_the_limit_are_a_413(hookhub: Hookhub) -> None:
    workflow = await create_workflow(hookhub)

    async def chunks(count: int) -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b"x" * (LIMIT // 2)

    url = f"/hooks/{workflow['key']}"
    async with trigger_client(hookhub) as client:
        huge = await client.post(url, content=chunks(3))
        fits = await client.post(url, content=chunks(2))
        declared = await client.post(url, content=b"x" * (LIMIT + 1))
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "too_large"
    assert declared.status_code == 413
    assert fits.status_code == 200
    assert fits.headers["hookhub-run-id"]
