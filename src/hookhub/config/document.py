"""The config file (`hooks.yaml`): read, `${ENV}` references filled in, validated.

The same pydantic models as the API check every object (`WebhookIn`, `RuleIn`, `WorkflowIn`
and the workflow graph rules, `SourceIn`, `EventTypeIn`), so the file accepts exactly what the
API accepts.
Every problem is reported, not only the first, each as `file:line: field: message`, e.g.
`hooks.yaml:12: webhooks[crm].timeout: must be from 0.5 to 120 seconds, got 500`.

Rules name their webhook (`webhook: crm`) instead of carrying its id.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
import yaml

from hookhub.core.conditions import ConditionError, validate_conditions
from hookhub.errors import HookhubError, ValidationError, validation_message
from hookhub.services import event_types as event_types_api
from hookhub.services import sources as sources_api
from hookhub.services.rules import RuleIn
from hookhub.services.webhook_input import WebhookIn
from hookhub.services.webhooks import new_row
from hookhub.services.workflows import checked
from hookhub.workflows.document import FIELDS as WORKFLOW_FIELDS

KINDS = ("webhooks", "rules", "workflows", "sources", "event_types")
VERSION = 1
# `${NAME}` is replaced by the environment variable NAME; `$${` stands for a literal `${`.
REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
WEBHOOK_FIELDS = tuple(WebhookIn.model_fields)
# A rule's tenant is its webhook's: not written in a document.
RULE_FIELDS = tuple(name for name in RuleIn.model_fields if name not in ("webhook_id", "tenant_id"))
# A file declares the installation's own objects; a tenant's may share their names.
NO_TENANT = (
    "config as code declares objects of no tenant; a tenant's webhooks and rules are managed"
    " through the API or the tenant's portal (docs/tenants.md)"
)

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the file, where it is."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class DocumentError(ValidationError):
    """The config file is invalid."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0] if problems else None
        super().__init__(
            "\n".join(str(problem) for problem in problems),
            field=first.field if first else None,
        )


@dataclass
class Document:
    """The validated objects by name, in the stored (normalized) form, and where each was."""

    file: str
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Rules keep their webhook's name under "webhook" (the id is known only when applying).
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Sources in their written form (`services.sources.written`).
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Event types as stored (`services.event_types.checked`: schema and examples checked).
    event_types: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: dict[Path_, int] = field(default_factory=dict)
    index: dict[tuple[str, str], int] = field(default_factory=dict)

    def problem(self, kind: str, name: str, where: str, message: str) -> Problem:
        """A problem about field `where` of object `name` (found after validation)."""
        position = self.index.get((kind, name))
        path: Path_ = (kind,) if position is None else (kind, position, where)
        line = self.lines.get(path) or self.lines.get(path[:2]) or self.lines.get((kind,), 1)
        return Problem(self.file, line, f"{kind}[{name}].{where}", message)


def load(
    path: str | Path,
    environ: Mapping[str, str] | None = None,
    cert_dir: str = "",
    command_dirs: Sequence[str] | None = None,
) -> Document:
    """Read and validate the file at `path` (`-` = standard input); certificate files must be
    inside `cert_dir` when it is set, command nodes' programs inside `command_dirs` if given."""
    name = str(path)
    try:
        text = sys.stdin.read() if name == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DocumentError([Problem(name, 1, "file", exc.strerror or str(exc))]) from None
    return parse(text, "<stdin>" if name == "-" else name, environ, cert_dir, command_dirs)


def parse(
    text: str,
    file: str,
    environ: Mapping[str, str] | None = None,
    cert_dir: str = "",
    command_dirs: Sequence[str] | None = None,
) -> Document:
    """Validate a config document; DocumentError lists every problem found."""
    env = os.environ if environ is None else environ
    doc = Document(file)
    problems: list[Problem] = []
    try:
        data, doc.lines = _compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        raise DocumentError([Problem(file, line, "yaml", str(reason))]) from None

    def report(path: Path_, where: str, message: str) -> None:
        problems.append(Problem(file, _line(doc.lines, path), where, message))

    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DocumentError([Problem(file, 1, "document", "expected a mapping of " + _kinds())])
    for key in data:
        if key not in (*KINDS, "version"):
            report((key,), str(key), f"unknown section; expected version, {_kinds()}")
    if data.get("version", VERSION) != VERSION:
        report(("version",), "version", f"only version {VERSION} is supported")
    for kind in KINDS:
        items = data.get(kind) or []
        if not isinstance(items, list):
            report((kind,), kind, "expected a list")
            continue
        for position, raw in enumerate(items):
            path: Path_ = (kind, position)
            if not isinstance(raw, dict):
                report(path, f"{kind}[{position}]", "expected a mapping")
                continue
            named = isinstance(raw.get("name"), str)
            label = f"{kind}[{raw['name'] if named else position}]"
            missing: list[tuple[Path_, str]] = []
            raw = _substitute(raw, path, env, missing)
            found = [_at(doc, where, label, message) for where, message in missing]
            if not found:
                found = _validate(doc, kind, raw, path, label, cert_dir, command_dirs)
            problems.extend(found)
            if found:
                continue
            name = raw["name"]
            if (kind, name) in doc.index:
                report((*path, "name"), f"{label}.name", f"another {kind[:-1]} has this name")
                continue
            doc.index[(kind, name)] = position
    if problems:
        raise DocumentError(problems)
    return doc


