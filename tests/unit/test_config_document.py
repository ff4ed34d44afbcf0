"""The config document: validation with file:line:field, `${ENV}` references, the plan, and
the export's secret references (all in memory: no database)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hookhub.api.v1.webhooks import WebhookIn, new_row
from hookhub.config.document import Document, DocumentError, parse
from hookhub.config.export import dump, env_name
from hookhub.config.plan import Current, plan
from hookhub.workflows.document import FIELDS as WORKFLOW_FIELDS


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(DocumentError) as raised:
        parse(text, "hooks.yaml", env or {})
    return [str(problem) for problem in raised.value.problems]


def test_a_valid_document_is_normalized_like_the_api_does() -> None:
    doc = parse(
        """\
version: 1
webhooks:
  - name: crm
    url: https://crm.example/hook
    headers: {X-Team: ops}
    secret: ${CRM_SECRET}
rules:
  - name: active
    webhook: crm
    conditions: {attr: status.value, value: active}
""",
        "hooks.yaml",
        {"CRM_SECRET": "s3cret"},
    )
    crm = doc.webhooks["crm"]
    assert crm["secret"] == "s3cret"
    assert crm["headers"] == "X-Team: ops"
    assert crm["timeout"] == 5.0 and crm["retry"]["max_attempts"] == 4
    assert doc.rules["active"]["webhook"] == "crm"
    assert "webhook_id" not in doc.rules["active"]


def test_every_problem_is_reported_with_its_line_and_field() -> None:
    found = problems(
        """\
webhooks:
  - name: crm
    url: https://crm.example/hook
    method: FETCH
    auth:
      type: bearer
  - name: crm
    url: https://other.example/
  - url: https://nameless.example/
rules:
  - name: r
    webhook_id: wh_123
extras: []
"""
    )
    assert found == [
        "hooks.yaml:13: extras: unknown section; expected version, webhooks, rules, workflows,"
        " sources, event_types",
        "hooks.yaml:4: webhooks[crm].method: Input should be 'GET', 'POST', 'PUT', 'PATCH'"
        " or 'DELETE'",
        "hooks.yaml:5: webhooks[crm].auth.token: Field required",
        "hooks.yaml:9: webhooks[2].name: Field required",
        "hooks.yaml:12: rules[r].webhook_id: refer to the webhook by name: webhook: <name>",
    ]


def test_duplicate_names_and_templates_are_checked() -> None:
    found = problems(
        """\
webhooks:
  - name: a
    url: "https://x/{{ event"
  - name: b
    url: https://x/
  - name: b
    url: https://y/
"""
    )
    assert found[0].startswith("hooks.yaml:3: webhooks[a].url: ")
    assert found[1] == "hooks.yaml:6: webhooks[b].name: another webhook has this name"


def test_workflow_errors_point_at_the_node() -> None:
    found = problems(
        """\
workflows:
  - name: w
    start: first
    nodes:
      - id: first
        type: set
        values: {x: "1"}
        next: second
      - id: second
        type: response
        status: 999
"""
    )
    assert found == [
        "hooks.yaml:11: workflows[w].nodes[1].status: must be from 100 to 599, got 999"
    ]


def test_numbers_out_of_range_or_not_finite_are_refused_naming_the_range() -> None:
    found = problems(
        """\
webhooks:
  - name: a
    url: http://a
    rate_limit: 5.0e-324
  - name: b
    url: http://b
    timeout: .nan
  - name: c
    url: http://c
    retry: {interval: .inf}
"""
    )
    assert found == [
        "hooks.yaml:4: webhooks[a].rate_limit: must be from 0.001 to 100,000 per second, "
        "got 5e-324",
        "hooks.yaml:7: webhooks[b].timeout: must be from 0.5 to 120 seconds, got nan",
        "hooks.yaml:10: webhooks[c].retry.interval: must be from 0.01 to 604,800 seconds, got inf",
    ]


def test_environment_references() -> None:
    text = """\
webhooks:
  - name: crm
    url: https://crm.example/${PATH_PART}/x
    body_template: "costs $${price}"
    secret: ${MISSING}
    headers: "Authorization: ${not a name}"
"""
    assert problems(text, {"PATH_PART": "v2"}) == [
        "hooks.yaml:5: webhooks[crm].secret: environment variable MISSING is not set",
        "hooks.yaml:6: webhooks[crm].headers: ${not a name} is not an environment variable name",
    ]
    doc = parse(text.replace("${not a name}", "x"), "f", {"PATH_PART": "v2", "MISSING": "m"})
    assert doc.webhooks["crm"]["url"] == "https://crm.example/v2/x"
    assert doc.webhooks["crm"]["body_template"] == "costs ${price}"


def test_yaml_syntax_errors_have_a_line() -> None:
    assert problems("webhooks:\n  - name: crm\n    url: [oops\n")[0].startswith(
        "hooks.yaml:4: yaml: "
    )
    assert problems("- just a list\n") == [
        "hooks.yaml:1: document: expected a mapping of webhooks, rules, workflows, sources,"
        " event_types"
    ]
    assert problems("version: 2\n") == ["hooks.yaml:1: version: only version 1 is supported"]


def _current(doc: Document) -> Current:
    """What the database would hold after applying `doc` (rows as the API stores them)."""
    hooks = {}
    for name, values in doc.webhooks.items():
        hooks[name] = new_row(WebhookIn.model_validate(values), cert_dir="")
    ids = {name: row["id"] for name, row in hooks.items()}
    now = time.time()
    rules = {
        name: {
            **{k: v for k, v in values.items() if k != "webhook"},
            "id": f"rule_{name}",
            "webhook_id": ids[values["webhook"]],
        }
        for name, values in doc.rules.items()
    }
    flows = {
        name: {**{k: values[k] for k in WORKFLOW_FIELDS}, "id": f"wf_{name}", "created_at": now}
        for name, values in doc.workflows.items()
    }
    return Current(hooks, rules, flows)


FULL = """\
webhooks:
  - name: crm
    url: https://crm.example/hook
    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
    headers: |
      Authorization: Bearer abc
      X-Price: $${price}
    cookies: {session: xyz-cookie}
    auth: {type: bearer, token: tok-1234}
