"""API clients on httpx: `Client` (blocking) and `AsyncClient` (asyncio), with the same methods.

Each operation is described once in `hookhub.sdk.calls`; the `Operation` descriptor makes it a
method of both clients, returning the result on one and an awaitable of it on the other.
Errors the API answers with become `ApiError`, carrying its code, message and field; network
failures stay httpx's own exceptions (`httpx.TransportError`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, ParamSpec, TypeVar, overload

import httpx

from hookhub.errors import HookhubError
from hookhub.sdk import calls
from hookhub.sdk.calls import Call

P = ParamSpec("P")
T = TypeVar("T")
TIMEOUT = 10.0  # seconds per request, unless the caller gives its own


class ApiError(HookhubError):
    """The hookhub API refused a request; `status`, `code`, `message` and `field` say why."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message, field)
        self.status = status
        self.code = code

    def __str__(self) -> str:
        where = f" (field {self.field})" if self.field else ""
        return f"{self.status} {self.code}: {self.message}{where}"


def _result(call: Call[T], response: httpx.Response) -> T:
    """The call's value from a response, or the API's error raised as ApiError."""
    if response.is_success:
        return call.read(response.json() if response.content else None)
    try:
        error = response.json()["error"]
        raise ApiError(response.status_code, error["code"], error["message"], error.get("field"))
    except (ValueError, KeyError, TypeError):
        # Not hookhub's error body: a proxy or load balancer answered.
        raise ApiError(response.status_code, "http_error", response.text[:500]) from None


class Operation(Generic[P, T]):
    """A method of both clients, from a function describing the call."""

    def __init__(self, describe: Callable[P, Call[T]]) -> None:
        self.describe = describe
        self.__doc__ = describe.__doc__

    @overload
    def __get__(self, client: Client, owner: type | None = None) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, client: AsyncClient, owner: type | None = None
    ) -> Callable[P, Awaitable[T]]: ...
    @overload
    def __get__(self, client: None, owner: type | None = None) -> Operation[P, T]: ...

    def __get__(self, client: Any, owner: type | None = None) -> Any:
        if client is None:
            return self

        def method(*args: P.args, **kwargs: P.kwargs) -> Any:
            return client.send(self.describe(*args, **kwargs))

        method.__doc__ = self.__doc__
        method.__name__ = self.describe.__name__
        return method


class _Api:
    """The v1 operations, shared by both clients."""

    emit = Operation(calls.emit)
    emit_many = Operation(calls.emit_many)
    create_webhook = Operation(calls.webhooks.create)
    get_webhook = Operation(calls.webhooks.get)
    update_webhook = Operation(calls.webhooks.update)
    delete_webhook = Operation(calls.webhooks.delete)
    list_webhooks = Operation(calls.webhooks.list)
    test_webhook = Operation(calls.test_webhook)
    create_rule = Operation(calls.rules.create)
    get_rule = Operation(calls.rules.get)
    update_rule = Operation(calls.rules.update)
    delete_rule = Operation(calls.rules.delete)
    list_rules = Operation(calls.rules.list)
    create_workflow = Operation(calls.workflows.create)
    get_workflow = Operation(calls.workflows.get)
    update_workflow = Operation(calls.workflows.update)
    delete_workflow = Operation(calls.workflows.delete)
    list_workflows = Operation(calls.workflows.list)
    create_event_type = Operation(calls.event_types.create)
    get_event_type = Operation(calls.event_types.get)
    update_event_type = Operation(calls.event_types.update)
    delete_event_type = Operation(calls.event_types.delete)
    list_event_types = Operation(calls.event_types.list)
    create_tenant = Operation(calls.tenants.create)
    get_tenant = Operation(calls.tenants.get)
    update_tenant = Operation(calls.tenants.update)
    delete_tenant = Operation(calls.tenants.delete)
    list_tenants = Operation(calls.tenants.list)
    list_deliveries = Operation(calls.list_deliveries)
    get_delivery = Operation(calls.get_delivery)
    list_attempts = Operation(calls.list_attempts)
    retry_delivery = Operation(calls.retry_delivery)
    retry_failed = Operation(calls.retry_failed)
    replay = Operation(calls.replay)
    list_audit = Operation(calls.list_audit)
    create_portal_link = Operation(calls.create_portal_link)
    list_portal_links = Operation(calls.list_portal_links)
    revoke_portal_link = Operation(calls.revoke_portal_link)


def _settings(url: str, token: str, timeout: float) -> dict[str, Any]:
    return {
        "base_url": url.rstrip("/") + "/api/v1",
        "headers": {"Authorization": f"Bearer {token}"},
        "timeout": timeout,
    }


class Client(_Api):
    """hookhub's API at `url` (e.g. http://127.0.0.1:8000) with an API token; blocking.
    Use as a context manager, or `close()` it."""

    def __init__(self, url: str, token: str, *, timeout: float = TIMEOUT) -> None:
        self.http = httpx.Client(**_settings(url, token, timeout))

    def send(self, call: Call[T]) -> T:
        """Make one call (any `hookhub.sdk.calls` description) and return its result."""
        response = self.http.request(call.method, call.path, json=call.json, params=call.params)
        return _result(call, response)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_Api):
    """hookhub's API at `url` with an API token, for asyncio: every method is awaited.
    Use as an async context manager, or `await aclose()`."""

    def __init__(self, url: str, token: str, *, timeout: float = TIMEOUT) -> None:
        self.http = httpx.AsyncClient(**_settings(url, token, timeout))

    async def send(self, call: Call[T]) -> T:
        """Make one call (any `hookhub.sdk.calls` description) and return its result."""
        response = await self.http.request(
            call.method, call.path, json=call.json, params=call.params
        )
        return _result(call, response)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
