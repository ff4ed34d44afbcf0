"""What the browser tests share: Playwright's API (a test module importing it is skipped where
Playwright is missing, except in CI), the UI user's password, and how long a thing may take."""

from __future__ import annotations

import pytest

from tests.conftest import IN_CI

try:
    from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, expect
except ImportError:  # pragma: no cover - depends on the machine
    if IN_CI:
        raise
    pytest.skip("playwright not installed", allow_module_level=True)

PASSWORD = "correct horse battery"
WAIT = 15.0  # seconds any one thing may take to show up

__all__ = ["PASSWORD", "WAIT", "Browser", "BrowserContext", "ConsoleMessage", "Page", "expect"]
