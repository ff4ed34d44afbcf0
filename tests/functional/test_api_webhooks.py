"""The webhooks and rules API: auth, validation, masking, CRUD, pagination."""

from __future__ import annotations

from typing import Any

from hookhub.db.store import Store
from hookhub.db.tables import webhooks
from tests.conftest import Hookhub

WEBHOOK = {
    "name": "monitoring",
    "url": "http://127.0.0.1:9/{{ event }}",
    "headers": "X-Device: {{ data.name }}\nX-Api-Key: k-123",
    "body_template": '{"name": {{ data.name | tojson }}}',
    "secret": "s3cret",
    "timeout": 2.5,
    "auth": {"type": "basic", "username": "u", "password": "p4ss"},
    "cookies": {"session": "abc"},
    "ssl_verification": False,
    "retry": {"max_attempts": 3, "strategy": "fixed", "interval": 1},
}


async def _create(hookhub: Hookhub, **changes: Any) -> dict[str, Any]:
    response = await hookhub.admin.post("/webhooks", json={**WEBHOOK, **changes})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_api_needs_a_token_and_enough_scope(hookhub: Hookhub) -> None:
    missing = await hookhub.anonymous.get("/webhooks")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"]["code"] == "unauthorized"
    wrong = await hookhub.anonymous.get("/webhooks", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert (await hookhub.reader.get("/webhooks")).status_code == 200
    refused = await hookhub.reader.post("/webhooks", json=WEBHOOK)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"


async def test_create_returns_every_field_with_secrets_masked(
    hookhub: Hookhub, store: Store
) -> None:
    created = await _create(hookhub)
    assert created["id"].startswith("wh_")
    assert created["method"] == "POST"
    assert created["content_type"] == "application/json"
    assert created["timeout"] == 2.5
    assert created["ssl_verification"] is False
    assert created["enabled"] is True
    assert created["secret"] == "********"
    assert created["auth"] == {"type": "basic", "username": "u", "password": "********"}
    assert created["cookies"] == {"session": "********"}
    assert created["headers"] == "X-Device: {{ data.name }}\nX-Api-Key: ********"
    assert created["retry"]["max_attempts"] == 3
    assert created["retry"]["strategy"] == "fixed"
    assert "p4ss" not in str(created) and "s3cret" not in str(created)
    stored = await store.get(webhooks, created["id"])
    assert stored["secret"] == "s3cret"
    fetched = await hookhub.reader.get(f"/webhooks/{created['id']}")
    assert fetched.json() == created


async def test_patch_with_masked_values_keeps_the_stored_secrets(
    hookhub: Hookhub, store: Store
) -> None:
    created = await _create(hookhub)
    response = await hookhub.admin.patch(
        f"/webhooks/{created['id']}",
        json={
            "secret": created["secret"],
            "auth": created["auth"],
            "cookies": created["cookies"],
            "headers": created["headers"],
            "timeout": 9,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["timeout"] == 9
    assert response.json()["version"] == 2
    stored = await store.get(webhooks, created["id"])
    assert stored["secret"] == "s3cret"
    assert stored["auth"]["password"] == "p4ss"
    assert stored["cookies"] == {"session": "abc"}
    assert stored["headers"] == "X-Device: {{ data.name }}\nX-Api-Key: k-123"


async def test_invalid_fields_are_refused_naming_the_field(hookhub: Hookhub) -> None:
    cases = [
        ({"timeout": 0.1}, "timeout"),
        ({"timeout": 121}, "timeout"),
        ({"method": "TRACE"}, "method"),
        ({"body_template": "{{ data.name "}, "body_template"),
        ({"url": "http://x/{% if %}"}, "url"),
        ({"headers": "X-A: {{ }"}, "headers"),
        ({"ca_file_path": "/nonexistent/ca.pem"}, "ca_file_path"),
        ({"preset": "sqle"}, "preset"),
        ({"retry": {"max_attempts": -1}}, "retry.max_attempts"),
        ({"unknown_field": 1}, "unknown_field"),
    ]
    for change, field in cases:
        response = await hookhub.admin.post("/webhooks", json={**WEBHOOK, **change})
        assert response.status_code == 422, (change, response.text)
        error = response.json()["error"]
        assert error["field"] == field, (change, error)
        assert error["message"]
    syntax = await hookhub.admin.post("/webhooks", json={**WEBHOOK, "body_template": "{{ x "})
    assert "line 1" in syntax.json()["error"]["message"]
    bad_patch = await hookhub.admin.patch(
        f"/webhooks/{(await _create(hookhub))['id']}", json={"timeout": 500}
    )
    assert bad_patch.status_code == 422
    assert bad_patch.json()["error"]["field"] == "timeout"


async def test_malformed_json_is_a_400(hookhub: Hookhub) -> None:
    response = await hookhub.admin.post(
        "/webhooks", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


async def test_names_are_unique_and_delete_works(hookhub: Hookhub) -> None:
    created = await _create(hookhub)
    clash = await hookhub.admin.post("/webhooks", json=WEBHOOK)
    assert clash.status_code == 409
    assert clash.json()["error"]["field"] == "name"
    assert (await hookhub.admin.delete(f"/webhooks/{created['id']}")).status_code == 204
    gone = await hookhub.admin.get(f"/webhooks/{created['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"


async def test_lists_page_with_a_cursor(hookhub: Hookhub) -> None:
    ids = [(await _create(hookhub, name=f"w{i}"))["id"] for i in range(5)]
    first = (await hookhub.reader.get("/webhooks", params={"limit": 2})).json()
    assert [w["id"] for w in first["items"]] == ids[::-1][:2]
    second = (
        await hookhub.reader.get("/webhooks", params={"limit": 2, "cursor": first["next"]})
    ).json()
    third = (
        await hookhub.reader.get("/webhooks", params={"limit": 2, "cursor": second["next"]})
    ).json()
    assert [w["id"] for w in second["items"] + third["items"]] == ids[::-1][2:]
    assert third["next"] is None


async def test_rules_validate_conditions_and_webhook(hookhub: Hookhub) -> None:
    webhook = await _create(hookhub)
    rule = {
        "name": "active devices",
        "object_types": ["dcim.device"],
        "event_types": ["created", "updated"],
        "conditions": {"and": [{"attr": "status.value", "value": "active"}]},
        "webhook_id": webhook["id"],
    }
    created = await hookhub.admin.post("/rules", json=rule)
    assert created.status_code == 201, created.text
    assert created.json()["enabled"] is True
    bad_op = {"and": [{"attr": "status.value", "value": "active", "op": "equals"}]}
    refused = await hookhub.admin.post("/rules", json={**rule, "name": "x", "conditions": bad_op})
    assert refused.status_code == 422
    assert "equals" in refused.json()["error"]["message"]
    assert refused.json()["error"]["field"].startswith("conditions")
    unknown = await hookhub.admin.post("/rules", json={**rule, "name": "y", "webhook_id": "wh_x"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "webhook_id"
    rule_id = created.json()["id"]
    patched = await hookhub.admin.patch(f"/rules/{rule_id}", json={"enabled": False})
    assert patched.json()["enabled"] is False
    assert (await hookhub.admin.delete(f"/rules/{rule_id}")).status_code == 204


async def test_not_found_messages_name_the_resource(hookhub: Hookhub) -> None:
    missing = await hookhub.reader.get("/deliveries/dlv_x/attempts")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no delivery with id 'dlv_x'"


async def test_json_the_database_cannot_store_is_refused_or_read_as_floats(
    hookhub: Hookhub,
) -> None:
    nan = await hookhub.admin.post(
        "/events",
        content=b'{"object_type": "x", "event": "y", "data": NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert nan.status_code == 400
    assert nan.json()["error"]["code"] == "invalid_json"
    huge = await hookhub.admin.post(
        "/events",
        content=b'{"object_type": "x", "event": "y", "data": {"n": 1234567890123456789012345}}',
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 202


async def test_errors_in_tagged_fields_name_the_field_as_sent(hookhub: Hookhub) -> None:
    """The `type` of `auth` picks its model; the error names the field the user wrote."""
    body = {"name": "x", "url": "http://127.0.0.1:9/", "auth": {"type": "oauth2", "client_id": "c"}}
    response = await hookhub.admin.post("/webhooks", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["field"], error["message"]) == (
        "auth.token_url",
        "auth.token_url: Field required",
    )
