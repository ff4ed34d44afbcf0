"""`/tokens`: API tokens over the API (admin scope), values shown once, revocation, and the
`last_used_at` of each token."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Hookhub
from tests.support.server import api_client

FIELDS = {
    "id",
    "name",
    "scope",
    "prefix",
    "created_at",
    "last_used_at",
    "revoked_at",
    "tenant_id",
}


async def _listed(hookhub: Hookhub) -> dict[str, dict[str, Any]]:
    body = (await hookhub.admin.get("/tokens")).json()
    assert body["next"] is None
    return {item["id"]: item for item in body["items"]}


async def test_tokens_are_created_listed_and_revoked_by_admins(hookhub: Hookhub) -> None:
    created = await hookhub.admin.post("/tokens", json={"name": "deploy", "scope": "write"})
    assert created.status_code == 201, created.text
    token = created.json()
    assert set(token) == FIELDS | {"token"}
    assert token["token"].startswith("hh_") and token["token"].startswith(token["prefix"])
    assert (token["name"], token["scope"], token["revoked_at"]) == ("deploy", "write", None)
    assert token["created_at"].endswith("Z")

    async with api_client(hookhub.url, token["token"]) as deploy:
        assert (await deploy.get("/webhooks")).status_code == 200
        # A write token can't manage tokens.
        assert (await deploy.get("/tokens")).status_code == 403
    listed = await _listed(hookhub)
    assert set(listed[token["id"]]) == FIELDS  # never the value, never its hash
    assert len(listed) == 3  # with the fixture's admin and reader tokens
    assert (await hookhub.admin.get(f"/tokens/{token['id']}")).json() == listed[token["id"]]

    assert (await hookhub.reader.get("/tokens")).status_code == 403
    assert (
        await hookhub.reader.post("/tokens", json={"name": "x", "scope": "read"})
    ).status_code == 403
    assert (await hookhub.anonymous.get("/tokens")).status_code == 401
    bad = await hookhub.admin.post("/tokens", json={"name": "x", "scope": "root"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "scope"
    assert (await hookhub.admin.post("/tokens", json={"name": ""})).status_code == 422

    assert (await hookhub.admin.delete(f"/tokens/{token['id']}")).status_code == 204
    async with api_client(hookhub.url, token["token"]) as revoked:
        assert (await revoked.get("/webhooks")).status_code == 401
    shown = (await hookhub.admin.get(f"/tokens/{token['id']}")).json()
    assert shown["revoked_at"] is not None
    # Revoking again changes nothing; an unknown id is 404.
    assert (await hookhub.admin.delete(f"/tokens/{token['id']}")).status_code == 204
    assert (await hookhub.admin.get(f"/tokens/{token['id']}")).json() == shown
    assert (await hookhub.admin.delete("/tokens/tok_nope")).status_code == 404
    assert (await hookhub.admin.get("/tokens/tok_nope")).status_code == 404


async def test_last_used_at_is_recorded(hookhub: Hookhub) -> None:
    reader_id = next(t["id"] for t in (await _listed(hookhub)).values() if t["name"] == "reader")
    assert (await hookhub.reader.get("/webhooks")).status_code == 200
    async with asyncio.timeout(10):
        while (await _listed(hookhub))[reader_id]["last_used_at"] is None:
            await asyncio.sleep(0.05)
