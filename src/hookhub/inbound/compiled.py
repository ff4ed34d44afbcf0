"""A trigger's settings, prepared once per workflow version for the hot path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Template

from hookhub.core.templates import compile_template, render
from hookhub.inbound.answers import Answer, text_answer
from hookhub.inbound.auth import networks


def _template(source: str, field: str) -> Template | str:
    # Most bodies are constant ("ok"): those skip Jinja on every request.
    return compile_template(source, field) if "{" in source else source


def _render(template: Template | str, context: Mapping[str, Any], field: str) -> str:
    return template if isinstance(template, str) else render(template, context, field)


def _header(value: str) -> str:
    # A header value is one line: rendered line breaks become spaces.
    return " ".join(value.splitlines()).strip()


class CompiledTrigger:
    """The `trigger` object of a workflow: methods, auth, parsing, response, edge options."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.methods: tuple[str, ...] = tuple(spec["methods"])
        self.mode: str = spec["mode"]
        self.auth: Mapping[str, Any] | None = spec["auth"]
        self.networks = networks(spec["ip_allowlist"])
        self.parse: Mapping[str, Any] = spec["parse"]
        # Body paths need a structured body: JSON or a form.
        self.structured = bool(spec["parse"]["body"])
        response = spec["response"]
        self.status: int = response["status"]
        self.headers = {
            name: _template(value, f"trigger.response.headers.{name}")
            for name, value in response["headers"].items()
        }
        self.body = _template(response["body"], "trigger.response.body")
        templated = not isinstance(self.body, str) or not all(
            isinstance(value, str) for value in self.headers.values()
        )
        self.timeout: float = spec["timeout"]
        self.filter: Mapping[str, Any] | None = spec["filter"]
        dedupe = spec["dedupe"]
        self.dedupe_header: str | None = dedupe["header"].lower() if dedupe else None
        self.dedupe_window: float = dedupe["window"] if dedupe else 0.0
        self.concurrency: int | None = spec["concurrency"]
        self.cors_origins: tuple[str, ...] = tuple(spec["cors_origins"])
        self.callback: bool = spec["callback"]
        # A header-token's header is a credential whatever its name: masked in the run log.
        self.secret_headers: tuple[str, ...] = ()
        if self.auth and self.auth["type"] == "header":
            self.secret_headers = (self.auth["name"].lower(),)
        # Only a filter, a sync run or a templated answer reads the request's context.
        self.reads_context = self.filter is not None or self.mode == "sync" or templated
        # A constant answer is made and encoded once.
        self._constant = None if templated else self._answer({})

    @property
    def allow(self) -> str:
        """The `Allow` header of a 405 answer."""
        methods = list(self.methods)
        if self.cors_origins:
            methods.append("OPTIONS")
        return ", ".join(methods)

    def answer(self, context: Mapping[str, Any]) -> Answer:
        """The async answer, templated from the request (shared when constant: copy it with
        `Answer.with_header` before adding to it)."""
        return self._constant or self._answer(context)

    def _answer(self, context: Mapping[str, Any]) -> Answer:
        headers = {
            name: _header(_render(value, context, f"headers.{name}"))
            for name, value in self.headers.items()
        }
        return text_answer(self.status, headers, _render(self.body, context, "body"))
