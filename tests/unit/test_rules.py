"""Rule matching with NetBox's event type names, and the warnings given when a rule is saved
(issue 23.3)."""

from __future__ import annotations

from typing import Any

import pytest

from hookhub.outbound.rules import matches, warnings


def _rule(*event_types: str) -> dict[str, Any]:
    return {"object_types": [], "event_types": list(event_types), "conditions": None}


def _event(name: str, status: Any = None) -> dict[str, Any]:
    return {"object_type": "dcim.device", "event": name, "data": {"status": status}}


@pytest.mark.parametrize(
    ("netbox", "sent"),
    [("object_created", "created"), ("object_updated", "updated"), ("object_deleted", "deleted")],
)
def test_netbox_object_event_names_match_the_events_netbox_sends(netbox: str, sent: str) -> None:
    assert matches(_rule(netbox), _event(sent))
    assert matches(_rule(netbox), _event(netbox))
    assert not matches(_rule(netbox), _event("created" if sent != "created" else "deleted"))


def test_netbox_job_event_names_match_job_ended_by_status() -> None:
    assert matches(_rule("job_started"), _event("job_started"))
    assert matches(_rule("job_completed"), _event("job_ended", {"value": "completed"}))
    assert matches(_rule("job_failed"), _event("job_ended", "failed"))
    assert matches(_rule("job_errored"), _event("job_ended", {"value": "errored"}))
    assert not matches(_rule("job_completed"), _event("job_ended", {"value": "failed"}))
    assert not matches(_rule("job_failed"), _event("job_ended"))
    # hookhub's own spelling of job events too.
    assert matches(_rule("job_completed"), _event("job.completed"))
    # hookhub's names are not aliases the other way round.
    assert not matches(_rule("created"), _event("object_created"))


def test_netbox_names_are_said_to_be_netbox_names() -> None:
    said = warnings([], ["object_created", "job_failed"], set(), set())
    assert said[0] == (
        "event type 'object_created' is NetBox's name: it matches events named 'created'"
    )
    assert "'job_ended'" in said[1] and "job status" in said[1]


def test_types_never_seen_are_warned_about() -> None:
    seen_objects, seen_events = {"dcim.device", "ipam.ipaddress"}, {"created", "updated"}
    said = warnings(
        ["dcim.devcie", "dcim.device"], ["update", "created", "job.done"], seen_objects, seen_events
    )
    assert said == [
        "no event named 'update' has been received among the last 10000 events"
        " (did you mean 'updated'?); hookhub's own names are created, updated, deleted",
        "no event named 'job.done' has been received among the last 10000 events;"
        " hookhub's own names are created, updated, deleted",
        "no event with object_type 'dcim.devcie' has been received among the last 10000 events"
        " (did you mean 'dcim.device'?)",
    ]


def test_a_new_install_is_warned_only_about_likely_misspellings() -> None:
    """With no event received yet, custom names and object types are not suspect."""
    assert warnings(["dcim.device"], ["updated", "job.completed"], set(), set()) == []
    said = warnings([], ["udpated"], set(), set())
    assert said == [
        "no event named 'udpated' has been received yet (did you mean 'updated'?); hookhub's own"
        " names are created, updated, deleted"
    ]
