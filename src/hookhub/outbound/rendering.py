"""From a webhook and an event to the exact request: templates, preset bodies, auth, signatures."""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from jinja2 import Template

from hookhub.core import signing
from hookhub.core.masking import MASK as MASK
from hookhub.core.masking import SENSITIVE_HEADER as SENSITIVE_HEADER
from hookhub.core.retry import RetryPolicy
from hookhub.core.templates import (
    RenderError,
    Text,
    compile_template,
    compile_text,
    globals_names,
    render,
    undeclared_names,
)
from hookhub.db.records import StoredEvent, WebhookConfig
from hookhub.errors import ValidationError
from hookhub.outbound.client import OutboundRequest
from hookhub.outbound.destinations import CompiledDestination, compile_destination
from hookhub.outbound.presets import PRESETS, TEST_BODIES

MAX_KEY = 500  # characters of a rendered ordering key
log = logging.getLogger("hookhub.rendering")
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token


def check_templates(values: Mapping[str, Any]) -> None:
    """Refuse a webhook whose URL, headers or body template does not compile (ValidationError)."""
    compile_template(values.get("url") or "", "url")
    compile_headers(values.get("headers") or "")
    if values.get("body_template"):
        compile_template(values["body_template"], "body_template")
    if values.get("ordering_key"):
        compile_template(values["ordering_key"], "ordering_key")


TEMPLATE_FIELDS = ("url", "headers", "body_template", "ordering_key")  # Jinja2 in a webhook


def template_errors(values: Mapping[str, Any]) -> dict[str, str]:
    """Every template field that does not compile, with its message: all at once, where
    `check_templates` stops at the first (a form shows each beside its field)."""
    found: dict[str, str] = {}
    for field in TEMPLATE_FIELDS:
        source = values.get(field)
        if not isinstance(source, str) or not source:
            continue
        try:
            if field == "headers":
                compile_headers(source)
            else:
                compile_template(source, field)
        except ValidationError as exc:
            found[exc.field or field] = exc.message
    return found


def template_warnings(values: Mapping[str, Any]) -> dict[str, str]:
    """Template fields reading a name no event provides (`{{ usr.name }}` for `data.user`):
    they render empty or fail at send time, so they are worth a warning when saved."""
    known = set(event_context(StoredEvent("", "", "", ""), "", ""))
    available = ", ".join(sorted(known))
    known |= globals_names()
    found: dict[str, str] = {}
    for field in TEMPLATE_FIELDS:
        source = values.get(field)
        unknown = sorted(undeclared_names(source) - known) if isinstance(source, str) else []
        if unknown:
            found[field] = (
                f"reads {', '.join(unknown)}, which no event defines (templates see {available})"
            )
    return found


def compile_headers(text: str) -> list[tuple[str, Text]]:
    """`Name: Value` lines, each value a template of its own.

    Names are fixed when the webhook is saved and each value renders on its own, so event data
    containing CR/LF can never add a header.
    """
    compiled = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not HEADER_NAME.fullmatch(name):
            raise ValidationError(
                f"line {number}: expected 'Name: Value', got {line[:80]!r}", field="headers"
            )
        try:
            compiled.append((name, compile_text(value.strip(), "headers")))
        except ValidationError as exc:
            raise ValidationError(f"line {number}: {exc.message}", field="headers") from None
    return compiled


def event_context(event: StoredEvent, webhook_name: str, delivery_id: str) -> dict[str, Any]:
    """The template context of an event: NetBox's names plus `webhook` and `delivery_id`."""
    return {
        "event": event.event,
        "model": event.object_type,
        "object_type": event.object_type,
        "timestamp": event.timestamp,
        "username": event.username,
        "request_id": event.request_id,
        "data": event.data,
        "snapshots": event.snapshots,
        "event_id": event.id,
        "webhook": webhook_name,
        "delivery_id": delivery_id,
    }


@functools.lru_cache(maxsize=1024)
def _ordering_template(source: str) -> Template:
    return compile_template(source, "ordering_key")


