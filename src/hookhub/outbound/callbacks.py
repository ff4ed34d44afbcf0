"""Callback webhooks (DESIGN O12): a per-request `webhook` object and the callers that send it.

A request that starts asynchronous work may carry `webhook: {name, url, method, headers,
cookies, auth, timeout, secret}` (NetPulse's object, whose `auth` is a `[user, password]`
list, is accepted as it is). When the work succeeds or fails, the caller named by `name` turns
the payload into the exact request, signed like deliveries when the object has a `secret`.
The payload convention is

    {"id": <the caller's job id, else the run id>, "run_id": <the run id>,
     "status": "succeeded" | "failed", "result": <any JSON; the error text on failure>, ...}

and a caller may reshape it (a chat plugin might send `{"text": ...}`). `basic` is built in;
more callers are classes registered in the entry point group `hookhub.callers`.
"""

from __future__ import annotations

import functools
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson

from hookhub.core.signing import check_secret
from hookhub.errors import ValidationError
from hookhub.outbound.client import OutboundRequest
from hookhub.outbound.rendering import HEADER_NAME, credential_headers, signature_headers

log = logging.getLogger("hookhub.callbacks")

ENTRY_POINT_GROUP = "hookhub.callers"
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
MIN_TIMEOUT = 0.5  # seconds
MAX_TIMEOUT = 120.0  # seconds
DEFAULT_TIMEOUT = 5.0  # seconds
MAX_URL_LENGTH = 4096  # characters, as for webhooks
KEYS = frozenset({"name", "url", "method", "headers", "cookies", "auth", "timeout", "secret"})
# Where the caller's own job id travels with a callback spec (set by hookhub, never by callers:
# it is not one of KEYS).
JOB_ID = "job_id"
MAX_JOB_ID = 200  # characters of a caller's job id
# Framing headers come from the body; a user's value would corrupt the request on the wire.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})


class Caller(ABC):
    """How a callback is sent: subclass it, set `name`, implement `build` (docs/callbacks.md).

    Register the class under its `name` in your distribution's pyproject.toml, in
    `[project.entry-points."hookhub.callers"]`: `shout = "my_package:ShoutCaller"`.
    Every `spec` a caller sees has been through `validate_callback`: all keys present.
    """

    name: ClassVar[str]
    # Extra keys this caller accepts in the `webhook` object; checked by `validate`.
    options: ClassVar[frozenset[str]] = frozenset()

    def validate(self, spec: Mapping[str, Any]) -> None:
        """Check this caller's `options` in a normalized spec; raise ValidationError if bad.

        The default accepts: a caller without options has nothing of its own to check.
        """
        return None

    @abstractmethod
    def build(
        self, spec: Mapping[str, Any], payload: Mapping[str, Any], delivery_id: str, now: float
    ) -> OutboundRequest:
        """The exact request for `payload`, sent as delivery `delivery_id` at `now` (epoch s)."""

    def request(
        self,
        spec: Mapping[str, Any],
        body: bytes,
        delivery_id: str,
        now: float,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
    ) -> OutboundRequest:
        """A request to the spec's URL (or `url`) carrying `body`, for callers to build on.

        Headers, later names winning: `headers`, the spec's headers, its cookies and auth,
        then `webhook-id`/`webhook-timestamp` so receivers can deduplicate, and with the spec's
        `secret` both signature schemes' headers, as deliveries have them.
        """
        merged = _merge(
            headers or {},
            spec["headers"],
            credential_headers(spec["auth"], spec["cookies"]),
            # Specs stored before `secret` existed have no such key.
            signature_headers(spec.get("secret"), delivery_id, body, int(now)),
        )
        return OutboundRequest(
            url=url or spec["url"],
            method=spec["method"],
            headers=merged,
            body=body,
            timeout=spec["timeout"],
        )


class BasicCaller(Caller):
    """The payload as JSON; with GET, its top-level scalar fields as query parameters instead."""

    name = "basic"

    def build(
        self, spec: Mapping[str, Any], payload: Mapping[str, Any], delivery_id: str, now: float
    ) -> OutboundRequest:
        if spec["method"] == "GET":
            url = _with_query(spec["url"], _query_params(payload))
            return self.request(spec, b"", delivery_id, now, url=url)
        body = orjson.dumps(payload, default=str)
        headers = {"Content-Type": "application/json"}
        return self.request(spec, body, delivery_id, now, headers=headers)


@functools.cache
def callers() -> dict[str, Caller]:
    """`basic` and every loadable plugin of the `hookhub.callers` group, by name (cached)."""
    found: dict[str, Caller] = {BasicCaller.name: BasicCaller()}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        caller = _load(entry)
        if caller is None:
            continue
        if caller.name in found:
            log.error(
                "caller plugin %s skipped: the name %r is already taken by %s",
                _describe(entry),
                caller.name,
                type(found[caller.name]).__qualname__,
            )
            continue
        found[caller.name] = caller
    return found


