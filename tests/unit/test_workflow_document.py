"""The workflow document: defaults, graph rules, and credential masking."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from hookhub.errors import ValidationError
from hookhub.outbound.rendering import MASK
from hookhub.workflows.document import validate_workflow
from hookhub.workflows.engine import CompiledWorkflow
from hookhub.workflows.secrets import masked, unmasked


def _doc(*nodes: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": "w", "start": nodes[0]["id"], "nodes": list(nodes), **fields}


def test_defaults_are_filled_in() -> None:
    doc = validate_workflow(_doc({"id": "r", "type": "response"}))
    assert doc["trigger"]["methods"] == ["POST"]
    assert doc["trigger"]["mode"] == "async"
    assert doc["trigger"]["response"] == {"status": 200, "headers": {}, "body": "ok"}
    assert doc["trigger"]["timeout"] == 30.0
    assert doc["nodes"] == [
        {"id": "r", "type": "response", "status": 200, "headers": {}, "body": ""}
    ]


def test_condition_branches_and_header_lines() -> None:
    doc = validate_workflow(
        _doc(
            {"id": "c", "type": "condition", "expression": "vars.x", "then": "a", "else": "b"},
            {"id": "a", "type": "request", "url": "http://x", "headers": "X-A: 1\nX-B: {{ 2 }}"},
            {"id": "b", "type": "request", "url": "http://x", "next": "a"},
        )
    )
    assert doc["nodes"][0]["else"] == "b"
    assert doc["nodes"][1]["headers"] == {"X-A": "1", "X-B": "{{ 2 }}"}
    workflow = CompiledWorkflow(doc)
    assert list(workflow.nodes) == ["c", "a", "b"]


@pytest.mark.parametrize(
    ("nodes", "field"),
    [
        ([{"id": "a", "type": "set", "values": {"x": "1"}, "next": "a"}], "nodes.a.next"),
        ([{"id": "a", "type": "request"}], "nodes.a.url"),
        ([{"id": "a", "type": "request", "url": "u", "timeout": 999}], "nodes.a.timeout"),
        ([{"id": "a b", "type": "response"}], "nodes.a b.id"),
        ([{"id": "a", "type": "response", "status": 99}], "nodes.a.status"),
        ([{"id": "a", "type": "response", "extra": 1}], "nodes.a.extra"),
        ([{"type": "response"}], "nodes.0.id"),
    ],
)
def test_node_errors_name_the_node(nodes: list[dict[str, Any]], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_workflow({"name": "w", "start": "a", "nodes": nodes})
    assert caught.value.field == field


def test_compiling_refuses_bad_templates_naming_the_node() -> None:
    doc = validate_workflow(_doc({"id": "e", "type": "emit", "object_type": "t", "event": "{%"}))
    with pytest.raises(ValidationError) as caught:
        CompiledWorkflow(doc)
    assert caught.value.field == "nodes.e.event"
    assert caught.value.message.startswith("node 'e': event: template syntax error")


def test_trigger_fields_are_checked() -> None:
    node = {"id": "r", "type": "response"}
    bad_triggers = [
        {"ip_allowlist": ["10.0.0.0/33"]},
        {"cors_origins": ["app.example.com"]},
        {"methods": []},
        {"auth": {"type": "hmac", "scheme": "paypal", "secret": "s"}},
        {"parse": {"body": [{"path": "a[]"}]}},
        {"dedupe": {"header": "X-Id", "window": 0}},
    ]
    for trigger in bad_triggers:
        with pytest.raises(pydantic.ValidationError):
            validate_workflow(_doc(node, trigger=trigger))
    with pytest.raises(ValidationError) as caught:
        validate_workflow(_doc(node, trigger={"filter": {"conditions": {"attr": 1}}}))
    assert caught.value.field is not None
    assert caught.value.field.startswith("trigger.filter")


def test_masking_round_trip() -> None:
    doc = validate_workflow(
        _doc(
            {
                "id": "call",
                "type": "request",
                "url": "http://u:pw@x/{{ vars.id }}?token=q&n=1",
                "headers": {"X-Api-Key": "k", "Accept": "json"},
                "cookies": {"sid": "c"},
                "auth": {"type": "bearer", "token": "t"},
                "secret": "s",
            },
            trigger={"auth": {"type": "header", "name": "X-Token", "value": "v"}},
        )
    )
    shown = masked(doc)
    node = shown["nodes"][0]
    assert shown["trigger"]["auth"]["value"] == MASK
    assert node["headers"] == {"X-Api-Key": MASK, "Accept": "json"}
    assert (node["cookies"], node["auth"]["token"], node["secret"]) == ({"sid": MASK}, MASK, MASK)
    assert node["url"] == f"http://u:{MASK}@x/{{{{ vars.id }}}}?token={MASK}&n=1"
    assert doc["nodes"][0]["secret"] == "s"
    assert unmasked(shown, doc) == doc
    renamed = {**shown, "nodes": [{**node, "id": "other"}], "start": "other"}
    with pytest.raises(ValidationError):
        unmasked(renamed, doc)


def test_compiling_refuses_templates_that_break_a_limit_naming_the_node() -> None:
    doc = _doc({"id": "s", "type": "set", "values": {"x": "{{ 'x' * 10**9 }}"}})
    with pytest.raises(ValidationError) as caught:
        CompiledWorkflow(validate_workflow(doc))
    assert caught.value.field == "nodes.s.values.x"
    assert "HOOKHUB_TEMPLATE_MAX_OUTPUT" in caught.value.message
