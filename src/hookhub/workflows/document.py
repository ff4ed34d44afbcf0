"""The workflow document: its shape, defaults and graph rules, checked when it is saved.

`validate_workflow` returns the normalized document (defaults filled in) or raises
ValidationError naming the field, and for node problems the node, e.g.
`node 'check': then: no node with id 'oops'`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
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

from hookhub.core.conditions import ConditionError, validate_conditions
from hookhub.errors import ValidationError
from hookhub.inbound.paths import PathError, check_path

NODE_TYPES = ("condition", "request", "emit", "set", "response")
MAX_NODES = 500  # nodes in one workflow

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
HeaderName = Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}$")]
VarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
DEFAULT_METHODS: tuple[Method, ...] = ("POST",)
Status = Annotated[int, Field(ge=100, le=599)]
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
    tolerance: float = Field(300.0, gt=0, le=7 * 86400, description="seconds (standard, stripe)")


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
    window: float = Field(86400.0, gt=0, le=30 * 86400, description="seconds")


class Trigger(_Model):
    methods: list[Method] = Field(default_factory=lambda: list(DEFAULT_METHODS), min_length=1)
    mode: Literal["async", "sync"] = "async"
    auth: Annotated[BasicAuth | HeaderAuth | HmacAuth, Field(discriminator="type")] | None = None
    ip_allowlist: list[str] = Field(default_factory=list, max_length=1000)
    parse: Parse = Field(default_factory=Parse)
    response: TriggerResponse = Field(default_factory=TriggerResponse)
    timeout: float = Field(30.0, gt=0, le=300, description="seconds (sync mode)")
    filter: Filter | None = None
    dedupe: Dedupe | None = None
    concurrency: int | None = Field(None, ge=1, le=100_000)
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
    timeout: float = Field(10.0, ge=0.5, le=120, description="seconds")
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


Node = Annotated[
    ConditionNode | RequestNode | EmitNode | SetNode | ResponseNode, Field(discriminator="type")
]
_NODE = TypeAdapter[Node](Node)


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


def validate_workflow(data: Mapping[str, Any]) -> dict[str, Any]:
    """The normalized document, or ValidationError (pydantic's for the top-level shape)."""
    workflow = WorkflowIn.model_validate(data)
    nodes = [_node(raw, index) for index, raw in enumerate(workflow.nodes)]
    doc = workflow.model_dump(by_alias=True)
    doc["nodes"] = nodes
    _check_graph(doc["start"], nodes)
    _check_conditions(doc)
    return doc


def _node(raw: dict[str, Any], index: int) -> dict[str, Any]:
    node_id = raw.get("id")
    label = repr(node_id) if isinstance(node_id, str) else f"#{index}"
    key = node_id if isinstance(node_id, str) else str(index)
    if raw.get("type") not in NODE_TYPES:
        raise ValidationError(
            f"node {label}: type must be one of {', '.join(NODE_TYPES)}, got {raw.get('type')!r}",
            field=f"nodes.{key}.type",
        )
    try:
        node = _NODE.validate_python(raw)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        # The first location part is the union member (the node type).
        where = ".".join(str(part) for part in error["loc"][1:])
        message = f"{where}: {error['msg']}" if where else error["msg"]
        raise ValidationError(f"node {label}: {message}", field=f"nodes.{key}.{where}") from None
    if isinstance(node, ConditionNode) and (node.conditions is None) == (node.expression is None):
        raise ValidationError(
            f"node {label}: give either conditions or expression", field=f"nodes.{key}.conditions"
        )
    return node.model_dump(by_alias=True)


def _edges(node: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(name, node[name]) for name in ("then", "else", "next") if node.get(name)]


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
