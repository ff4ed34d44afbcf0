"""API routes that parse JSON bodies with orjson, the parser the storage layer uses.

The standard parser accepts what the database can't store (integers beyond 64 bits, NaN), which
would surface as a 500 at write time; orjson refuses NaN with a 400 and reads huge integers as
floats, the way JavaScript and most JSON consumers do.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response


class _Request(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class JSONRoute(APIRoute):
    """An APIRoute whose request bodies are decoded by orjson."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given a request that decodes JSON with orjson."""
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(_Request(request.scope, request.receive))

        return route
