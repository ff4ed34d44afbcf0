"""`hookhub apply` and `export` manage the event-type catalog: an `event_types:` section is
created, updated, left alone and pruned like the other kinds, and survives a round trip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hookhub.config import apply as applying
from hookhub.config.document import DocumentError, load, parse
from hookhub.config.export import dump
from hookhub.db.store import Store
from hookhub.services.common import Context
from hookhub.settings import Settings

FILE = """\
event_types:
  - name: invoice.paid
    description: An invoice was paid in full.
    schema:
      type: object
      required: [amount]
      properties:
        amount: {type: number, minimum: 0}
    examples:
      - {amount: 12.5}
  - name: invoice.sent
webhooks:
  - name: billing
    url: http://127.0.0.1:9/hook
rules:
  - name: paid
    webhook: billing
    event_types: [invoice.paid]
"""


async def _apply(store: Store, path: Path, prune: bool = False) -> dict[str, list[str]]:
    todo = await applying.plan_for(store, load(str(path), cert_dir=""), prune)
    await applying.apply(Context(store, Settings()), todo)
    found: dict[str, list[str]] = {}
    for change in todo.changes:
        found.setdefault(change.action, []).append(f"{change.kind} {change.name}")
    return found


async def test_apply_export_round_trip(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text(FILE)
    todo = await applying.plan_for(store, load(str(path), cert_dir=""))
    assert await applying.rule_warnings(store, todo) == []  # the file's own types count
    await applying.apply(Context(store, Settings()), todo)
    paid = await store.event_types.get("invoice.paid")
    assert paid["schema"]["properties"]["amount"]["minimum"] == 0
    assert paid["examples"] == [{"amount": 12.5}]
    assert (await store.event_types.get("invoice.sent"))["schema"] is None

    exported = tmp_path / "exported.yaml"
    exported.write_text(dump(await applying.current(store)))
    assert "event_types:" in exported.read_text()
    again = await _apply(store, exported)
    assert set(again) == {"unchanged"}

    path.write_text(FILE.replace("An invoice was paid in full.", "Paid."))
    changed = await _apply(store, path)
    assert changed["update"] == ["event_type invoice.paid"]
    assert (await store.event_types.get("invoice.paid"))["description"] == "Paid."

    path.write_text(FILE.replace("  - name: invoice.sent\n", ""))
    pruned = await _apply(store, path, prune=True)
    assert pruned["delete"] == ["event_type invoice.sent"]
    assert [row["name"] for row in await store.event_types.every()] == ["invoice.paid"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_file_with_a_bad_schema_or_example_is_refused(store: Store) -> None:
    bad = FILE.replace("minimum: 0", "minimum: zero")
    with pytest.raises(DocumentError) as refused:
        parse(bad, "hooks.yaml")
    assert "event_types[invoice.paid].schema" in str(refused.value)
    example = FILE.replace("{amount: 12.5}", "{amount: -1}")
    with pytest.raises(DocumentError) as refused:
        parse(example, "hooks.yaml")
    assert "hooks.yaml:9: event_types[invoice.paid].examples.0: does not match" in str(
        refused.value
    )
    assert "/amount" in str(refused.value)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_apply_warns_about_rules_naming_types_the_catalog_will_lack(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text(FILE.replace("event_types: [invoice.paid]", "event_types: [invoice.payd]"))
    todo = await applying.plan_for(store, load(str(path), cert_dir=""))
    [(name, text)] = await applying.rule_warnings(store, todo)
    assert name == "paid"
    assert text.startswith("event type 'invoice.payd' is not in the event-type catalog")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_strict_event_types_refuses_such_rules_in_apply(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text(FILE.replace("event_types: [invoice.paid]", "event_types: [invoice.payd]"))
    todo = await applying.plan_for(store, load(str(path), cert_dir=""))
    applying.check_types(Context(store, settings), todo)  # not strict: warnings only
    strict = Context(store, replace(settings, strict_event_types=True))
    with pytest.raises(DocumentError) as refused:
        applying.check_types(strict, todo)
    assert "rules[paid].event_types: event type 'invoice.payd' is not in" in str(refused.value)
    path.write_text(FILE)
    applying.check_types(strict, await applying.plan_for(store, load(str(path), cert_dir="")))
