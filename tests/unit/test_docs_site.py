"""The documentation site builds in strict mode, with its generated API and CLI references."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from mkdocs.config import load_config

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = Path(sys.executable).parent / "mkdocs"


def test_the_site_builds_strictly_with_generated_references(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build = subprocess.run(
        [MKDOCS, "build", "--strict", "--config-file", ROOT / "mkdocs.yml", "--site-dir", site],
        cwd=tmp_path,  # anything written by accident lands here, not in the repository
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    api = (site / "reference/api/index.html").read_text()
    assert "POST /api/v1/webhooks" in api
    assert "/api/v1/deliveries/{delivery_id}/retry" in api
    assert 'id="schema-webhookin"' in api
    assert "body_template" in api
    cli = (site / "reference/cli/index.html").read_text()
    assert "hookhub deliveries replay" in cli
    assert "--no-workers" in cli
    assert "HOOKHUB_DATABASE_URL" in cli
    for page in ("quickstart", "concepts", "migrating-netbox", "migrating-sqle"):
        assert (site / page / "index.html").is_file()
    # Generated pages exist only in the built site; the hook modules are not pages.
    assert not (ROOT / "docs/reference").exists()
    assert not (site / "hooks").exists()


def test_broken_links_are_errors_and_pages_outside_the_nav_are_not() -> None:
    config = load_config(str(ROOT / "mkdocs.yml"))
    assert config.strict
    # In strict mode every warning fails the build.
    assert config.validation.links.not_found == logging.WARNING
    assert config.validation.links.anchors == logging.WARNING
    assert config.validation.nav.omitted_files == logging.INFO
