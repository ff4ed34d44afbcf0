"""Credentials inside workflow documents: masked when shown, kept when sent back masked.

Slots: the trigger's basic password, header value and HMAC secret; each request node's auth
password or token, signing secret, cookies and credential-like headers; each command node's
credential-like environment variables (`DEPLOY_TOKEN`, `API_KEY`, ...). A request node's `url`
has its credentials masked in place (`core.masking`: userinfo password, credential-like query
values), the rest of it shown.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from hookhub.core.masking import mask_url, unmask_url
from hookhub.errors import ValidationError
from hookhub.outbound.rendering import MASK, SENSITIVE_HEADER

Slot = tuple[dict[str, Any], str, tuple[str, ...]]  # (container, key, stable identity)


def _slots(doc: Mapping[str, Any]) -> Iterator[Slot]:
    trigger = doc.get("trigger")
    auth = trigger.get("auth") if isinstance(trigger, dict) else None
    if isinstance(auth, dict):
        for key in ("password", "value", "secret"):
            if key in auth:
                yield auth, key, ("trigger", str(auth.get("type")), key)
    nodes = doc.get("nodes")
    for node in nodes if isinstance(nodes, list) else []:
        env = node.get("env") if isinstance(node, dict) and node.get("type") == "command" else None
        if isinstance(env, dict):
            for name in list(env):
                if SENSITIVE_HEADER.search(name):
                    yield env, name, ("node", str(node.get("id")), "env", name)
        if not isinstance(node, dict) or node.get("type") != "request":
            continue
        where = ("node", str(node.get("id")))
        auth = node.get("auth")
        if isinstance(auth, dict):
            for key in ("password", "token"):
                if key in auth:
                    yield auth, key, (*where, str(auth.get("type")), key)
        if "secret" in node:
            yield node, "secret", (*where, "secret")
        for group, sensitive in (("cookies", True), ("headers", False)):
            values = node.get(group)
            if not isinstance(values, dict):
                continue
            for name in list(values):
                if sensitive or SENSITIVE_HEADER.search(name):
                    yield values, name, (*where, group, name)


def _request_nodes(doc: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The request nodes whose `url` is text."""
    nodes = doc.get("nodes")
    for node in nodes if isinstance(nodes, list) else []:
        request = isinstance(node, dict) and node.get("type") == "request"
        if request and isinstance(node.get("url"), str):
            yield node


def masked(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `doc` with every credential replaced by the mask."""
    shown = copy.deepcopy(dict(doc))
    for container, key, _ in _slots(shown):
        if container[key]:
            container[key] = MASK
    for node in _request_nodes(shown):
        node["url"] = mask_url(node["url"])
    return shown


def unmasked(doc: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `doc` where masked credentials take the stored values of the same slots."""
    kept = {identity: container[key] for container, key, identity in _slots(stored)}
    restored = copy.deepcopy(dict(doc))
    for container, key, identity in _slots(restored):
        if container[key] != MASK:
            continue
        if identity not in kept:
            field = ".".join(identity)
            raise ValidationError(
                f"{field}: a masked value can only keep a stored one", field=field
            )
        container[key] = kept[identity]
    urls = {str(node.get("id")): node["url"] for node in _request_nodes(stored)}
    for node in _request_nodes(restored):
        stored_url = urls.get(str(node.get("id")))
        if stored_url is not None:
            node["url"] = unmask_url(node["url"], stored_url)
    return restored
