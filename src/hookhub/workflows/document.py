"""The workflow document: its shape, defaults and graph rules, checked when it is saved.

`validate_workflow` returns the normalized document (defaults filled in) or raises
ValidationError naming the field, and for node problems the node, e.g.
`node 'check': then: no node with id 'oops'`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import pydantic
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    TypeAdapter,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from hookhub.core import limits
from hookhub.core.conditions import ConditionError, validate_conditions
from hookhub.core.limits import Range
from hookhub.core.paths import PathError, check_path
from hookhub.errors import ValidationError, validation_message
from hookhub.workflows.commands import CommandRefused, resolve_program

NODE_TYPES = ("condition", "request", "emit", "set", "response", "command", "delay", "foreach")
MAX_NODES = 500  # nodes in one workflow
EDGES = ("then", "else", "next", "do", "on_error")  # node fields that name another node

MAX_FOREACH_CONCURRENCY = 50  # passes of one foreach node run at once

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
HeaderName = Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}$")]
VarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
DEFAULT_METHODS: tuple[Method, ...] = ("POST",)
Status = Annotated[int, Range(limits.MIN_STATUS, limits.MAX_STATUS)]
Template = Annotated[str, Field(max_length=100_000)]


class _OnlyNamed:
    """In the JSON schema of a dict whose keys match a pattern, no other key is allowed (as
    validation has it; pydantic's schema would let any other key through)."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        documented = handler(schema)
        documented["additionalProperties"] = False
        return documented


_ONLY_NAMED = _OnlyNamed()
HeaderTemplates = Annotated[dict[HeaderName, Template], _ONLY_NAMED]


class _Model(BaseModel):
    # JSON types as the schema says them: no `false` for a number, no `"5"` for an integer.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


# -- trigger ------------------------------------------------------------------------------------


class BasicAuth(_Model):
    type: Literal["basic"]
    username: str = Field(min_length=1, max_length=200, pattern=r"^[^:]*$")
    password: str = Field(max_length=1000)


class HeaderAuth(_Model):
    type: Literal["header"]
    name: HeaderName
    value: str = Field(min_length=1, max_length=1000)


class HmacAuth(_Model):
    """Signature over the raw body; `header`, `algorithm`, `encoding`, `prefix` for `generic`."""

    type: Literal["hmac"]
    scheme: Literal["standard", "github", "stripe", "generic"]
    secret: str = Field(min_length=1, max_length=1000)
    header: HeaderName | None = None
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field("", max_length=50)
    tolerance: Annotated[float, Range(limits.MIN_TOLERANCE, limits.MAX_TOLERANCE, "seconds")] = (
        Field(300.0, description="seconds (standard, stripe)")
    )


class HeaderField(_Model):
    name: HeaderName
    alias: VarName | None = None


class PathField(_Model):
    path: str = Field(min_length=1, max_length=500)
    alias: VarName | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        try:
            check_path(value)
        except PathError as exc:
            raise ValueError(str(exc)) from None
        return value


class Parse(_Model):
    headers: list[HeaderField] = Field(default_factory=list, max_length=200)
    query: list[PathField] = Field(default_factory=list, max_length=200)
    body: list[PathField] = Field(default_factory=list, max_length=200)


class TriggerResponse(_Model):
    status: Status = 200
    headers: HeaderTemplates = Field(default_factory=dict)
    body: Template = "ok"


class Filter(_Model):
    """Pre-filter: requests whose context does not match get `status` and no run."""

    conditions: dict[str, Any]
    status: Status = 200
    body: str = Field("ignored", max_length=10_000)


class Dedupe(_Model):
    header: HeaderName
    window: Annotated[
        float, Range(limits.MIN_DEDUPE_WINDOW, limits.MAX_DEDUPE_WINDOW, "seconds")
    ] = Field(86400.0, description="seconds")


class Trigger(_Model):
    methods: list[Method] = Field(default_factory=lambda: list(DEFAULT_METHODS), min_length=1)
    mode: Literal["async", "sync"] = "async"
    auth: Annotated[BasicAuth | HeaderAuth | HmacAuth, Field(discriminator="type")] | None = None
    ip_allowlist: list[str] = Field(default_factory=list, max_length=1000)
    parse: Parse = Field(default_factory=Parse)
    response: TriggerResponse = Field(default_factory=TriggerResponse)
    timeout: Annotated[
        float, Range(limits.MIN_SYNC_TIMEOUT, limits.MAX_SYNC_TIMEOUT, "seconds")
    ] = Field(30.0, description="seconds (sync mode)")
    filter: Filter | None = None
    dedupe: Dedupe | None = None
    concurrency: Annotated[int, Range(1, limits.MAX_TRIGGER_CONCURRENCY)] | None = None
    cors_origins: list[str] = Field(default_factory=list, max_length=100)
    callback: bool = False

    @field_validator("ip_allowlist")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an IP address or CIDR") from None
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            scheme, sep, rest = origin.partition("://")
            if origin != "*" and (
                not sep or scheme not in ("http", "https") or not rest or "/" in rest
            ):
                raise ValueError(f"{origin!r} is not '*' or an origin like https://app.example.com")
        return value


# -- nodes --------------------------------------------------------------------------------------


class ConditionNode(_Model):
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["conditions"], "properties": {"conditions": {"type": "object"}}},
                {"required": ["expression"], "properties": {"expression": {"type": "string"}}},
            ]
        }
    )
    id: NodeId
    type: Literal["condition"]
    conditions: dict[str, Any] | None = None
    expression: Template | None = None
    then: NodeId | None = None
    else_: NodeId | None = Field(None, alias="else")


