"""What a webhook is made of, as every door writes it: the checked input models (`WebhookIn`,
its PATCH form `WebhookPatch`, a secret rotation)."""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from hookhub.core import limits, signing
from hookhub.core.limits import Range
from hookhub.core.retry import DEFAULT_SCHEDULE
from hookhub.services.common import STRICT, optional_fields

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
HTTP_URL = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]"  # with a host
# A URL with a scheme (http(s)://, or a broker's: amqp://...), or a template (`{{ ... }}`,
# `{% ... %}`) that renders one.
URL_OR_TEMPLATE = r"^(?:[A-Za-z][A-Za-z0-9+.-]*://\S|[\s\S]*\{[{%])"
# Auto-disable defaults: 50 failed attempts in a row, the first over a day before the last.
DEFAULT_FAILURE_THRESHOLD = 50
DEFAULT_FAILURE_WINDOW = 86400.0


class BasicAuth(BaseModel):
    model_config = STRICT
    type: Literal["basic"]
    username: str
    password: str


class BearerAuth(BaseModel):
    model_config = STRICT
    type: Literal["bearer"]
    token: str = Field(min_length=1)


class OAuth2Auth(BaseModel):
    """OAuth2 client credentials: a token from `token_url`, sent as `Authorization: Bearer`."""

    model_config = STRICT
    type: Literal["oauth2"]
    # The pattern for the schema; the validator says what is wrong in words.
    token_url: str = Field(min_length=1, max_length=4096, json_schema_extra={"pattern": HTTP_URL})
    client_id: str = Field(min_length=1, max_length=1000)
    client_secret: str = Field(min_length=1, max_length=1000)
    scope: str | None = Field(None, max_length=1000, description="space-separated scopes")
    audience: str | None = Field(None, max_length=1000)

    @field_validator("token_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an http:// or https:// URL, got {value[:80]!r}")
        return value


def _checked_secret(value: str) -> str:
    signing.check_secret(value)  # a whsk_ secret must be an ed25519 key
    return value


Secret = Annotated[str, AfterValidator(_checked_secret)]


class SecretRotation(BaseModel):
    """A new signing secret; the old one keeps signing for `grace` seconds."""

    model_config = STRICT
    secret: Secret | None = Field(
        None, min_length=1, max_length=1000, description="null = generate a whsec_ secret"
    )
    grace: Annotated[float, Range(0, limits.MAX_GRACE, "seconds")] | None = Field(
        None, description="seconds; null = HOOKHUB_SECRET_ROTATION_GRACE"
    )


RetryWait = Annotated[float, Range(limits.MIN_RETRY_WAIT, limits.MAX_RETRY_WAIT, "seconds")]
Rate = Annotated[float, Range(limits.MIN_RATE, limits.MAX_RATE, "per second")]


class Retry(BaseModel):
    """How often a failed delivery is tried again (see docs/webhooks.md)."""

    model_config = STRICT
    max_attempts: Annotated[int, Range(0, limits.MAX_ATTEMPTS)] = Field(
        4, description="tries in all; 0 or 1 = one try"
    )
    strategy: Literal["exponential", "fixed", "schedule"] = "exponential"
    interval: RetryWait = Field(5.0, description="seconds")
    max_interval: RetryWait = Field(3600.0, description="seconds")
    schedule: list[RetryWait] = Field(
        default_factory=lambda: list(DEFAULT_SCHEDULE), min_length=1, max_length=50
    )


