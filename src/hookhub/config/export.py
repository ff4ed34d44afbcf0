"""The database's event types, webhooks, rules, workflows and sources as a config document
(`hookhub export`).

Fields at their default are left out. Credentials are never written: each becomes a reference
to an environment variable named after its object and place, e.g. `${HOOKHUB_SECRET_CRM}`
(webhook `crm`'s signing secret), `${HOOKHUB_SECRET_CRM_AUTH_PASSWORD}`,
`${HOOKHUB_SECRET_CRM_HEADER_AUTHORIZATION}`, `${HOOKHUB_SECRET_CRM_COOKIE_SESSION}`,
`${HOOKHUB_SECRET_CRM_URL_PASSWORD}` (the password in the URL's userinfo; `_URL_USERNAME` when the
user name is the credential), `${HOOKHUB_SECRET_CRM_URL_QUERY_TOKEN}` (`?token=` in the URL),
`${HOOKHUB_SECRET_WORKFLOW_GITHUB_TRIGGER_AUTH_SECRET}`,
`${HOOKHUB_SECRET_WORKFLOW_GITHUB_NODE_CALL_URL_PASSWORD}`,
`${HOOKHUB_SECRET_SOURCE_JOBS_URL_PASSWORD}` (source `jobs`'s broker password). A literal `${`
is written `$${`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

import pydantic
import yaml

from hookhub.config.document import RULE_FIELDS, VERSION, WEBHOOK_FIELDS
from hookhub.config.plan import Current
from hookhub.core.masking import url_credentials
from hookhub.errors import HookhubError
from hookhub.outbound.rendering import MASK, SENSITIVE_HEADER
from hookhub.services import event_types as event_types_api
from hookhub.services import sources as sources_api
from hookhub.services.rules import RuleIn
from hookhub.services.webhook_input import WebhookIn
from hookhub.services.workflows import checked
from hookhub.workflows.document import FIELDS as WORKFLOW_FIELDS
from hookhub.workflows.secrets import masked

PREFIX = "HOOKHUB_SECRET_"
AUTH_SECRETS = ("password", "token", "client_secret")
SINGULAR = {"headers": "header", "cookies": "cookie"}  # in variable names
_RULE_DEFAULTS = RuleIn.model_validate({"name": "-", "webhook_id": "-"}).model_dump()
_DEFAULTS = WebhookIn.model_validate({"name": "-", "url": "https://-"}).model_dump()
_EVENT_TYPE_DEFAULTS = event_types_api.EventTypeIn(name="-").model_dump(by_alias=True)
_SOURCE_DEFAULTS = sources_api.SourceIn.model_validate({"name": "-", "url": "-"}).model_dump()
_NO_DEFAULT = object()


def env_name(*parts: str) -> str:
    """`HOOKHUB_SECRET_` and the parts, upper case, anything but letters and digits as `_`."""
    joined = "_".join(re.sub(r"[^A-Za-z0-9]+", "_", part).strip("_") for part in parts)
    return PREFIX + joined.upper()


def document(current: Current) -> tuple[dict[str, Any], list[str]]:
    """The config document and the environment variables its secrets are read from."""
    names: list[str] = []
    hooks = [_webhook(row, names) for _, row in sorted(current.webhooks.items())]
    ids = {row["id"]: name for name, row in current.webhooks.items()}
    rule_docs = [
        {
            "name": row["name"],
            "webhook": ids.get(row["webhook_id"], row["webhook_id"]),
            **{
                k: _escape(row[k])
                for k in RULE_FIELDS
                if k != "name" and row[k] != _RULE_DEFAULTS[k]
            },
        }
        for _, row in sorted(current.rules.items())
    ]
    flows = [_workflow(row, names) for _, row in sorted(current.workflows.items())]
    feeds = [_source(row, names) for _, row in sorted(current.sources.items())]
    types = [_event_type(row) for _, row in sorted(current.event_types.items())]
    doc: dict[str, Any] = {"version": VERSION}
    kinds = (
        ("event_types", types),
        ("webhooks", hooks),
        ("rules", rule_docs),
        ("workflows", flows),
        ("sources", feeds),
    )
    for key, items in kinds:
        if items:
            doc[key] = items
    return doc, names


def dump(current: Current) -> str:
    """The config document as YAML text, with a header naming the secrets' variables."""
    doc, names = document(current)
    header = "# hookhub config (docs/config-as-code.md). Apply with: hookhub apply -f FILE\n"
    if names:
        header += "# Secrets are read from these environment variables:\n"
        header += "".join(f"#   {name}\n" for name in names)
    return header + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def _webhook(row: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    name = row["name"]
    out: dict[str, Any] = {}
    for key in WEBHOOK_FIELDS:
        value = row[key]
        if key not in ("name", "url") and value == _DEFAULTS[key]:
            continue
        out[key] = _escape(value)
    out["url"] = _url(row["url"], names, name)
    if row["secret"]:
        out["secret"] = _reference(names, name)
    auth = out.get("auth")
    if isinstance(auth, dict):
        for key in AUTH_SECRETS:
            if auth.get(key):
                auth[key] = _reference(names, name, "auth", key)
    if isinstance(out.get("cookies"), dict):
        out["cookies"] = {k: _reference(names, name, "cookie", k) for k in out["cookies"]}
    if out.get("headers"):
        out["headers"] = "\n".join(
            _header(line, name, names) for line in row["headers"].split("\n")
        )
    return out


def _event_type(row: Mapping[str, Any]) -> dict[str, Any]:
    """An event type as written, fields at their default left out."""
    return {
        key: _escape(row[key])
        for key in event_types_api.FIELDS
        if key == "name" or row[key] != _EVENT_TYPE_DEFAULTS[key]
    }


def _source(row: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """A source as written, its URL's credentials as variables, defaults left out."""
    out: dict[str, Any] = {}
    for key, value in sources_api.written(row).items():
        if key == "url":
            out["url"] = _url(value, names, "source", row["name"])
        elif key == "name" or value != _SOURCE_DEFAULTS.get(key, _NO_DEFAULT):
            out[key] = _escape(value)
    return out


def _url(url: str, names: list[str], *owner: str) -> str:
    """The URL (escaped) with each credential in it (`url_credentials`) a variable holding its
    value, named after `owner` (`crm`; `workflow`, `github`, `node`, `call`) and the place."""
    out: list[str] = []
    done, taken = 0, set()
    for credential in url_credentials(url):
        place = [*owner, "url", *credential.slot.split(".")]
        parts, number = place, 1
        while env_name(*parts) in taken:  # `api-key` and `api_key` make the same name
            number += 1
            parts = [*place, str(number)]
        taken.add(env_name(*parts))
        out += [_escape_text(url[done : credential.start]), _reference(names, *parts)]
        done = credential.end
    return "".join([*out, _escape_text(url[done:])])


def _header(line: str, webhook: str, names: list[str]) -> str:
    header, sep, value = line.partition(":")
    if not sep or not SENSITIVE_HEADER.search(header):
        return _escape_text(line)
    spaces = value[: len(value) - len(value.lstrip())]
    stripped = value.strip()
    if not stripped:
        return _escape_text(line)
    trailing = value[len(spaces) + len(stripped) :]
    # The variable holds the value as stored, so the line comes back byte for byte.
    reference = _reference(names, webhook, "header", header.strip())
    return f"{_escape_text(header)}:{spaces}{reference}{trailing}"


def _workflow(row: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    doc = _minimal({key: row[key] for key in WORKFLOW_FIELDS})
    hidden = masked(doc)
    shown: dict[str, Any] = _replace(_escape(doc), hidden, doc, ("workflow", row["name"]), names)
    return shown


def _minimal(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` without the fields that are at their default: each is left out in turn and kept
    out if the normalized document stays the same (so defaults are the API's, by definition)."""
    try:
        full = checked(doc)
    except (HookhubError, pydantic.ValidationError):
        return doc  # stored before a rule it breaks was added: written out whole, as it is
    slim = copy.deepcopy(doc)

    def drop(container: dict[str, Any], key: str) -> bool:
        items = list(container.items())
        del container[key]
        try:
            same = checked(slim) == full
        except (HookhubError, pydantic.ValidationError):
            same = False
        if not same:
            container.clear()
            container.update(items)  # back in its place: the file keeps the API's order
        return same

    def thin(container: dict[str, Any], keep: tuple[str, ...] = ()) -> None:
        for key in [k for k in container if k not in keep]:
            if not drop(container, key) and isinstance(container[key], dict):
                thin(container[key], ("type",))

    thin(slim, ("name", "start", "nodes"))
    for node in slim["nodes"]:
        thin(node, ("id", "type"))
    return slim


def _replace(
    value: Any, hidden: Any, original: Any, path: tuple[str, ...], names: list[str]
) -> Any:
    """`value` (escaped) with every slot `masked` hid replaced by a variable reference."""
    if isinstance(value, dict) and isinstance(hidden, dict):
        return {
            k: _replace(v, hidden.get(k), original[k], (*path, SINGULAR.get(k, str(k))), names)
            for k, v in value.items()
        }
    if isinstance(value, list) and isinstance(hidden, list):
        out = []
        for position, item in enumerate(value):
            step = original[position]
            label = str(step["id"]) if isinstance(step, dict) and "id" in step else str(position)
            part = ("node", label) if path[-1] == "nodes" else (label,)
            parent = path[:-1] if path[-1] == "nodes" else path
            out.append(_replace(item, hidden[position], step, (*parent, *part), names))
        return out
    if hidden == MASK and original and original != MASK:
        return _reference(names, *path)
    if path[-1] == "url" and isinstance(original, str) and hidden != original:
        return _url(original, names, *path[:-1])  # a request node's URL, credentials masked
    return value


def _reference(names: list[str], *parts: str) -> str:
    name = env_name(*parts)
    if name not in names:
        names.append(name)
    return "${" + name + "}"


def _escape_text(value: str) -> str:
    return value.replace("${", "$${")


def _escape(value: Any) -> Any:
    """Strings with `$${` for every literal `${`, so `apply` reads them back unchanged."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (templates, header lines) as `|` blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
