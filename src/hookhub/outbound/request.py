"""What the sender sends: a request rendered and signed, and where a broker message goes.

Plain records, below both the sender (client.py) and the broker destinations that publish them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Route:
    """Where a message for a broker goes: the destination kind (`amqp`, ...) and its options,
    templates rendered (an exchange and routing key, a subject, a stream, a topic)."""

    kind: str
    options: Mapping[str, Any]


# Not frozen: made once per send, and a frozen dataclass's __init__ costs about four times as
# much (hookhub.db.records).
@dataclass(slots=True)
class OutboundRequest:
    """A fully rendered and signed request, ready for the wire."""

    url: str
    method: str
    headers: dict[str, str]
    body: bytes
    timeout: float  # seconds, whole request
    ssl_verification: bool = True
    ca_file_path: str | None = None
    # mTLS: a PEM certificate, holding its key too unless client_key_path names the key's file.
    client_cert_path: str | None = None
    client_key_path: str | None = None
    # OAuth2 client credentials (`token_url`, `client_id`, ...): the Sender adds the token.
    oauth2: Mapping[str, Any] | None = None
    # Set for a broker destination: `url` is the broker's, `headers` travel as message headers.
    destination: Route | None = None