def _kinds() -> str:
    return ", ".join(KINDS)


def _validate(
    doc: Document,
    kind: str,
    raw: dict[str, Any],
    path: Path_,
    label: str,
    cert_dir: str,
    command_dirs: Sequence[str] | None,
) -> list[Problem]:
    """Validate one object; store its normalized form in `doc` or return its problems."""
    try:
        if kind in ("webhooks", "rules") and raw.get("tenant_id") is not None:
            raise ValidationError(NO_TENANT, field="tenant_id")
        if kind == "webhooks":
            row = new_row(WebhookIn.model_validate(raw), cert_dir)
            doc.webhooks[raw["name"]] = {name: row[name] for name in WEBHOOK_FIELDS}
        elif kind == "rules":
            doc.rules[raw["name"]] = _rule(raw)
        elif kind == "sources":
            source = sources_api.columns(sources_api.SourceIn.model_validate(raw))
            doc.sources[raw["name"]] = sources_api.written(source)
        elif kind == "event_types":
            event_type = event_types_api.EventTypeIn.model_validate(raw)
            doc.event_types[raw["name"]] = event_types_api.checked(event_type)
        else:
            workflow = checked(raw, command_dirs)
            doc.workflows[raw["name"]] = {name: workflow[name] for name in WORKFLOW_FIELDS}
    except pydantic.ValidationError as exc:
        return [_pydantic(doc, path, label, error) for error in exc.errors()]
    except HookhubError as exc:
        where = _node_path(raw, exc.field.split(".")) if exc.field else []
        message = exc.message
        if kind == "workflows" and where[:1] == ["nodes"] and message.startswith("node "):
            message = message.split(": ", 1)[-1]  # the field already names the node
        parts = exc.field.split(".") if exc.field else []
        for start in range(len(parts)):
            prefix = ".".join(parts[start:]) + ": "
            if message.startswith(prefix):  # the field is shown already
                message = message[len(prefix) :]
                break
        return [_at(doc, (*path, *where), label, message)]
    return []


def _rule(raw: dict[str, Any]) -> dict[str, Any]:
    data = dict(raw)
    if "webhook_id" in data:
        raise ValidationError("refer to the webhook by name: webhook: <name>", field="webhook_id")
    webhook = data.pop("webhook", None)
    if not isinstance(webhook, str) or not webhook:
        raise ValidationError("the name of a webhook is required", field="webhook")
    rule = RuleIn.model_validate({**data, "webhook_id": webhook}).model_dump()
    try:
        validate_conditions(rule["conditions"])
    except ConditionError as exc:
        where = "conditions" + (f".{exc.path}" if exc.path else "")
        raise ValidationError(str(exc), field=where) from None
    return {**{name: rule[name] for name in RULE_FIELDS}, "webhook": webhook}


def _node_path(raw: Mapping[str, Any], parts: list[str]) -> list[str | int]:
    """A workflow error's field (`nodes.<id>.then`) as a path into the file (`nodes.2.then`)."""
    path: list[str | int] = list(parts)
    if len(parts) > 1 and parts[0] == "nodes" and isinstance(raw.get("nodes"), list):
        for position, node in enumerate(raw["nodes"]):
            if isinstance(node, dict) and str(node.get("id")) == parts[1]:
                path[1] = position
                break
        else:
            if parts[1].isdigit():
                path[1] = int(parts[1])
    return path


def _pydantic(doc: Document, path: Path_, label: str, error: Any) -> Problem:
    loc = [part for part in error["loc"] if part != "webhook_id"] or ["webhook"]
    return _at(doc, (*path, *loc), label, validation_message(error))


def _at(doc: Document, path: Path_, label: str, message: str) -> Problem:
    """A problem at `path` (kind, position, field parts...): the deepest line the file has.

    Parts the file doesn't have (a discriminated union's tag, a missing field) are skipped
    when looking for the line but the last one is kept in the field's name."""
    resolved: list[str | int] = list(path[:2])
    shown: list[str] = []
    rest = path[2:]
    for number, part in enumerate(rest):
        candidate = (*resolved, part)
        if candidate in doc.lines:
            resolved.append(part)
            shown.append(f"[{part}]" if isinstance(part, int) else f".{part}")
        elif number == len(rest) - 1:
            shown.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return Problem(doc.file, _line(doc.lines, tuple(resolved)), label + "".join(shown), message)


def _line(lines: Mapping[Path_, int], path: Path_) -> int:
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def _substitute(
    value: Any, path: Path_, env: Mapping[str, str], missing: list[tuple[Path_, str]]
) -> Any:
    """`value` with `${NAME}` references replaced from `env`; unset names go to `missing`."""
    if isinstance(value, dict):
        return {k: _substitute(v, (*path, k), env, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*path, i), env, missing) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "${"
        if not ENV_NAME.fullmatch(name):
            missing.append((path, f"${{{name}}} is not an environment variable name"))
            return ""
        if name not in env:
            missing.append((path, f"environment variable {name} is not set"))
            return ""
        return env[name]

    return REFERENCE.sub(replace, value)


def _compose(text: str) -> tuple[Any, dict[Path_, int]]:
    """The YAML document as Python data, and the line (1-based) of every key and item."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    _mark(node, (), lines)
    return data, lines


def _mark(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                child = (*path, key.value)
                lines[child] = key.start_mark.line + 1
                _mark(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            child = (*path, position)
            lines[child] = item.start_mark.line + 1
            _mark(item, child, lines)
