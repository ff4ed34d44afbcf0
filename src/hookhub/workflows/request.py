"""A trigger request as data: body by content type, query as JSON, configured variables.

The raw body is kept byte-exact (signatures are checked over it, templates can read it); what a
run stores is `record()`, from which `context()` rebuilds exactly what templates saw.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from hookhub.core.paths import get_path, parse_query
from hookhub.errors import Refusal
from hookhub.outbound.rendering import MASK, mask_headers

JSON_TYPES = ("application/json",)
FORM_TYPE = "application/x-www-form-urlencoded"


# Not frozen: a frozen dataclass's __init__ costs ~1 µs more, and one is made per request.
@dataclass(slots=True)
class Received:
    """What arrived: header names lower-cased, the query string, the raw body, the client."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    raw: bytes
    client: str | None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def media_type(content_type: str) -> str:
    """`application/json` from `application/json; charset=utf-8`."""
    return content_type.partition(";")[0].strip().lower()


def is_json(content_type: str) -> bool:
    """JSON, or a JSON-based type such as application/vnd.api+json."""
    kind = media_type(content_type)
    return kind in JSON_TYPES or kind.endswith("+json")


def parse_body(content_type: str, raw: bytes, structured: bool = False) -> Any:
    """The body as JSON: parsed JSON, a form as JSON, other text as a string, empty as None.
    Without a Content-Type, a body that parses as JSON is JSON (some senders, such as SQLE,
    don't say).

    With `structured` (body paths are configured) only JSON and forms are accepted (415).
    """
    if not raw:
        return None
    if not content_type:
        with contextlib.suppress(orjson.JSONDecodeError):
            return orjson.loads(raw)
    if is_json(content_type):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise Refusal(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    if media_type(content_type) == FORM_TYPE:
        return parse_query(raw.decode("utf-8", errors="replace"))
    if structured:
        raise Refusal(
            415,
            "unsupported_media_type",
            "this trigger reads JSON body fields: send Content-Type application/json or "
            f"{FORM_TYPE}, not {media_type(content_type) or 'none'!r}",
        )
    return raw.decode("utf-8", errors="replace")


def variables(
    parse: Mapping[str, Any], headers: Mapping[str, str], query: Any, body: Any
) -> dict[str, Any]:
    """The configured headers, query and body paths, each under its alias (or name/path)."""
    found: dict[str, Any] = {}
    for field in parse["headers"]:
        found[field["alias"] or field["name"]] = headers.get(field["name"].lower())
    for field in parse["query"]:
        found[field["alias"] or field["path"]] = get_path(query, field["path"])
    for field in parse["body"]:
        found[field["alias"] or field["path"]] = get_path(body, field["path"])
    return found


def context(
    received: Received, parse: Mapping[str, Any], body: Any = None, parsed: bool = False
) -> dict[str, Any]:
    """What templates and conditions see of the request (`nodes` and `run` are added later)."""
    if not parsed:
        body = parse_body(received.content_type, received.raw, bool(parse["body"]))
    query = parse_query(received.query_string)
    return {
        "headers": received.headers,
        "query": query,
        "body": body,
        "vars": variables(parse, received.headers, query, body),
        "request": {
            "method": received.method,
            "path": received.path,
            "query_string": received.query_string,
            "content_type": received.content_type,
            "raw": received.raw.decode("utf-8", errors="replace"),
            "client": received.client,
        },
    }


def record(received: Received, secret_headers: tuple[str, ...] = ()) -> dict[str, Any]:
    """The stored form of a request: credential headers masked, the raw body byte-exact."""
    headers = mask_headers(received.headers)
    for name in secret_headers:
        if name in headers:
            headers[name] = MASK
    stored: dict[str, Any] = {
        "method": received.method,
        "path": received.path,
        "query_string": received.query_string,
        "headers": headers,
        "client": received.client,
    }
    try:
        stored["raw"] = received.raw.decode("utf-8")
    except UnicodeDecodeError:
        stored["raw_base64"] = base64.b64encode(received.raw).decode()
    return stored


def from_record(stored: Mapping[str, Any]) -> Received:
    """The request a run stored, as received (credential headers stay masked)."""
    if "raw_base64" in stored:
        raw = base64.b64decode(stored["raw_base64"])
    else:
        raw = str(stored.get("raw", "")).encode("utf-8")
    return Received(
        method=stored["method"],
        path=stored["path"],
        query_string=stored["query_string"],
        headers=dict(stored["headers"]),
        raw=raw,
        client=stored.get("client"),
    )
