"""What every management API route does with input it doesn't expect: a JSON body under another
label, a body that isn't JSON, a query parameter the route doesn't take (issue 23.2, 23.5)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Hookhub

on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
EVENT = '{"object_type": "dcim.device", "event": "updated", "data": {"id": 7}}'
FORM = "application/x-www-form-urlencoded"  # what `curl -d` sends unless told otherwise


@on_sqlite
async def test_a_json_body_is_read_whatever_its_label(hookhub: Hookhub) -> None:
    for label in (FORM, "text/plain", "application/octet-stream"):
        answer = await hookhub.admin.post("/events", content=EVENT, headers={"Content-Type": label})
        assert answer.status_code == 202, (label, answer.text)
        assert len(answer.json()["ids"]) == 1
    # A route whose body is a partial object (PATCH) too.
    hook = {"name": "h", "url": "http://127.0.0.1:9/"}
    created = await hookhub.admin.post("/webhooks", content=str(hook).replace("'", '"'))
    assert created.status_code == 201, created.text
    where = f"/webhooks/{created.json()['id']}"
    patched = await hookhub.admin.patch(
        where, content='{"timeout": 7}', headers={"Content-Type": FORM}
    )
    assert patched.status_code == 200 and patched.json()["timeout"] == 7


@on_sqlite
async def test_a_body_that_is_not_json_gets_415_naming_the_content_type(hookhub: Hookhub) -> None:
    answer = await hookhub.admin.post(
        "/events", content="object_type=dcim.device&event=updated", headers={"Content-Type": FORM}
    )
    assert answer.status_code == 415, answer.text
    error = answer.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in error["message"]
    # Labelled JSON and not JSON: 400, as before.
    broken = await hookhub.admin.post(
        "/events", content="{nope", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"


@on_sqlite
async def test_an_unknown_query_parameter_gets_400_naming_it(hookhub: Hookhub) -> None:
    answer = await hookhub.admin.get("/deliveries", params={"model": "x"})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "unknown_parameter" and error["field"] == "model"
    assert "'model'" in error["message"] and "webhook_id" in error["message"]
    # The token is checked first: without one, it is still a 401.
    anonymous = await hookhub.anonymous.get("/deliveries", params={"model": "x"})
    assert anonymous.status_code == 401
    # The declared ones, the shared ones (cursor, limit) included, still work.
    known = await hookhub.admin.get("/deliveries", params={"webhook_id": "wh_x", "limit": 5})
    assert known.status_code == 200, known.text


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


@on_sqlite
async def test_every_api_route_refuses_unknown_query_parameters(hookhub: Hookhub) -> None:
    """One mechanism for every route, including those added later: each is tried here."""
    schema = (await hookhub.admin.get(f"{hookhub.url}/openapi.json")).json()
    routes = [
        (method, path)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
    ]
    assert len(routes) > 20
    for method, path in routes:
        where = _concrete(path).removeprefix("/api/v1")
        answer = await hookhub.admin.request(method, where, params={"no_such_thing": "1"})
        assert answer.status_code == 400, (method, path, answer.text)
        assert answer.json()["error"]["field"] == "no_such_thing"