def caller_for(spec: Mapping[str, Any]) -> Caller:
    """The caller named by a spec (`basic` when unnamed); ValidationError if there is none."""
    name = spec.get("name")
    if name is None:
        name = BasicCaller.name
    known = callers()
    if not isinstance(name, str) or name not in known:
        raise ValidationError(
            f"unknown caller {name!r}; known callers: {', '.join(sorted(known))}",
            field="webhook.name",
        )
    return known[name]


def looks_like_callback(value: Any) -> bool:
    """Whether a request's `webhook` value is a callback object (NetPulse's shape: a `url` and
    only the keys of callbacks, a plugin caller's options included), not some other data that
    happens to be called `webhook`."""
    if not isinstance(value, Mapping) or not isinstance(value.get("url"), str):
        return False
    if all(key in KEYS for key in value):
        return True
    name = value.get("name") or BasicCaller.name
    caller = callers().get(name) if isinstance(name, str) else None
    return caller is not None and all(key in KEYS | caller.options for key in value)


def validate_callback(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A checked copy of a `webhook` object with defaults filled in; ValidationError if bad.

    A null value means the default.
    """
    if not isinstance(spec, Mapping):
        raise ValidationError(
            f"webhook must be an object, got {type(spec).__name__}", field="webhook"
        )
    caller = caller_for(spec)
    unknown = sorted(str(key) for key in spec if key not in KEYS | caller.options)
    if unknown:
        allowed = ", ".join(sorted(KEYS | caller.options))
        raise ValidationError(
            f"unknown key {unknown[0]!r}; the {caller.name!r} caller accepts: {allowed}",
            field=f"webhook.{unknown[0]}",
        )
    normalized: dict[str, Any] = {
        "name": caller.name,
        "url": _url(spec.get("url")),
        "method": _method(spec.get("method")),
        "headers": _headers(spec.get("headers")),
        "cookies": _cookies(spec.get("cookies")),
        "auth": _auth(spec.get("auth")),
        "timeout": _timeout(spec.get("timeout")),
        "secret": _secret(spec.get("secret")),
    }
    normalized.update({key: spec[key] for key in caller.options if key in spec})
    try:
        caller.validate(normalized)
    except ValidationError as exc:
        raise ValidationError(exc.message, field=exc.field or "webhook") from None
    return normalized


def job_id(body: Mapping[str, Any]) -> str | int | float | None:
    """The caller's own job id in a request that carries a callback: its top-level `id`, a
    string or a number, sent back as the callback's `id` (ValidationError if it is neither)."""
    value = body.get("id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValidationError(
            f"id (the job id a callback carries) must be a string or a number, got "
            f"{type(value).__name__}",
            field="id",
        )
    if isinstance(value, str) and not 0 < len(value) <= MAX_JOB_ID:
        raise ValidationError(f"id must have 1 to {MAX_JOB_ID} characters", field="id")
    return value


def payload(
    spec: Mapping[str, Any],
    run_id: str,
    status: str,
    result: Any,
    error: str | None,
    **extra: Any,
) -> dict[str, Any]:
    """The payload of a callback (module docstring): `id` is the caller's job id when it gave
    one (`spec[JOB_ID]`), with `run_id` beside it; `result` is the error text on failure."""
    job = spec.get(JOB_ID)
    return {
        "id": run_id if job is None else job,
        "run_id": run_id,
        "status": status,
        "result": error if status == "failed" else result,
        **extra,
        "error": error,
    }


def _load(entry: EntryPoint) -> Caller | None:
    # A plugin is arbitrary code: whatever it raises is logged and the plugin skipped.
    try:
        loaded = entry.load()
    except Exception:
        log.exception("caller plugin %s skipped: it failed to load", _describe(entry))
        return None
    if not (isinstance(loaded, type) and issubclass(loaded, Caller)):
        log.error(
            "caller plugin %s skipped: %r is not a subclass of hookhub.outbound.callbacks.Caller",
            _describe(entry),
            loaded,
        )
        return None
    if getattr(loaded, "name", None) != entry.name:
        log.error(
            "caller plugin %s skipped: the entry point name %r differs from %s.name = %r",
            _describe(entry),
            entry.name,
            loaded.__qualname__,
            getattr(loaded, "name", None),
        )
        return None
    try:
        return loaded()
    except Exception:
        log.exception("caller plugin %s skipped: it could not be instantiated", _describe(entry))
        return None


def _describe(entry: EntryPoint) -> str:
    dist = entry.dist
    origin = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
    return f"{entry.name!r} ({entry.value}, from {origin})"


def _merge(*parts: Mapping[str, str]) -> dict[str, str]:
    # Header names are case-insensitive: a later `content-type` replaces `Content-Type`.
    merged: dict[str, str] = {}
    for part in parts:
        for name, value in part.items():
            for existing in [k for k in merged if k.lower() == name.lower()]:
                del merged[existing]
            merged[name] = value
    return merged


def _query_params(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    params = []
    for key, value in payload.items():
        if isinstance(value, bool):
            params.append((str(key), "true" if value else "false"))
        elif value is None:
            params.append((str(key), ""))
        elif isinstance(value, str | int | float):
            params.append((str(key), str(value)))
    return params


def _with_query(url: str, params: list[tuple[str, str]]) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def _url(value: Any) -> str:
    if value is None or value == "":
        raise ValidationError("url is required", field="webhook.url")
    if not isinstance(value, str):
        raise ValidationError(
            f"url must be a string, got {type(value).__name__}", field="webhook.url"
        )
    # Checked before parsing: urlsplit silently drops tabs and line breaks.
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValidationError("url must not contain whitespace", field="webhook.url")
    if len(value) > MAX_URL_LENGTH:
        raise ValidationError(
            f"url is longer than {MAX_URL_LENGTH} characters", field="webhook.url"
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise ValidationError(f"url is not valid: {exc}", field="webhook.url") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValidationError(
            f"url must be an absolute http:// or https:// URL, got {value[:80]!r}",
            field="webhook.url",
        )
    return value


def _method(value: Any) -> str:
    if value is None:
        return "POST"
    if not isinstance(value, str) or value.upper() not in METHODS:
        raise ValidationError(
            f"method must be one of {', '.join(METHODS)}, got {value!r}", field="webhook.method"
        )
    return value.upper()


def _string_map(value: Any, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{key} must be an object of names to strings, got {type(value).__name__}",
            field=f"webhook.{key}",
        )
    for name, item in value.items():
        if not isinstance(name, str) or not HEADER_NAME.fullmatch(name):
            raise ValidationError(f"{key}: invalid name {name!r:.80}", field=f"webhook.{key}")
        if not isinstance(item, str):
            raise ValidationError(
                f"{key}: the value of {name!r} must be a string, got {type(item).__name__}",
                field=f"webhook.{key}",
            )
        # A CR or LF would let the value start a header of its own.
        if any(c in item for c in "\r\n\0"):
            raise ValidationError(
                f"{key}: the value of {name!r} contains a line break", field=f"webhook.{key}"
            )
    return dict(value)


def _headers(value: Any) -> dict[str, str]:
    headers = _string_map(value, "headers")
    for name in headers:
        if name.lower() in FRAMING_HEADERS:
            raise ValidationError(
                f"headers: {name} is set by hookhub from the body", field="webhook.headers"
            )
    return headers


def _cookies(value: Any) -> dict[str, str]:
    cookies = _string_map(value, "cookies")
    for name, item in cookies.items():
        # All cookies share one `Cookie` header, separated by semicolons.
        if ";" in item:
            raise ValidationError(
                f"cookies: the value of {name!r} contains ';'", field="webhook.cookies"
            )
    return cookies


def _auth(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    shapes = (
        'null, ["username", "password"], {"type": "basic", "username", "password"} or '
        '{"type": "bearer", "token"}'
    )
    if isinstance(value, list):
        # NetPulse's form (requests' `auth` tuple): basic credentials.
        if len(value) != 2 or not all(isinstance(item, str) for item in value):
            raise ValidationError(
                'auth as a list must be ["username", "password"], two strings',
                field="webhook.auth",
            )
        value = {"type": "basic", "username": value[0], "password": value[1]}
    if not isinstance(value, Mapping) or value.get("type") not in ("basic", "bearer"):
        raise ValidationError(f"auth must be {shapes}", field="webhook.auth")
    fields = ("username", "password") if value["type"] == "basic" else ("token",)
    extra = sorted(str(k) for k in value if k != "type" and k not in fields)
    if extra:
        raise ValidationError(
            f"auth of type {value['type']!r} has no key {extra[0]!r}", field="webhook.auth"
        )
    for key in fields:
        if not isinstance(value.get(key), str):
            raise ValidationError(
                f"auth of type {value['type']!r} needs {key!r} as a string", field="webhook.auth"
            )
    if value["type"] == "basic" and ":" in value["username"]:
        # RFC 7617: the first colon separates user and password.
        raise ValidationError("auth: username must not contain ':'", field="webhook.auth")
    if value["type"] == "bearer" and (
        not value["token"] or any(c in value["token"] for c in "\r\n\0")
    ):
        raise ValidationError("auth: token must be non-empty and on one line", field="webhook.auth")
    return {"type": value["type"], **{key: value[key] for key in fields}}


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValidationError(
            "secret must be a non-empty string (a whsec_ secret or any text)",
            field="webhook.secret",
        )
    try:
        check_secret(value)
    except ValueError as exc:
        raise ValidationError(f"secret: {exc}", field="webhook.secret") from None
    return value


def _timeout(value: Any) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(
            f"timeout must be a number of seconds, got {value!r}", field="webhook.timeout"
        )
    if not MIN_TIMEOUT <= value <= MAX_TIMEOUT:
        raise ValidationError(
            f"timeout must be between {MIN_TIMEOUT:g} and {MAX_TIMEOUT:g} seconds, got {value:g}",
            field="webhook.timeout",
        )
    return float(value)
