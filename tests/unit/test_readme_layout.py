"""The README's project layout names every package and no module that doesn't exist
(issue 23.14)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src/hookhub"


def _layout() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("## Project layout", 1)[1].split("\n## ", 1)[0]


def test_every_package_has_a_row() -> None:
    rows = set(re.findall(r"^\| `src/hookhub/([a-z0-9_/]+)/` \|", _layout(), re.M))
    packages = {
        str(path.parent.relative_to(PACKAGE))
        for path in PACKAGE.glob("*/__init__.py")
        if path.parent.name != "__pycache__"
    }
    assert packages - rows == set()


def test_every_file_named_exists() -> None:
    for folder, contents in re.findall(
        r"^\| `(src/hookhub/[a-z0-9_/]*)` \| (.*) \|$", _layout(), re.M
    ):
        for name in re.findall(r"`([a-z_]+\.py)`", contents):
            assert (ROOT / folder / name).exists(), f"{folder}{name} is named in the README"