def ordering_key(webhook: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    """The rendered `ordering_key` of a webhook (`name`, `ordering_key`) for `event`.

    A key that fails to render becomes "" (logged): such deliveries share one queue with
    those whose key renders empty, so they are still sent one at a time, in order.
    """
    try:
        template = _ordering_template(webhook["ordering_key"])
        context = event_context(StoredEvent.from_row(event), webhook["name"], "")
        key = render(template, context, "ordering_key").strip()
    except (RenderError, ValidationError) as exc:
        log.warning("webhook %s: ordering_key failed to render: %s", webhook["name"], exc)
        return ""
    # The column holds 500 characters; longer keys are hashed to stay distinct.
    return key if len(key) <= MAX_KEY else hashlib.sha256(key.encode()).hexdigest()


@functools.lru_cache(maxsize=4096)
def _sensitive(name: str) -> bool:
    # Every attempt logs the same few header names: the regex runs once per name.
    return SENSITIVE_HEADER.search(name) is not None


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of `headers` with credential values replaced by a mask."""
    return {k: MASK if _sensitive(k) else v for k, v in headers.items()}


def credential_headers(
    auth: Mapping[str, Any] | None, cookies: Mapping[str, Any] | None
) -> dict[str, str]:
    """Authorization and Cookie headers for a webhook-style `auth` object and cookie map."""
    headers: dict[str, str] = {}
    auth = auth or {}
    if auth.get("type") == "basic":
        pair = f"{auth.get('username', '')}:{auth.get('password', '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    elif auth.get("type") == "bearer":
        headers["Authorization"] = f"Bearer {auth.get('token', '')}"
    elif auth.get("type") == "oauth2":
        # The Sender fetches the token and replaces this; logs and previews show the mask.
        headers["Authorization"] = f"Bearer {MASK}"
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return headers


def signature_headers(
    secret: str | None,
    message_id: str,
    body: bytes,
    timestamp: int,
    previous: Sequence[str] = (),
) -> dict[str, str]:
    """`webhook-id`/`webhook-timestamp`, and with a secret both signature schemes' headers.

    `previous` (rotated-out secrets still in their grace period) add Standard Webhooks signatures.
    """
    # The id and timestamp are sent unsigned too: receivers use webhook-id to deduplicate.
    headers = {"webhook-id": message_id, "webhook-timestamp": str(timestamp)}
    if secret:
        headers["X-Hook-Signature"] = signing.netbox_signature(secret, body)
        # NetBox's header holds one signature: the current secret's.
        headers["webhook-signature"] = signing.standard_signatures(
            [secret, *previous], message_id, timestamp, body
        )
    return headers


class CompiledWebhook:
    """A webhook's config with its templates compiled once, turning events into requests."""

    def __init__(self, config: WebhookConfig) -> None:
        self.id = config.id
        self.name = config.name
        self.version = config.version
        self.method = config.method
        self.content_type = config.content_type
        self.secret = config.secret
        self.timeout = config.timeout
        self.ssl_verification = config.ssl_verification
        self.ca_file_path = config.ca_file_path
        self.client_cert_path = config.client_cert_path
        self.client_key_path = config.client_key_path
        self.previous_secrets = config.previous_secrets
        self.auth = config.auth
        self.cookies = config.cookies
        # The same for every request of this version: built once, not per send.
        self.credentials = credential_headers(config.auth, config.cookies)
        self.preset = config.preset or "netbox"
        self.retry = RetryPolicy.from_json(config.retry)
        self.compile_error: str | None = None
        # None: HTTP. Decided here, once per webhook version, not per request.
        self.destination: CompiledDestination | None = None
        try:
            self.destination = compile_destination(config.destination)
            self.url = compile_text(config.url, "url")
            self.headers = compile_headers(config.headers)
            body = config.body_template
            self.body = compile_text(body, "body_template") if body else None
        except ValidationError as exc:
            # Saved before validation tightened, perhaps: fail its deliveries, not the dispatcher.
            self.compile_error = f"{exc.field}: {exc.message}"

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CompiledWebhook:
        """A webhook row (or a draft of one) compiled."""
        return cls(WebhookConfig.from_row(row))

    def test_body(self) -> tuple[bytes, str] | None:
        """The fixed body and content type a test send uses instead of the sample event
        (`presets.TEST_BODIES`: a `sqle` webhook sends SQLE's test text), if any."""
        return TEST_BODIES.get(self.preset) if self.body is None else None

    def prepare(
        self,
        event: StoredEvent,
        delivery_id: str,
        now: float | None = None,
        fixed: tuple[bytes, str] | None = None,
    ) -> OutboundRequest:
        """The exact request for `event` as delivery `delivery_id`; RenderError on failure.
        `fixed`: a body and content type sent instead of the rendered body (`test_body`)."""
        if self.compile_error:
            raise RenderError(self.compile_error)
        context = event_context(event, self.name, delivery_id)
        url = render(self.url, context, "url").strip()
        headers = {"Content-Type": self.content_type if fixed is None else fixed[1]}
        for name, template in self.headers:
            value = render(template, context, f"headers.{name}")
            headers[name] = " ".join(value.splitlines()).strip()
        if fixed is not None:
            body = fixed[0]
        elif self.body is not None:
            body = render(self.body, context, "body_template").encode()
        else:
            body = orjson.dumps(PRESETS[self.preset](context), default=str)
        headers.update(self.credentials)
        now = now or time.time()
        previous = [e["secret"] for e in signing.live_secrets(self.previous_secrets, now)]
        headers.update(signature_headers(self.secret, delivery_id, body, int(now), previous))
        return OutboundRequest(
            url=url,
            method=self.method,
            headers=headers,
            body=body,
            timeout=self.timeout,
            ssl_verification=self.ssl_verification,
            ca_file_path=self.ca_file_path,
            client_cert_path=self.client_cert_path,
            client_key_path=self.client_key_path,
            oauth2=self.auth if self.auth and self.auth.get("type") == "oauth2" else None,
            destination=None if self.destination is None else self.destination.route(context),
        )
