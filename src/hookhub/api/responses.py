"""JSON responses serialized with orjson (bodies are built as plain dicts on every request)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class JSON(JSONResponse):
    """A JSON response rendered by orjson."""

    def render(self, content: Any) -> bytes:
        """Serialize `content`; unknown types fall back to their string form."""
        return orjson.dumps(content, default=str)
