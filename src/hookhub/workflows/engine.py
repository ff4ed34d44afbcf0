"""The engine: walk a compiled workflow from `start`, node by node, keeping the node log."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hookhub.core.templates import RenderError
from hookhub.workflows.nodes import Context, Node, NodeFailed, Services, compile_node

log = logging.getLogger("hookhub.workflows")


class CompiledWorkflow:
    """A workflow row (or validated document) with every node's templates compiled once."""

    def __init__(self, row: Mapping[str, Any]) -> None:
        self.id: str | None = row.get("id")
        self.version: int = row.get("version", 0)
        self.start: str = row["start"]
        self.trigger: Mapping[str, Any] = row["trigger"]
        self.nodes: dict[str, Node] = {spec["id"]: compile_node(spec) for spec in row["nodes"]}


@dataclass
class RunResult:
    """How a run ended: status, the node log, variables, and the response node's answer."""

    status: str  # succeeded | failed
    nodes: list[dict[str, Any]] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    error: str | None = None
    failed_node: str | None = None
    response: dict[str, Any] | None = None


class Engine:
    """Runs workflows against a request context; never raises for what a node does."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def execute(
        self, workflow: CompiledWorkflow, run: Mapping[str, Any], context: Context
    ) -> RunResult:
        """Run `workflow` for run `{"id", "workflow_id"}` from the request `context`."""
        context = {**context, "vars": dict(context["vars"]), "nodes": {}, "run": dict(run)}
        outcome = RunResult(status="succeeded", vars=context["vars"])
        current: str | None = workflow.start
        # Cycles are refused when saved; the bound is a second line of defence.
        for _ in range(len(workflow.nodes)):
            if current is None:
                break
            node = workflow.nodes[current]
            entry: dict[str, Any] = {"id": node.id, "type": node.type, "started_at": time.time()}
            started = time.perf_counter()
            outcome.nodes.append(entry)
            try:
                step = await node.run(context, self.services)
            except (NodeFailed, RenderError) as exc:
                entry.update(_failure(exc))
            except Exception as exc:
                log.exception("node %r of workflow %s failed unexpectedly", node.id, workflow.id)
                entry.update(error=f"internal error: {type(exc).__name__}")
            else:
                entry.update(input=step.input, output=step.output, error=None)
            entry["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
            if entry["error"] is not None:
                outcome.status, outcome.failed_node = "failed", node.id
                outcome.error = f"node {node.id!r} ({node.type}) failed: {entry['error']}"
                return outcome
            context["nodes"][node.id] = step.output
            outcome.result = step.output
            if step.response is not None:
                outcome.response = step.response
                break
            current = step.next
        return outcome


def _failure(exc: NodeFailed | RenderError) -> dict[str, Any]:
    if isinstance(exc, NodeFailed):
        return {"input": exc.input, "output": exc.output, "error": str(exc)}
    return {"input": None, "output": None, "error": f"template error: {exc}"}
