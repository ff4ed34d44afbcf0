"""The node types: condition, request, emit, set, response, command, delay, foreach. Each
compiles its templates once and turns a run's context into a `Step`: what it did (input,
output) and where to go next; a delay asks the engine to park the run, a foreach to loop."""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from jinja2 import Template

from hookhub.core.conditions import evaluate
from hookhub.core.events import validated
from hookhub.core.masking import mask_url
from hookhub.core.templates import compile_template, render
from hookhub.db.store import Store
from hookhub.errors import ValidationError
from hookhub.outbound.client import OutboundRequest, Sender
from hookhub.outbound.intake import ingest
from hookhub.outbound.rendering import credential_headers, mask_headers, signature_headers
from hookhub.workflows.commands import CommandRefused, resolve_program, run_program

Context = dict[str, Any]
LOG_TEXT_LIMIT = 64 * 1024  # characters of a request node's body and response kept in the log
MAX_DELAY = 30 * 86400.0  # seconds a delay node may park a run
MAX_ITEMS = 1000  # items one foreach node loops over


@dataclass(frozen=True)
class Services:
    """What nodes reach outside the run: the store (emit), HTTP (request), the dispatcher."""

    store: Store
    sender: Sender
    on_work: Callable[[], None] | None = None
    command_dirs: tuple[str, ...] = ()  # HOOKHUB_COMMAND_DIRS; empty = command nodes off


@dataclass(frozen=True)
class Step:
    """One node's record and the next node; `response` ends the run with that answer,
    `park_until` (a time) parks it until then, `each` runs the node's loop over these items."""

    input: Any
    output: Any
    next: str | None = None
    response: dict[str, Any] | None = None
    park_until: float | None = None
    each: list[Any] | None = None


class NodeFailed(Exception):
    """A node could not do its job; the message goes to the run log."""

    def __init__(self, message: str, input: Any = None, output: Any = None) -> None:
        super().__init__(message)
        self.input = input
        self.output = output


def json_value(text: str) -> Any:
    """Rendered text as the JSON it spells (`42`, `true`, `{...}`), else the text itself."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


class Node(ABC):
    """A compiled node. Template syntax errors raise ValidationError naming node and field."""

    type: ClassVar[str]

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.id: str = spec["id"]
        self.on_error: str | None = spec.get("on_error")

    def template(self, source: str, field: str) -> Template:
        """Compile one of this node's templates."""
        try:
            return compile_template(source, field)
        except ValidationError as exc:
            raise ValidationError(
                f"node {self.id!r}: {field}: {exc.message}", field=f"nodes.{self.id}.{field}"
            ) from None

    def templates(self, sources: Mapping[str, str], field: str) -> dict[str, Template]:
        """Compile a map of name → template."""
        return {name: self.template(text, f"{field}.{name}") for name, text in sources.items()}

    @staticmethod
    def render_all(
        templates: Mapping[str, Template], context: Context, field: str
    ) -> dict[str, str]:
        """Render a map of templates; values are kept to one line (header values)."""
        return {
            name: " ".join(render(t, context, f"{field}.{name}").splitlines()).strip()
            for name, t in templates.items()
        }

    @abstractmethod
    async def run(self, context: Context, services: Services) -> Step:
        """Do this node's work against the run's context."""


class ConditionNode(Node):
    """Branch to `then` or `else` on rule-language conditions or a Jinja2 expression."""

    type = "condition"

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__(spec)
        self.conditions: dict[str, Any] | None = spec["conditions"]
        self.source: str | None = spec["expression"]
        self.expression = None
        if self.source is not None:
            self.expression = self.template(f"{{% if {self.source} %}}1{{% endif %}}", "expression")
        self.then: str | None = spec["then"]
        self.otherwise: str | None = spec["else"]

    async def run(self, context: Context, services: Services) -> Step:
        if self.expression is not None:
            matched = render(self.expression, context, "expression") == "1"
            shown: Any = {"expression": self.source}
        else:
            matched = evaluate(self.conditions, context)
            shown = {"conditions": self.conditions}
        target = self.then if matched else self.otherwise
        return Step(input=shown, output={"result": matched}, next=target)


