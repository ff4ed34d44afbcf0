"""The OpenAPI document says what the API answers: every error status a route can give, with
the error body; 405s list the methods the path really has; health and metrics as they are."""

from __future__ import annotations

from typing import Any

import httpx
import pydantic
import pytest

from hookhub.app import create_app
from hookhub.settings import Settings

ERROR = {"$ref": "#/components/schemas/Error"}


@pytest.fixture
async def client() -> Any:
    # Neither the schema nor a 405 needs the database: the lifespan is not run.
    app = create_app(Settings(database_url="sqlite://"), workers=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hookhub") as client:
        yield client


async def _schema(client: httpx.AsyncClient) -> dict[str, Any]:
    schema: dict[str, Any] = (await client.get("/openapi.json")).json()
    return schema


async def test_every_error_answer_is_documented_with_the_error_body(
    client: httpx.AsyncClient,
) -> None:
    schema = await _schema(client)
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
    ]
    assert len(operations) > 25
    for path, method, operation in operations:
        responses = operation["responses"]
        expected = {"401", "503"}
        if "{" in path:
            expected |= {"404", "422"}
        if "requestBody" in operation:
            expected |= {"400", "413", "415", "422"}
        if method != "get" and not path.endswith("/parse-sample"):
            expected.add("403")
        assert expected <= set(responses), (method, path, sorted(responses))
        assert operation["security"] == [{"HTTPBearer": []}]
        for status, response in responses.items():
            if status >= "400":
                assert response["content"]["application/json"]["schema"] == ERROR, status
    conflicts = {(p, m) for p, m, o in operations if "409" in o["responses"]}
    assert ("/api/v1/webhooks", "post") in conflicts
    assert ("/api/v1/workflows/{workflow_id}", "patch") in conflicts
    assert ("/api/v1/deliveries/{delivery_id}/retry", "post") in conflicts
    assert ("/api/v1/webhooks", "get") not in conflicts


async def test_health_and_metrics_are_documented_as_what_they_return(
    client: httpx.AsyncClient,
) -> None:
    paths = (await _schema(client))["paths"]
    assert set(paths["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    ready = paths["/readyz"]["get"]["responses"]
    assert set(ready) == {"200", "503"}
    assert ready["503"]["content"]["application/json"]["schema"]["$ref"].endswith("Readiness")
    alive = paths["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]
    assert alive["schema"]["$ref"].endswith("Alive")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/api/v1/webhooks/wh_1", "DELETE, GET, PATCH"),
        ("PUT", "/api/v1/webhooks", "GET, POST"),
        ("OPTIONS", "/api/v1/workflows/wf_1", "DELETE, GET, PATCH"),
        # A literal path beside a parameter (`/workflows/{workflow_id}`) has only its own.
        ("PUT", "/api/v1/workflows/parse-sample", "POST"),
        ("DELETE", "/metrics", "GET"),
    ],
)
async def test_a_405_allows_every_method_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("component", "body", "valid"),
    [
        ("WebhookIn", {"name": "a", "url": "https://example.com/hook"}, True),
        ("WebhookIn", {"name": "a", "url": "{{ data.callback }}"}, True),
        ("WebhookIn", {"name": "a", "url": "0"}, False),
        ("WebhookIn", {"name": "a", "url": "https://x", "failure_window": False}, False),
        ("WebhookIn", {"name": "a", "url": "https://x", "timeout": "5"}, False),
        ("WebhookIn", {"name": "a", "url": "https://x", "enabled": "yes"}, False),
        (
            "WebhookIn",
            {"name": "a", "url": "https://x", "preset": "job", "body_template": "{}"},
            False,
        ),
        (
            "WebhookIn",
            {"name": "a", "url": "https://x", "preset": "job", "body_template": None},
            True,
        ),
        ("WebhookPatch", {}, True),
        ("WebhookPatch", {"timeout": 10}, True),
        ("WebhookPatch", {"retry": {"max_attempts": True}}, False),
        ("WebhookPatch", {"id": "wh_1"}, False),
        ("RulePatch", {"enabled": 0}, False),
        ("Sample", {"url": "a=1"}, True),
        ("Sample", {"json": None}, True),
        ("Sample", {}, False),
        ("Sample", {"url": "a=1", "json": {}}, False),
        ("ReplayIn", {"since": "2026-12-01T00:00:00Z"}, True),
        ("ReplayIn", {"since": 0}, False),
        ("ConditionNode", {"id": "c", "type": "condition", "expression": "{{ x }}"}, True),
        ("ConditionNode", {"id": "c", "type": "condition"}, False),
        ("SetNode", {"id": "s", "type": "set", "values": {"0": "x"}}, False),
    ],
)
async def test_the_schema_refuses_what_the_api_refuses(
    client: httpx.AsyncClient, component: str, body: dict[str, Any], valid: bool
) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    from hookhub.api.v1 import rules, webhooks, workflows
    from hookhub.api.v1.operations import ReplayIn
    from hookhub.workflows import document

    schema = await _schema(client)
    validator = jsonschema_rs.Draft202012Validator(
        {**schema, "$ref": f"#/components/schemas/{component}"}
    )
    assert validator.is_valid(body) is valid
    models = {
        "WebhookIn": webhooks.WebhookIn,
        "WebhookPatch": webhooks.WebhookPatch,
        "RulePatch": rules.RulePatch,
        "Sample": workflows.Sample,
        "ReplayIn": ReplayIn,
        "ConditionNode": document.ConditionNode,
        "SetNode": document.SetNode,
    }
    model = models[component]
    try:
        model.model_validate(body)
    except pydantic.ValidationError:
        accepted = False
    else:
        accepted = True
    if component == "Sample":  # one of the two: checked by the endpoint
        accepted = accepted and len(body) == 1
    if component == "ConditionNode":  # conditions or expression: checked with the graph
        accepted = accepted and ("conditions" in body) != ("expression" in body)
    if component == "WebhookIn" and body.get("preset") and body.get("body_template"):
        accepted = False  # checked when saved
    assert accepted is valid