rules:
  - name: all
    webhook: crm
workflows:
  - name: in
    trigger:
      auth: {type: basic, username: u, password: pw-5678}
    start: call
    nodes:
      - id: call
        type: request
        url: https://x/
        auth: {type: bearer, token: node-token}
"""


def test_export_writes_references_and_reads_back_unchanged() -> None:
    doc = parse(FULL, "hooks.yaml", {})
    current = _current(doc)
    text = dump(current)
    for secret in ("whsec_", "Bearer abc", "xyz-cookie", "tok-1234", "pw-5678", "node-token"):
        assert secret not in text
    env = {
        env_name("crm"): "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        env_name("crm", "header", "Authorization"): "Bearer abc",
        env_name("crm", "cookie", "session"): "xyz-cookie",
        env_name("crm", "auth", "token"): "tok-1234",
        env_name("workflow", "in", "trigger", "auth", "password"): "pw-5678",
        env_name("workflow", "in", "node", "call", "auth", "token"): "node-token",
    }
    for name in env:
        assert f"#   {name}\n" in text
    assert env_name("workflow", "in", "node", "call", "auth", "token") == (
        "HOOKHUB_SECRET_WORKFLOW_IN_NODE_CALL_AUTH_TOKEN"
    )
    again = parse(text, "exported.yaml", env)
    todo = plan(again, current)
    assert {change.action for change in todo.changes} == {"unchanged"}
    assert not todo.writes


def test_plan_lists_each_object_with_the_fields_that_change() -> None:
    current = _current(parse(FULL, "hooks.yaml", {}))
    changed = parse(
        """\
webhooks:
  - name: crm
    url: https://crm.example/v2
  - name: new
    url: https://new.example/
rules:
  - name: all
    webhook: new
""",
        "hooks.yaml",
        {},
    )
    kept = plan(changed, current)
    shown: list[tuple[Any, ...]] = [(c.action, c.kind, c.name, c.fields) for c in kept.changes]
    assert shown == [
        ("update", "webhook", "crm", ("url", "headers", "secret", "auth", "cookies")),
        ("create", "webhook", "new", ()),
        ("update", "rule", "all", ("webhook",)),
    ]
    assert kept.summary() == "1 to create, 2 to update, 0 to delete, 0 unchanged"
    pruned = plan(changed, current, prune=True)
    assert ("delete", "workflow", "in") in [(c.action, c.kind, c.name) for c in pruned.changes]


def test_masked_credentials_in_a_file_keep_the_stored_ones() -> None:
    full = FULL.replace("https://crm.example/hook", "https://ops:pw-1@crm.example/hook?key=k-2")
    current = _current(parse(full, "hooks.yaml", {}))
    # The webhook as the API shows it (`hookhub webhooks list --json`): every credential masked.
    shown = """\
webhooks:
  - name: crm
    url: https://ops:********@crm.example/hook?key=********
    secret: "********"
    headers: |
      Authorization: ********
      X-Price: $${price}
    cookies: {session: "********"}
    auth: {type: bearer, token: "********"}
"""
    todo = plan(parse(shown, "shown.yaml", {}), current)
    assert [(c.action, c.name) for c in todo.changes if c.kind == "webhook"] == [
        ("unchanged", "crm")
    ]
    assert todo.document.webhooks["crm"]["url"] == "https://ops:pw-1@crm.example/hook?key=k-2"


def test_a_request_node_url_exports_its_credentials_as_variables() -> None:
    text = FULL.replace("url: https://x/", "url: https://n:node-pw@x/?sig=node-sig&a=1")
    current = _current(parse(text, "hooks.yaml", {}))
    exported = dump(current)
    assert "node-pw" not in exported and "node-sig" not in exported
    password = env_name("workflow", "in", "node", "call", "url", "password")
    sig = env_name("workflow", "in", "node", "call", "url", "query", "sig")
    assert f"url: https://n:${{{password}}}@x/?sig=${{{sig}}}&a=1" in exported
    env = {
        env_name("crm"): "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        env_name("crm", "header", "Authorization"): "Bearer abc",
        env_name("crm", "cookie", "session"): "xyz-cookie",
        env_name("crm", "auth", "token"): "tok-1234",
        env_name("workflow", "in", "trigger", "auth", "password"): "pw-5678",
        env_name("workflow", "in", "node", "call", "auth", "token"): "node-token",
        password: "node-pw",
        sig: "node-sig",
    }
    assert not plan(parse(exported, "exported.yaml", env), current).writes


def test_a_rule_needs_a_webhook_that_will_exist() -> None:
    current = _current(parse(FULL, "hooks.yaml", {}))
    doc = parse("rules:\n  - name: r\n    webhook: crm\n", "hooks.yaml", {})
    assert plan(doc, current).changes  # crm stays in the database
    with pytest.raises(DocumentError) as raised:
        plan(doc, current, prune=True)  # crm would be deleted
    assert str(raised.value) == (
        "hooks.yaml:3: rules[r].webhook: no webhook named 'crm' in the file"
    )