class RequestNode(Node):
    """Call an HTTP endpoint; its status, headers, JSON and text become `nodes.<id>`."""

    type = "request"

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__(spec)
        self.url = self.template(spec["url"], "url")
        self.method: str = spec["method"]
        self.headers = self.templates(spec["headers"], "headers")
        self.body = self.template(spec["body"], "body") if spec["body"] is not None else None
        self.content_type: str = spec["content_type"]
        self.timeout: float = spec["timeout"]
        self.auth: Mapping[str, Any] | None = spec["auth"]
        self.cookies: Mapping[str, Any] | None = spec["cookies"]
        self.secret: str | None = spec["secret"]
        self.ssl_verification: bool = spec["ssl_verification"]
        self.ignore_failure: bool = spec["ignore_failure"]
        self.next: str | None = spec["next"]

    async def run(self, context: Context, services: Services) -> Step:
        url = render(self.url, context, "url").strip()
        headers = {"Content-Type": self.content_type}
        headers.update(self.render_all(self.headers, context, "headers"))
        body = render(self.body, context, "body").encode() if self.body is not None else b""
        headers.update(credential_headers(self.auth, self.cookies))
        message_id = f"{context['run']['id']}.{self.id}"
        headers.update(signature_headers(self.secret, message_id, body, int(time.time())))
        request = OutboundRequest(
            url=url,
            method=self.method,
            headers=headers,
            body=body,
            timeout=self.timeout,
            ssl_verification=self.ssl_verification,
        )
        shown = {
            "url": mask_url(url, template=False),
            "method": self.method,
            "headers": mask_headers(headers),
            "body": body[:LOG_TEXT_LIMIT].decode("utf-8", errors="replace"),
        }
        outcome = await services.sender.send(request)
        text = outcome.body.decode("utf-8", errors="replace")
        output = {
            "status": outcome.status,
            "headers": {name.lower(): value for name, value in outcome.headers.items()},
            "json": json_value(text) if text else None,
            "text": text[:LOG_TEXT_LIMIT],
            "error": outcome.error,
        }
        if not outcome.ok and not self.ignore_failure:
            what = f"status {outcome.status}" if outcome.status is not None else outcome.error
            raise NodeFailed(f"{self.method} {url}: {what}", shown, output)
        return Step(input=shown, output=output, next=self.next)


class EmitNode(Node):
    """Publish an outbound event; event rules fan it out to webhooks."""

    type = "emit"

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__(spec)
        self.object_type = self.template(spec["object_type"], "object_type")
        self.event = self.template(spec["event"], "event")
        self.data = self.template(spec["data"], "data") if spec["data"] is not None else None
        self.next: str | None = spec["next"]

    async def run(self, context: Context, services: Services) -> Step:
        data = None
        if self.data is not None:
            text = render(self.data, context, "data")
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise NodeFailed(f"data: the rendered text is not JSON: {exc}") from None
        fields = {
            # One id per (run, node): a run executed again after a crash emits nothing twice.
            "id": f"{context['run']['id']}.{self.id}",
            "object_type": render(self.object_type, context, "object_type").strip(),
            "event": render(self.event, context, "event").strip(),
            "data": data,
            "request_id": context["run"]["id"],
        }
        try:
            event = validated(fields)  # what POST /events would refuse, this node refuses too
        except ValidationError as exc:
            raise NodeFailed(f"the rendered event is invalid: {exc.message}") from None
        try:
            accepted = await ingest(services.store, [event], services.on_work)
        except ValidationError as exc:  # its type's schema (the event-type catalog) refused it
            raise NodeFailed(f"the rendered event is invalid: {exc.message}") from None
        output = {"event_id": accepted.ids[0], "deliveries": accepted.deliveries}
        return Step(input=event, output=output, next=self.next)


class SetNode(Node):
    """Compute variables; a value rendering to JSON (a number, true, a list) is kept as JSON."""

    type = "set"

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__(spec)
        self.values = self.templates(spec["values"], "values")
        self.next: str | None = spec["next"]

    async def run(self, context: Context, services: Services) -> Step:
        values = {
            name: json_value(render(template, context, f"values.{name}"))
            for name, template in self.values.items()
        }
        context["vars"].update(values)
        return Step(input=None, output=values, next=self.next)


class ResponseNode(Node):
    """End the run with an answer: status, headers and body, templated."""

    type = "response"

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__(spec)
        self.status: int = spec["status"]
        self.headers = self.templates(spec["headers"], "headers")
        self.body = self.template(spec["body"], "body")

    async def run(self, context: Context, services: Services) -> Step:
        answer = {
            "status": self.status,
            "headers": self.render_all(self.headers, context, "headers"),
            "body": render(self.body, context, "body"),
        }
        return Step(input=None, output=answer, response=answer)


