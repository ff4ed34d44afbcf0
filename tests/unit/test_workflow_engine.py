"""The engine resuming a run a delay node parked, without storage or network."""

from __future__ import annotations

from typing import Any, cast

from hookhub.db.store import Store
from hookhub.outbound.client import Sender
from hookhub.workflows.document import validate_workflow
from hookhub.workflows.engine import CompiledWorkflow, Engine
from hookhub.workflows.nodes import Services

DOC = {
    "name": "later",
    "start": "pause",
    "nodes": [
        {"id": "pause", "type": "delay", "seconds": "60", "next": "note"},
        {"id": "note", "type": "set", "values": {"seen": "{{ vars.before }}-{{ body.n }}"}},
    ],
}
RUN = {"id": "run_1", "workflow_id": "wf_1"}


def _engine() -> Engine:
    # Neither node here reaches the store or the network.
    return Engine(Services(store=cast(Store, None), sender=cast(Sender, None)))


def _context() -> dict[str, Any]:
    return {"headers": {}, "query": {}, "body": {"n": 7}, "vars": {}}


async def test_a_delay_parks_and_the_run_resumes_where_it_stopped() -> None:
    workflow = CompiledWorkflow(validate_workflow(DOC))
    context = _context()
    context["vars"] = {"before": "b"}
    parked = await _engine().execute(workflow, RUN, context)
    assert parked.status == "waiting"
    assert parked.resume is not None and parked.resume["at"] == "note"
    assert [entry["id"] for entry in parked.nodes] == ["pause"]
    # What the runner stores and hands back: JSON-safe, with the log so far.
    resumed = await _engine().execute(workflow, RUN, _context(), parked.resume, parked.nodes)
    assert resumed.status == "succeeded"
    assert [entry["id"] for entry in resumed.nodes] == ["pause", "note"]
    assert resumed.vars == {"before": "b", "seen": "b-7"}


async def test_a_sync_run_fails_at_a_delay() -> None:
    workflow = CompiledWorkflow(validate_workflow(DOC))
    result = await _engine().execute(workflow, RUN, _context(), parkable=False)
    assert result.status == "failed"
    assert result.error == "node 'pause' (delay) failed: a delay node runs in async runs only"


async def test_a_run_whose_next_node_was_removed_meanwhile_fails_clearly() -> None:
    changed = {**DOC, "nodes": [{"id": "pause", "type": "delay", "seconds": "60"}]}
    workflow = CompiledWorkflow(validate_workflow(changed))
    resume = {"at": "note", "until": 0.0, "vars": {}, "nodes": {}, "error": None}
    result = await _engine().execute(workflow, RUN, _context(), resume)
    assert result.status == "failed"
    assert result.error == "cannot resume: node 'note' is no longer in the workflow"
