"""A message turned into an event: its JSON body as the event itself, or a template mapping.

Without a mapping the body must be an event as `POST /api/v1/events` takes one. A mapping
renders each event field from the message: `object_type` and `event` (required), `data`
(rendered text parsed as JSON, default `{{ body | tojson }}`), and optionally `id`,
`username`, `request_id`, `timestamp`. Templates see `body` (the body parsed as JSON, or None),
`text` (the body as text), `headers` (headers or stream fields), `message` (`id`, `address`)
and `source` (`name`).

An event's id, unless mapped, is `<source id>:<broker message id>` when the broker gives a
message id: a message delivered again after a crash is the same event, stored once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from hookhub.core.events import validated
from hookhub.core.templates import RenderError, Text, compile_text, render
from hookhub.errors import ValidationError
from hookhub.inbound.sources.base import Message, SourceSpec

FIELDS = ("object_type", "event", "data", "id", "username", "request_id", "timestamp")
REQUIRED = ("object_type", "event")
DEFAULT_DATA = "{{ body | tojson }}"
MAX_ID = 200  # characters of an event id
MAX_BODY = 5 * 1024 * 1024  # bytes of a message, as a request body (HOOKHUB_MAX_REQUEST_BODY)


class Refused(Exception):
    """A message that cannot become an event; recorded as a failure, then acked."""


def check_mapping(mapping: Mapping[str, Any] | None) -> dict[str, str] | None:
    """`mapping` as stored, its templates compiled once to check them; ValidationError names
    the field (`mapping.<name>`)."""
    if mapping is None:
        return None
    checked: dict[str, str] = {}
    for name, source in mapping.items():
        if name not in FIELDS:
            raise ValidationError(
                f"unknown event field {name!r}; expected one of {', '.join(FIELDS)}",
                field=f"mapping.{name}",
            )
        if not isinstance(source, str):
            raise ValidationError("expected a template (a string)", field=f"mapping.{name}")
        compile_text(source, f"mapping.{name}")
        checked[name] = source
    for name in REQUIRED:
        if not checked.get(name):
            raise ValidationError("required when a mapping is given", field=f"mapping.{name}")
    return checked


class Mapper:
    """One source's messages to events, its templates compiled once."""

    def __init__(self, source: SourceSpec, max_body: int = MAX_BODY) -> None:
        self.source = source
        self.max_body = max_body  # bytes
        mapping = dict(source.mapping) if source.mapping is not None else None
        if mapping is not None:
            mapping.setdefault("data", DEFAULT_DATA)
        self.templates: dict[str, Text] | None = (
            None
            if mapping is None
            else {name: compile_text(text, f"mapping.{name}") for name, text in mapping.items()}
        )

    def event(self, message: Message) -> dict[str, Any]:
        """The event for `message`, checked as the API checks one; `Refused` says why not."""
        if len(message.body) > self.max_body:
            raise Refused(
                f"the message is {len(message.body):,} bytes, over the limit of "
                f"{self.max_body:,} (HOOKHUB_MAX_REQUEST_BODY)"
            )
        text = message.body.decode("utf-8", errors="replace")
        try:
            body = orjson.loads(message.body)
        except orjson.JSONDecodeError as exc:
            if self.templates is None:
                raise Refused(f"the body is not JSON: {exc}") from None
            body = None
        if self.templates is None:
            if not isinstance(body, dict):
                raise Refused("the body is not a JSON object (an event), and there is no mapping")
            fields = dict(body)
        else:
            fields = self._rendered(message, body, text)
        if not fields.get("id") and message.id is not None:
            fields["id"] = self.event_id(message.id)
        try:
            return validated(fields)
        except ValidationError as exc:
            raise Refused(f"not a valid event: {exc.message}") from None

    def event_id(self, message_id: str) -> str:
        """The event id of the message with broker id `message_id`."""
        event_id = f"{self.source.id}:{message_id}"
        if len(event_id) > MAX_ID:
            digest = hashlib.sha256(message_id.encode()).hexdigest()
            event_id = f"{self.source.id}:sha256:{digest}"
        return event_id

    def _rendered(self, message: Message, body: Any, text: str) -> dict[str, Any]:
        assert self.templates is not None
        context = {
            "body": body,
            "text": text,
            "headers": dict(message.headers),
            "message": {"id": message.id, "address": self.source.address},
            "source": {"name": self.source.name},
        }
        fields: dict[str, Any] = {}
        try:
            for name, template in self.templates.items():
                rendered = render(template, context, f"mapping.{name}")
                if name == "data":
                    try:
                        fields["data"] = orjson.loads(rendered)
                    except orjson.JSONDecodeError as exc:
                        raise Refused(
                            f"mapping.data: the rendered text is not JSON: {exc}"
                        ) from None
                else:
                    fields[name] = rendered.strip() or None
        except RenderError as exc:
            raise Refused(str(exc)) from None
        return fields
