"""Certificate files named by webhooks: confined to HOOKHUB_CERT_DIR when it is set, and checked
to hold what they should, at save time (422) and again at send time (a failed delivery)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trustme

from hookhub.db.store import Store
from hookhub.db.tables import webhooks
from hookhub.errors import ConfigError
from hookhub.settings import Settings
from tests.conftest import Hookhub
from tests.functional.test_delivery import _settled
from tests.support.receiver import Receiver


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    folder = tmp_path / "certs"
    folder.mkdir()
    trustme.CA().cert_pem.write_to_path(str(folder / "ca.pem"))
    (tmp_path / "secret.txt").write_text("not for you\n")
    return folder


@pytest.fixture
def settings(settings: Settings, certs: Path) -> Settings:
    return replace(settings, cert_dir=str(certs))


async def _create(hookhub: Hookhub, path: str) -> tuple[int, dict[str, Any]]:
    body = {"name": "bank", "url": "https://127.0.0.1:9/", "ca_file_path": path}
    body["retry"] = {"max_attempts": 1}
    response = await hookhub.admin.post("/webhooks", json=body)
    return response.status_code, response.json().get("error") or response.json()


async def test_a_ca_file_inside_the_cert_dir_is_accepted(hookhub: Hookhub, certs: Path) -> None:
    status, body = await _create(hookhub, str(certs / "ca.pem"))
    assert status == 201
    assert body["ca_file_path"] == str(certs / "ca.pem")


async def test_a_missing_file_is_named_without_pydantic_wording(
    hookhub: Hookhub, certs: Path
) -> None:
    status, error = await _create(hookhub, str(certs / "nope.pem"))
    assert status == 422
    assert error["message"] == f"ca_file_path: no such file: {certs / 'nope.pem'}"


@pytest.mark.parametrize("where", ["../secret.txt", "/etc/passwd", "link.pem"])
async def test_files_outside_the_cert_dir_are_refused(
    hookhub: Hookhub, certs: Path, where: str
) -> None:
    (certs / "link.pem").symlink_to(certs.parent / "secret.txt")
    path = where if where.startswith("/") else str(certs / where)
    status, error = await _create(hookhub, path)
    assert status == 422
    assert error["field"] == "ca_file_path"
    assert error["message"].endswith(f"{path} is outside HOOKHUB_CERT_DIR ({certs})")
    for field in ("client_cert_path", "client_key_path"):
        body = {"name": "x", "url": "https://127.0.0.1:9/", field: path}
        if field == "client_key_path":
            body["client_cert_path"] = str(certs / "ca.pem")
        refused = await hookhub.admin.post("/webhooks", json=body)
        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == field


async def test_a_file_without_certificates_is_refused(hookhub: Hookhub, certs: Path) -> None:
    (certs / "notes.pem").write_text("hello\n")
    status, error = await _create(hookhub, str(certs / "notes.pem"))
    assert status == 422
    assert error["field"] == "ca_file_path"
    assert "cannot use" in error["message"] and "as CA certificates" in error["message"]


async def test_a_file_outside_is_not_used_at_send_time_either(
    hookhub: Hookhub, store: Store, certs: Path, receiver: Receiver
) -> None:
    """A webhook saved before HOOKHUB_CERT_DIR was set: its delivery fails, saying why."""
    status, created = await _create(hookhub, str(certs / "ca.pem"))
    assert status == 201
    outside = str(certs.parent / "secret.txt")
    await store.update(webhooks, created["id"], {"ca_file_path": outside, "url": receiver.url})
    rule = {"name": "all", "webhook_id": created["id"]}
    assert (await hookhub.admin.post("/rules", json=rule)).status_code == 201
    event = {"object_type": "dcim.device", "event": "created", "data": {}}
    assert (await hookhub.admin.post("/events", json=event)).status_code == 202
    [delivery] = await _settled(hookhub, 1)
    assert delivery["status"] == "failed"
    assert f"{outside} is outside HOOKHUB_CERT_DIR" in delivery["last_error"]
    assert receiver.requests == []


def test_the_cert_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HOOKHUB_CERT_DIR must be an existing directory"):
        Settings.from_env({"HOOKHUB_CERT_DIR": str(tmp_path / "nope")})