class NodeBasicAuth(_Model):
    type: Literal["basic"]
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class NodeBearerAuth(_Model):
    type: Literal["bearer"]
    token: str = Field(min_length=1, max_length=4000)


class RequestNode(_Model):
    id: NodeId
    type: Literal["request"]
    url: Template = Field(min_length=1)
    method: Method = "POST"
    # `Name: Value` lines are read as the object (`_header_lines`): the schema shows both.
    headers: HeaderTemplates | Annotated[str, Field(description="`Name: Value` lines")] = Field(
        default_factory=dict
    )
    body: Template | None = None
    content_type: str = Field("application/json", min_length=1, max_length=200)
    timeout: Annotated[float, Range(limits.MIN_TIMEOUT, limits.MAX_TIMEOUT, "seconds")] = Field(
        10.0, description="seconds"
    )
    auth: Annotated[NodeBasicAuth | NodeBearerAuth, Field(discriminator="type")] | None = None
    cookies: dict[str, str] | None = None
    secret: str | None = Field(None, max_length=1000)
    ssl_verification: bool = True
    ignore_failure: bool = False
    next: NodeId | None = None

    @field_validator("headers", mode="before")
    @classmethod
    def _header_lines(cls, value: Any) -> Any:
        # The webhook form, `Name: Value` lines, is accepted too.
        if isinstance(value, str):
            pairs = (line.partition(":") for line in value.splitlines() if line.strip())
            return {name.strip(): rest.strip() for name, _, rest in pairs}
        return value


class EmitNode(_Model):
    id: NodeId
    type: Literal["emit"]
    object_type: Template = Field(min_length=1)
    event: Template = Field(min_length=1)
    data: Template | None = Field(None, description="renders to JSON")
    next: NodeId | None = None


class SetNode(_Model):
    id: NodeId
    type: Literal["set"]
    values: Annotated[dict[VarName, Template], _ONLY_NAMED] = Field(min_length=1, max_length=200)
    next: NodeId | None = None


class ResponseNode(_Model):
    id: NodeId
    type: Literal["response"]
    status: Status = 200
    headers: HeaderTemplates = Field(default_factory=dict)
    body: Template = ""


class CommandNode(_Model):
    """Run a program from HOOKHUB_COMMAND_DIRS; argv items (after the first), env values and
    stdin are templates, each rendered to exactly one string."""

    id: NodeId
    type: Literal["command"]
    argv: list[Annotated[str, Field(max_length=10_000)]] = Field(min_length=1, max_length=200)
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")], Template] = Field(
        default_factory=dict, max_length=200
    )
    cwd: str | None = Field(None, min_length=1, max_length=4096)
    stdin: Template | None = None
    timeout: float = Field(30.0, gt=0, le=3600, description="seconds")
    fail_on_exit: bool = True
    next: NodeId | None = None

    @field_validator("argv")
    @classmethod
    def _program(cls, value: list[str]) -> list[str]:
        if not value[0].startswith("/"):
            raise ValueError("the program (argv[0]) must be an absolute path")
        return value


