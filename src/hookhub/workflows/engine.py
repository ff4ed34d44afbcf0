"""The engine: walk a compiled workflow from `start`, node by node, keeping the node log.

A failing node with `on_error` hands over to that node (with `error` in the context) instead
of failing the run; a foreach runs its `do` chain per item; a delay ends the walk with the
run `waiting`, for the runner to park it in the database and any runner to resume it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hookhub.core.templates import RenderError
from hookhub.workflows.nodes import (
    Context,
    ForeachNode,
    Node,
    NodeFailed,
    Services,
    Step,
    compile_node,
)

log = logging.getLogger("hookhub.workflows")

LOGGED_PASSES = 20  # foreach passes whose node entries go to the run log (failed ones always)


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
    """How a run ended: status, the node log, variables, and the response node's answer.

    `waiting`: a delay node parked it; `resume` says where and with what it goes on."""

    status: str  # succeeded | failed | waiting
    nodes: list[dict[str, Any]] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    error: str | None = None
    failed_node: str | None = None
    response: dict[str, Any] | None = None
    resume: dict[str, Any] | None = None


@dataclass
class _Walked:
    """How one walk along the graph ended (a whole run, or one pass of a foreach)."""

    result: Any = None
    response: dict[str, Any] | None = None
    failed: tuple[str, str] | None = None  # node id, error
    park: tuple[float, str | None] | None = None  # until, the node to resume at


class Engine:
    """Runs workflows against a request context; never raises for what a node does."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def execute(
        self,
        workflow: CompiledWorkflow,
        run: Mapping[str, Any],
        context: Context,
        resume: Mapping[str, Any] | None = None,
        journal: Sequence[dict[str, Any]] = (),
        parkable: bool = True,
    ) -> RunResult:
        """Run `workflow` for run `{"id", "workflow_id"}` from the request `context`; from
        `resume` (with the node log so far, `journal`) for a run a delay node parked. Without
        `parkable` (sync runs), a delay node fails."""
        context = {**context, "vars": dict(context["vars"]), "nodes": {}, "run": dict(run)}
        current: str | None = workflow.start
        outcome = RunResult(status="succeeded", vars=context["vars"], nodes=list(journal))
        if resume is not None:
            if resume["at"] not in workflow.nodes:
                # The workflow was changed while the run waited: its next node is gone.
                outcome.status = "failed"
                outcome.error = f"cannot resume: node {resume['at']!r} is no longer in the workflow"
                return outcome
            context["vars"].update(resume["vars"])
            context["nodes"] = dict(resume["nodes"])
            if resume.get("error") is not None:
                context["error"] = resume["error"]
            outcome.result = resume.get("result")
            current = resume["at"]
        walked = await self._walk(workflow, current, context, outcome.nodes, parkable, {})
        if walked.failed is not None:
            node = workflow.nodes[walked.failed[0]]
            outcome.status, outcome.failed_node = "failed", node.id
            outcome.error = f"node {node.id!r} ({node.type}) failed: {walked.failed[1]}"
            return outcome
        outcome.result = walked.result if outcome.nodes[len(journal) :] else outcome.result
        outcome.response = walked.response
        if walked.park is not None:
            until, at = walked.park
            if at is not None:
                outcome.status = "waiting"
                outcome.resume = {
                    "at": at,
                    "until": until,
                    "vars": context["vars"],
                    "nodes": context["nodes"],
                    "error": context.get("error"),
                    "result": outcome.result,
                }
        return outcome

    async def _walk(
        self,
        workflow: CompiledWorkflow,
        current: str | None,
        context: Context,
        journal: list[dict[str, Any]],
        parkable: bool,
        where: Mapping[str, Any],
    ) -> _Walked:
        """Go node by node from `current` until a node names no next one, a response, a
        delay (parks) or an unhandled failure; `where` marks the log entries of a loop pass."""
        walked = _Walked()
        # Cycles are refused when saved; the bound is a second line of defence.
        for _ in range(len(workflow.nodes)):
            if current is None:
                break
            node = workflow.nodes[current]
            entry: dict[str, Any] = {"id": node.id, "type": node.type, **where}
            entry["started_at"] = time.time()
            started = time.perf_counter()
            journal.append(entry)
            try:
                step = await node.run(context, self.services)
                if step.each is not None:
                    assert isinstance(node, ForeachNode)
                    step = replace(
                        step, output=await self._loop(workflow, node, step, context, journal)
                    )
                if step.park_until is not None and not parkable:
                    raise NodeFailed("a delay node runs in async runs only")
            except (NodeFailed, RenderError) as exc:
                entry.update(_failure(exc))
            except Exception as exc:
                log.exception("node %r of workflow %s failed unexpectedly", node.id, workflow.id)
                entry.update(input=None, output=None, error=f"internal error: {type(exc).__name__}")
            else:
                entry.update(input=step.input, output=step.output, error=None)
            entry["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
            if entry["error"] is not None:
                if node.on_error is None:
                    walked.failed = (node.id, entry["error"])
                    return walked
                # Handled: the run goes on at the error branch, which reads `error`.
                context["error"] = {
                    "node": node.id,
                    "type": node.type,
                    "message": entry["error"],
                    "output": entry["output"],
                }
                entry["handled_by"] = node.on_error
                current = node.on_error
                continue
            context["nodes"][node.id] = step.output
            walked.result = step.output
            if step.response is not None:
                walked.response = step.response
                break
            if step.park_until is not None:
                walked.park = (step.park_until, step.next)
                break
            current = step.next
        return walked

    async def _loop(
        self,
        workflow: CompiledWorkflow,
        node: ForeachNode,
        step: Step,
        context: Context,
        journal: list[dict[str, Any]],
    ) -> list[Any]:
        """Run `node`'s chain once per item, `concurrency` at a time; the list of each pass's
        last output, or NodeFailed naming the first pass that failed (no pass starts after)."""
        items = step.each or []
        gate = asyncio.Semaphore(node.concurrency)
        failures: list[str] = []

        async def one(index: int, item: Any) -> Any:
            async with gate:
                if failures:
                    return None
                # Each pass sees `item` and `index`; what it sets and outputs stays its own.
                own = {
                    **context,
                    "vars": dict(context["vars"]),
                    "nodes": dict(context["nodes"]),
                    "item": item,
                    "index": index,
                }
                entries: list[dict[str, Any]] = []
                walked = await self._walk(
                    workflow, node.do, own, entries, False, {"loop": node.id, "index": index}
                )
                if walked.failed is not None or index < LOGGED_PASSES:
                    journal.extend(entries)
                if walked.failed is not None:
                    failed = workflow.nodes[walked.failed[0]]
                    failures.append(
                        f"pass {index}: node {failed.id!r} ({failed.type}) failed: "
                        f"{walked.failed[1]}"
                    )
                return walked.result

        results = await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
        if failures:
            raise NodeFailed(failures[0], step.input, {"passes": len(items), "failed": failures})
        return list(results)


def _failure(exc: NodeFailed | RenderError) -> dict[str, Any]:
    if isinstance(exc, NodeFailed):
        return {"input": exc.input, "output": exc.output, "error": str(exc)}
    return {"input": None, "output": None, "error": f"template error: {exc}"}