class WebhookIn(BaseModel):
    """A webhook as written by users; templates are checked when it is saved."""

    model_config = ConfigDict(
        **STRICT,
        # A body template replaces the preset's body: not both.
        json_schema_extra={
            "not": {
                "required": ["body_template", "preset"],
                "properties": {"body_template": {"type": "string"}, "preset": {"type": "string"}},
            }
        },
    )
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(
        min_length=1,
        max_length=4096,
        json_schema_extra={"pattern": URL_OR_TEMPLATE},
        description="an http(s) URL, Jinja2 (`https://{{ data.host }}/x`), or a template that "
        "renders one (`{{ data.callback }}`); amqp(s)://, nats://, redis(s):// or mqtt(s):// "
        "delivers to a broker (see destination)",
    )
    method: Method = "POST"
    content_type: str = Field("application/json", min_length=1, max_length=200)
    headers: str | dict[str, str] = Field("", description="`Name: Value` lines, Jinja2")
    body_template: str | None = Field(None, description="Jinja2; null = the preset's body")
    preset: Literal["netbox", "sqle", "job", "standard"] | None = None
    secret: Secret | None = Field(None, max_length=1000)
    ssl_verification: bool = True
    ca_file_path: str | None = None
    client_cert_path: str | None = Field(None, description="PEM; may hold the key too")
    client_key_path: str | None = Field(None, description="PEM, unencrypted")
    timeout: Annotated[float, Range(limits.MIN_TIMEOUT, limits.MAX_TIMEOUT, "seconds")] = Field(
        5.0, description="seconds"
    )
    auth: Annotated[BasicAuth | BearerAuth | OAuth2Auth, Field(discriminator="type")] | None = None
    cookies: dict[str, str] | None = None
    retry: Retry = Field(default_factory=Retry)
    enabled: bool = True
    max_concurrency: Annotated[int, Range(1, limits.MAX_CONCURRENCY)] | None = Field(
        None, description="requests in flight at once; null = no limit"
    )
    rate_limit: Rate | None = Field(None, description="requests per second; null = no limit")
    ordering_key: str | None = Field(
        None,
        max_length=1000,
        description="Jinja2; deliveries with the same key are sent one at a time, in order",
    )
    failure_threshold: Annotated[int, Range(1, limits.MAX_FAILURE_THRESHOLD)] | None = Field(
        DEFAULT_FAILURE_THRESHOLD,
        description="disable after this many consecutive failed attempts; null = never",
    )
    failure_window: Annotated[float, Range(0, limits.MAX_FAILURE_WINDOW, "seconds")] = Field(
        DEFAULT_FAILURE_WINDOW,
        description="seconds the failures must span before the webhook is disabled",
    )
    tenant_id: str | None = Field(
        None,
        max_length=64,
        description="the tenant it belongs to (null: none): it gets only that tenant's events;"
        " set when created, never changed (a tenant's token: its own tenant)",
    )
    destination: dict[str, Any] | None = Field(
        None,
        description="a broker destination's options, targets as Jinja2 templates: amqp "
        '{"exchange", "routing_key", "persistent", "mandatory"}, nats {"subject", "stream", '
        '"deduplicate"}, redis_stream {"stream", "maxlen"}, mqtt {"topic", "qos", "retain"}; '
        "null for http(s) URLs (docs/destinations.md)",
    )

    @field_validator("url")
    @classmethod
    def _url_or_template(cls, value: str) -> str:
        if not re.match(URL_OR_TEMPLATE, value):
            raise ValueError(
                "expected a URL (http://, https://, or a broker's amqp://, nats://, redis://, "
                f"mqtt://) or a Jinja2 template, got {value[:80]!r}"
            )
        return value

    @field_validator("headers")
    @classmethod
    def _header_text(cls, value: str | dict[str, str]) -> str:
        if isinstance(value, dict):
            return "\n".join(f"{k}: {v}" for k, v in value.items())
        return value

    @field_validator("ca_file_path", "client_cert_path", "client_key_path")
    @classmethod
    def _existing_file(cls, value: str | None) -> str | None:
        if value and not os.path.isfile(value):
            raise ValueError(f"no such file: {value}")
        return value or None


@optional_fields
class WebhookPatch(WebhookIn):
    """The fields of a webhook to change; masked values sent back keep their secrets."""
