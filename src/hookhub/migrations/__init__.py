"""Alembic migrations, run programmatically: `hookhub migrate` and every process start."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from hookhub.db.engine import async_url

HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    """An Alembic config for this package's migrations against `url`."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["url"] = async_url(url)
    return config


def heads() -> frozenset[str]:
    """The revisions this version of hookhub expects the database to be at."""
    return frozenset(ScriptDirectory(str(HERE)).get_heads())


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` (blocking; creates a SQLite file if needed)."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str) -> None:
    """`upgrade` from inside a running event loop (Alembic's env runs its own loop)."""
    await asyncio.to_thread(upgrade, url)
