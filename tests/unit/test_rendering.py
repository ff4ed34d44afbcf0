"""From webhook and event to the exact request: context, presets, headers, credentials."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from hookhub.core.templates import RenderError
from hookhub.db.records import StoredEvent
from hookhub.errors import ValidationError
from hookhub.outbound.rendering import CompiledWebhook, check_templates, mask_headers

EVENT = {
    "id": "evt_1",
    "object_type": "sqle.workflow",
    "event": "workflow.approve",
    "timestamp": "2023-05-18T07:45:25.123456+00:00",
    "username": "admin",
    "request_id": "r1",
    "data": {"id": "job-1", "status": "done", "result": "ok", "name": "wf"},
    "snapshots": None,
}
STORED = StoredEvent.from_row(EVENT)  # as a claim hands it to the dispatcher


def _webhook(**row: Any) -> CompiledWebhook:
    defaults = {
        "id": "wh_1",
        "name": "w",
        "version": 1,
        "url": "http://127.0.0.1/",
        "method": "POST",
        "content_type": "application/json",
        "headers": "",
        "body_template": None,
        "preset": None,
        "secret": None,
        "timeout": 5.0,
        "ssl_verification": True,
        "ca_file_path": None,
        "auth": None,
        "cookies": None,
        "retry": {},
    }
    return CompiledWebhook.from_row({**defaults, **row})


def _body(**row: Any) -> Any:
    return orjson.loads(_webhook(**row).prepare(STORED, "dlv_1", 1).body)


def test_default_body_is_the_netbox_context() -> None:
    body = _body()
    assert body["event"] == "workflow.approve"
    assert body["model"] == body["object_type"] == "sqle.workflow"
    assert body["delivery_id"] == "dlv_1"
    assert body["webhook"] == "w"
    assert body == _body(preset="netbox")


def test_presets() -> None:
    assert _body(preset="sqle") == {
        "event": "sqle.workflow",
        "action": "approve",
        "timestamp": "2023-05-18T07:45:25+00:00",
        "payload": EVENT["data"],
    }
    job = _body(preset="job")
    assert (job["id"], job["status"], job["result"]) == ("job-1", "done", "ok")
    assert _body(preset="standard") == {
        "type": "workflow.approve",
        "timestamp": "2023-05-18T07:45:25+00:00",
        "data": EVENT["data"],
    }


def test_credentials_and_signature_headers() -> None:
    basic = _webhook(auth={"type": "basic", "username": "u", "password": "p"}, secret="s")
    request = basic.prepare(STORED, "dlv_1", 1700000000)
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert request.headers["webhook-id"] == "dlv_1"
    assert request.headers["webhook-timestamp"] == "1700000000"
    assert request.headers["webhook-signature"].startswith("v1,")
    assert len(request.headers["X-Hook-Signature"]) == 128
    unsigned = _webhook().prepare(STORED, "dlv_1", 1)
    assert "X-Hook-Signature" not in unsigned.headers
    assert "webhook-signature" not in unsigned.headers


def test_header_lines_are_checked_when_saved() -> None:
    with pytest.raises(ValidationError) as caught:
        check_templates({"url": "http://x", "headers": "X-Ok: 1\nno colon here"})
    assert caught.value.field == "headers"
    assert "line 2" in caught.value.message
    check_templates({"url": "http://x", "headers": "X-A: {{ data.id }}\n\nX-B: b"})


def test_render_errors_name_the_field() -> None:
    with pytest.raises(RenderError, match="url"):
        _webhook(url="{{ ''.__class__ }}").prepare(STORED, "dlv_1", 1)


def test_sensitive_headers_are_masked() -> None:
    masked = mask_headers({"Authorization": "Bearer x", "X-Api-Key": "k", "Cookie": "c", "A": "b"})
    assert masked == {
        "Authorization": "********",
        "X-Api-Key": "********",
        "Cookie": "********",
        "A": "b",
    }


def test_template_errors_reports_every_field_at_once() -> None:
    from hookhub.outbound.rendering import template_errors

    found = template_errors(
        {"url": "https://x/{{ a", "headers": "no colon", "body_template": "{% if %}", "x": 1}
    )
    assert set(found) == {"url", "headers", "body_template"}
    assert found["headers"].startswith("line 1:")
    assert template_errors({"url": "https://x/{{ data.id }}", "body_template": None}) == {}


def test_template_warnings_name_what_no_event_defines() -> None:
    from hookhub.outbound.rendering import template_warnings

    found = template_warnings(
        {
            "url": "https://x/{{ data.id }}/{{ range(2)|list|length }}",
            "headers": "X-User: {{ usr.name }}",
            "body_template": "{% set n = 1 %}{{ n }} {{ snapshots }} {{ webhok }}",
        }
    )
    assert set(found) == {"headers", "body_template"}
    assert found["headers"].startswith("reads usr, which no event defines")
    assert "reads webhok," in found["body_template"] and "webhook" in found["body_template"]