class CommandNode(Node):
    """Run a program from HOOKHUB_COMMAND_DIRS with templated arguments, never via a shell."""

    type = "command"

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__(spec)
        self.program: str = spec["argv"][0]
        self.args = [
            self.template(text, f"argv.{index}")
            for index, text in enumerate(spec["argv"][1:], start=1)
        ]
        self.env = self.templates(spec["env"], "env")
        self.cwd: str | None = spec["cwd"]
        self.stdin = self.template(spec["stdin"], "stdin") if spec["stdin"] is not None else None
        self.timeout: float = spec["timeout"]
        self.fail_on_exit: bool = spec["fail_on_exit"]
        self.next: str | None = spec["next"]

    async def run(self, context: Context, services: Services) -> Step:
        try:
            program = resolve_program(self.program, services.command_dirs)
        except CommandRefused as exc:
            raise NodeFailed(str(exc)) from None
        # Each item is exactly one argument, as rendered: no shell, no splitting, no trimming.
        args = [render(t, context, f"argv.{i}") for i, t in enumerate(self.args, start=1)]
        env = {name: render(t, context, f"env.{name}") for name, t in self.env.items()}
        stdin = render(self.stdin, context, "stdin").encode() if self.stdin is not None else None
        cwd = self.cwd or os.path.dirname(program)
        shown = {"argv": [self.program, *args], "cwd": cwd, "env": sorted(env)}
        try:
            done = await run_program([program, *args], env, cwd, stdin, self.timeout)
        except OSError as exc:
            raise NodeFailed(f"cannot start {self.program}: {exc.strerror or exc}", shown) from None
        output = {
            "exit_code": done.exit_code,
            "stdout": done.stdout.decode("utf-8", errors="replace"),
            "stderr": done.stderr.decode("utf-8", errors="replace"),
            "truncated": {"stdout": done.stdout_truncated, "stderr": done.stderr_truncated},
            "timed_out": done.timed_out,
            "duration_ms": done.duration_ms,
        }
        if done.timed_out:
            raise NodeFailed(
                f"{self.program}: killed after its timeout of {self.timeout:g} s", shown, output
            )
        if done.exit_code != 0 and self.fail_on_exit:
            raise NodeFailed(f"{self.program}: exit code {done.exit_code}", shown, output)
        return Step(input=shown, output=output, next=self.next)


class DelayNode(Node):
    """Park an async run for `seconds`; the engine stores it and any runner resumes it."""

    type = "delay"

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__(spec)
        self.seconds = self.template(spec["seconds"], "seconds")
        self.next: str | None = spec["next"]

    async def run(self, context: Context, services: Services) -> Step:
        text = render(self.seconds, context, "seconds").strip()
        try:
            seconds = float(text)
        except ValueError:
            raise NodeFailed(f"seconds: {text[:100]!r} is not a number") from None
        if not 0 <= seconds <= MAX_DELAY:
            raise NodeFailed(f"seconds: {seconds:g} is not between 0 and {MAX_DELAY:g}")
        until = time.time() + seconds
        return Step(
            input={"seconds": seconds},
            output={"seconds": seconds, "until": until},
            next=self.next,
            park_until=until,
        )


class ForeachNode(Node):
    """Run the chain starting at `do` once per item; the engine runs the passes."""

    type = "foreach"

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__(spec)
        self.items = self.template(spec["items"], "items")
        self.do: str = spec["do"]
        self.concurrency: int = spec["concurrency"]
        self.next: str | None = spec["next"]

    async def run(self, context: Context, services: Services) -> Step:
        items = json_value(render(self.items, context, "items"))
        if not isinstance(items, list):
            raise NodeFailed(f"items: must render to a JSON list, got {type(items).__name__}")
        if len(items) > MAX_ITEMS:
            raise NodeFailed(f"items: {len(items)} items, more than the limit of {MAX_ITEMS}")
        shown = {"count": len(items), "concurrency": self.concurrency}
        return Step(input=shown, output=None, next=self.next, each=items)


NODES: dict[str, type[Node]] = {
    cls.type: cls
    for cls in (
        ConditionNode,
        RequestNode,
        EmitNode,
        SetNode,
        ResponseNode,
        CommandNode,
        DelayNode,
        ForeachNode,
    )
}


def compile_node(spec: Mapping[str, Any]) -> Node:
    """The runtime node for a validated node spec."""
    return NODES[spec["type"]](spec)
