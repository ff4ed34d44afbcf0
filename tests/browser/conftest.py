"""Browser tests: Playwright driving Debian's Chromium against hookhub served for real.

They skip when /usr/bin/chromium is missing, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser

from tests.conftest import IN_CI

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent.parent / "artifacts"  # screenshots; gitignored


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the browser checks the pages, the functional suite covers both engines."""
    from hookhub.migrations import upgrade

    url = f"sqlite:///{tmp_path / 'hookhub.db'}"
    upgrade(url)
    return url


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium, or a skip (a failure in CI) when it or Playwright is missing."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the machine
        if IN_CI:
            pytest.fail(f"playwright is required in CI: {exc}")
        pytest.skip(f"playwright not installed ({exc})")
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is required in CI (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed; set CI=true to require it")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """A headless Chromium driven by Playwright, closed after the test."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            await launched.close()
