"""A webhook delivery as NetBox's `send_webhook` makes it, for the peer benchmarks' queue workers.

Runs in a peer's own virtualenv (benchmarks/peers/.venv-rq or .venv-celery), never in hookhub's:
Jinja2 renders the body in a fresh sandboxed environment per delivery (NetBox's `render_jinja2`),
the body is signed with HMAC-SHA512 (`X-Hook-Signature`), and `requests` sends it on a new
session per delivery.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import requests
from jinja2.sandbox import SandboxedEnvironment

SECRET = "benchmark-secret-not-for-production"  # noqa: S105 (a throwaway secret)
# The same template as benchmarks/outbound.py's webhook.
BODY_TEMPLATE = (
    '{"event": "{{ event }}", "model": "{{ model }}", "timestamp": "{{ timestamp }}", '
    '"username": {{ username | tojson }}, "delivery": "{{ delivery_id }}", '
    '"data": {{ data | tojson }}}'
)
HEADERS_TEMPLATE = "X-Event: {{ model }}.{{ event }}"


def deliver(url: str, context: dict[str, Any]) -> int:
    """Render, sign and POST one event to `url`; the response's status."""
    headers = {"Content-Type": "application/json"}
    for line in SandboxedEnvironment().from_string(HEADERS_TEMPLATE).render(**context).split("\n"):
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    body = SandboxedEnvironment().from_string(BODY_TEMPLATE).render(**context)
    prepared = requests.Request("POST", url, headers=headers, data=body.encode()).prepare()
    signature = hmac.new(SECRET.encode(), prepared.body, hashlib.sha512)  # type: ignore[arg-type]
    prepared.headers["X-Hook-Signature"] = signature.hexdigest()
    with requests.Session() as session:
        response = session.send(prepared, timeout=10)
    response.raise_for_status()
    return response.status_code