class DelayNode(_Model):
    """Park an async run until `seconds` (a template) have passed; any runner resumes it."""

    id: NodeId
    type: Literal["delay"]
    seconds: Template = Field(min_length=1)
    next: NodeId | None = None


class ForeachNode(_Model):
    """Run the chain starting at `do` once per item of `items` (a template rendering a list)."""

    id: NodeId
    type: Literal["foreach"]
    items: Template = Field(min_length=1)
    do: NodeId
    concurrency: int = Field(1, ge=1, le=MAX_FOREACH_CONCURRENCY)
    next: NodeId | None = None


Node = Annotated[
    ConditionNode
    | RequestNode
    | EmitNode
    | SetNode
    | ResponseNode
    | CommandNode
    | DelayNode
    | ForeachNode,
    Field(discriminator="type"),
]
_NODE = TypeAdapter[Node](Node)
_ON_ERROR = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")  # as NodeId
# Node types a foreach's `do` chain can't hold: a pass ends at a node without `next`.
NOT_IN_LOOPS = ("response", "delay", "foreach")


class _AsNodes:
    """The JSON schema of a list of `Node`s for a list read as plain objects: each node is
    checked on its own (`_node`), for messages that name it."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        documented = handler(schema)
        documented["items"] = handler(_NODE.core_schema)
        return documented


class WorkflowIn(_Model):
    """A workflow as users write it (JSON or YAML): trigger, start node, nodes."""

    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    trigger: Trigger = Field(default_factory=Trigger)
    start: NodeId = Field(description="the id of the node the run starts at")
    nodes: Annotated[list[dict[str, Any]], _AsNodes()] = Field(
        min_length=1,
        max_length=MAX_NODES,
        description="unique ids; `then`, `else` and `next` name other nodes, without cycles",
    )


FIELDS = tuple(WorkflowIn.model_fields)


def validate_workflow(
    data: Mapping[str, Any], command_dirs: Sequence[str] | None = None
) -> dict[str, Any]:
    """The normalized document, or ValidationError (pydantic's for the top-level shape).

    With `command_dirs` (HOOKHUB_COMMAND_DIRS), each command node's program must be inside
    one of them; None skips that check (a stored document read back, e.g. by export)."""
    workflow = WorkflowIn.model_validate(data)
    nodes = [_node(raw, index) for index, raw in enumerate(workflow.nodes)]
    doc = workflow.model_dump(by_alias=True)
    doc["nodes"] = nodes
    _check_graph(doc["start"], nodes)
    _check_conditions(doc)
    _check_flow(doc)
    if command_dirs is not None:
        _check_programs(nodes, command_dirs)
    return doc


def node_errors(data: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[ValidationError]]:
    """Each node checked on its own: the normalized nodes that pass, and every other node's
    problem, where validate_workflow stops at the first (a form shows them together)."""
    raw = data.get("nodes")
    good: list[dict[str, Any]] = []
    found: list[ValidationError] = []
    for index, node in enumerate(raw if isinstance(raw, list) else []):
        try:
            good.append(_node(node if isinstance(node, dict) else {}, index))
        except ValidationError as exc:
            found.append(exc)
    return good, found


def _node(raw: dict[str, Any], index: int) -> dict[str, Any]:
    node_id = raw.get("id")
    label = repr(node_id) if isinstance(node_id, str) else f"#{index}"
    key = node_id if isinstance(node_id, str) else str(index)
    if raw.get("type") not in NODE_TYPES:
        raise ValidationError(
            f"node {label}: type must be one of {', '.join(NODE_TYPES)}, got {raw.get('type')!r}",
            field=f"nodes.{key}.type",
        )
    # `on_error` is a field of every node type: checked here, beside the type's own fields.
    raw = dict(raw)
    on_error = raw.pop("on_error", None)
    if on_error is not None and not _ON_ERROR.fullmatch(str(on_error)):
        raise ValidationError(
            f"node {label}: on_error: {on_error!r} is not a node id", field=f"nodes.{key}.on_error"
        )
    try:
        node = _NODE.validate_python(raw)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        # The first location part is the union member (the node type).
        where = ".".join(str(part) for part in error["loc"][1:])
        message = validation_message(error)
        message = f"{where}: {message}" if where else message
        raise ValidationError(f"node {label}: {message}", field=f"nodes.{key}.{where}") from None
    if isinstance(node, ConditionNode) and (node.conditions is None) == (node.expression is None):
        raise ValidationError(
            f"node {label}: give either conditions or expression", field=f"nodes.{key}.conditions"
        )
    normalized = node.model_dump(by_alias=True)
    if on_error is not None:  # kept only when set: documents without it stay as they were
        normalized["on_error"] = on_error
    return normalized


def _edges(node: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(name, node[name]) for name in EDGES if node.get(name)]


def _check_graph(start: str, nodes: list[dict[str, Any]]) -> None:
    by_id: dict[str, dict[str, Any]] = {}
    for node in nodes:
        if node["id"] in by_id:
            raise ValidationError(
                f"node {node['id']!r}: another node has the same id", field=f"nodes.{node['id']}.id"
            )
        by_id[node["id"]] = node
    if start not in by_id:
        raise ValidationError(f"start: no node with id {start!r}", field="start")
    for node in nodes:
        for name, target in _edges(node):
            if target not in by_id:
                raise ValidationError(
                    f"node {node['id']!r}: {name}: no node with id {target!r}",
                    field=f"nodes.{node['id']}.{name}",
                )
    # Depth-first search: reaching a node that is still on the path means a cycle.
    state: dict[str, str] = {}
    for root in by_id:
        if root in state:
            continue
        stack = [(root, iter(_edges(by_id[root])))]
        state[root] = "open"
        while stack:
            current, edges = stack[-1]
            step = next(edges, None)
            if step is None:
                state[current] = "done"
                stack.pop()
                continue
            name, target = step
            if state.get(target) == "open":
                raise ValidationError(
                    f"node {current!r}: {name}: going to {target!r} makes a cycle",
                    field=f"nodes.{current}.{name}",
                )
            if target not in state:
                state[target] = "open"
                stack.append((target, iter(_edges(by_id[target]))))


def _check_conditions(doc: Mapping[str, Any]) -> None:
    checks: list[tuple[Any, str, str]] = []
    if doc["trigger"]["filter"]:
        checks.append((doc["trigger"]["filter"]["conditions"], "trigger.filter", ""))
    for node in doc["nodes"]:
        if node["type"] == "condition" and node["conditions"] is not None:
            checks.append((node["conditions"], f"nodes.{node['id']}", f"node {node['id']!r}: "))
    for conditions, where, label in checks:
        try:
            validate_conditions(conditions)
        except ConditionError as exc:
            raise ValidationError(f"{label}{exc}", field=f"{where}.{exc.path}") from None


def _reachable(start: str, by_id: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Ids of the nodes reachable from `start`, itself included (the graph has no cycle)."""
    seen: list[str] = []
    stack = [start]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.append(current)
        stack.extend(target for _, target in _edges(by_id[current]))
    return seen


def _check_flow(doc: Mapping[str, Any]) -> None:
    """Delays only in async workflows; no response, delay or nested foreach inside a loop."""
    by_id = {node["id"]: node for node in doc["nodes"]}
    for node in doc["nodes"]:
        if node["type"] == "delay" and doc["trigger"]["mode"] == "sync":
            raise ValidationError(
                f"node {node['id']!r}: a delay node needs an async trigger (mode: async): "
                "a sync caller cannot wait for it",
                field=f"nodes.{node['id']}.type",
            )
        if node["type"] != "foreach":
            continue
        for inner in _reachable(node["do"], by_id):
            if by_id[inner]["type"] in NOT_IN_LOOPS:
                raise ValidationError(
                    f"node {node['id']!r}: do: the chain it runs per item reaches "
                    f"{by_id[inner]['type']} node {inner!r}; a loop can't hold "
                    f"{', '.join(NOT_IN_LOOPS)} nodes",
                    field=f"nodes.{node['id']}.do",
                )


def _check_programs(nodes: Sequence[Mapping[str, Any]], command_dirs: Sequence[str]) -> None:
    for node in nodes:
        if node["type"] != "command":
            continue
        try:
            resolve_program(node["argv"][0], command_dirs)
        except CommandRefused as exc:
            raise ValidationError(
                f"node {node['id']!r}: argv.0: {exc}", field=f"nodes.{node['id']}.argv.0"
            ) from None
