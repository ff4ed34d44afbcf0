"""Config as code declares the installation's own objects (of no tenant): `apply` and `export`
never read, change or prune a tenant's webhooks and rules, which may share their names."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookhub.config import apply as applying
from hookhub.config.document import DocumentError, load
from hookhub.config.export import dump
from hookhub.db.store import Store
from hookhub.services import rules as rules_service
from hookhub.services import tenants as tenants_service
from hookhub.services import webhooks as webhooks_service
from hookhub.services.common import Context
from hookhub.services.rules import RuleIn
from hookhub.services.tenants import TenantIn
from hookhub.services.webhook_input import WebhookIn
from hookhub.settings import Settings

FILE = """\
webhooks:
  - name: prod
    url: http://127.0.0.1:9/ours
rules:
  - name: all
    webhook: prod
"""


async def _tenant_objects(ctx: Context) -> str:
    """Tenant acme with a webhook `prod` and a rule `all`, the names the file uses; its id."""
    await tenants_service.create(ctx, TenantIn(id="acme", name="Acme"))
    hook = await webhooks_service.create(
        ctx, WebhookIn(name="prod", url="http://127.0.0.1:9/acme", tenant_id="acme")
    )
    await rules_service.create(ctx, RuleIn(name="all", webhook_id=hook["id"]))
    return str(hook["id"])


async def _apply(store: Store, path: Path, prune: bool = False) -> list[str]:
    todo = await applying.plan_for(store, load(str(path), cert_dir=""), prune)
    await applying.apply(Context(store, Settings()), todo)
    return [f"{change.action} {change.kind} {change.name}" for change in todo.changes]


async def test_apply_and_prune_leave_tenants_objects_alone(store: Store, tmp_path: Path) -> None:
    ctx = Context(store, Settings())
    acme_hook = await _tenant_objects(ctx)
    path = tmp_path / "hooks.yaml"
    path.write_text(FILE)
    # Same names as acme's: created beside them, not taken for them.
    assert await _apply(store, path) == ["create webhook prod", "create rule all"]
    assert (await store.webhooks.get(acme_hook))["url"] == "http://127.0.0.1:9/acme"
    assert await _apply(store, path) == ["unchanged webhook prod", "unchanged rule all"]

    path.write_text("webhooks: []\n")
    assert await _apply(store, path, prune=True) == ["delete webhook prod", "delete rule all"]
    acme = await store.webhooks.get(acme_hook)
    assert acme["tenant_id"] == "acme"
    rows, _ = await store.rules.page(None, 10, webhook_id=acme_hook)
    assert [row["name"] for row in rows] == ["all"]


async def test_export_writes_only_objects_of_no_tenant(store: Store, tmp_path: Path) -> None:
    ctx = Context(store, Settings())
    await _tenant_objects(ctx)
    path = tmp_path / "hooks.yaml"
    path.write_text(FILE)
    await _apply(store, path)
    text = dump(await applying.current(store))
    assert "127.0.0.1:9/ours" in text
    assert "acme" not in text
    exported = tmp_path / "exported.yaml"
    exported.write_text(text)
    assert await _apply(store, exported, prune=True) == [
        "unchanged webhook prod",
        "unchanged rule all",
    ]


def test_a_file_naming_a_tenant_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text(
        "webhooks:\n  - name: prod\n    url: http://127.0.0.1:9/x\n    tenant_id: acme\n"
        "rules:\n  - name: all\n    webhook: prod\n    tenant_id: acme\n"
    )
    with pytest.raises(DocumentError) as refused:
        load(str(path), cert_dir="")
    problems = [str(problem) for problem in refused.value.problems]
    assert len(problems) == 2
    assert all("tenant_id: config as code declares objects of no tenant" in p for p in problems)
