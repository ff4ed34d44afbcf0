"""The OpenAPI document says what the API answers: every error status a route can give, with
the error body; 405s list the methods the path really has; health and metrics as they are."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hookhub.api.app import create_app
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
            expected |= {"400", "413", "422"}
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
