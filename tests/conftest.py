"""Fixtures: a fresh migrated database per test (SQLite and PostgreSQL), a recording receiver,
and hookhub served for real on a free port."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from hookhub.db.store import Store
from hookhub.migrations import upgrade
from hookhub.settings import Settings
from tests.support.receiver import Receiver
from tests.support.server import api_client, running_server

POSTGRES_URL = os.environ.get(
    "HOOKHUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# pytest-xdist workers for the suite or a folder: four on two cores, since most tests wait
# (servers, subprocesses, receivers) rather than compute; measured in the README.
WORKERS = 4


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (pyproject.toml): WORKERS, or none (serially, in-process) when the command line
    names test files only, where starting workers would cost more than they save."""
    files_only = bool(config.args) and all(".py" in arg for arg in config.args)
    return 0 if files_only else WORKERS


def _server_url(database: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + database


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql://", "postgres://"), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated template database for this test run, copied per test; dropped at the end."""
    name = f"hookhub_tmpl_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} ({exc}); set CI=true to require")
    try:
        upgrade(_server_url(name))
        yield name
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each engine."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hookhub.db'}"
        upgrade(url)
        yield url
        return
    template = request.getfixturevalue("postgres_template")
    name = f"hookhub_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield _server_url(name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Fast polls so scheduled retries fire promptly in tests.
    return Settings(database_url=database_url, poll_interval=0.05, lease_margin=1.0)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    store = Store.open(settings.database_url)
    yield store
    await store.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = await Receiver().start()
    yield receiver
    await receiver.stop()


@dataclass
class Hookhub:
    """A running hookhub: its URL and API clients with tokens of each scope."""

    url: str
    admin: httpx.AsyncClient
    reader: httpx.AsyncClient
    anonymous: httpx.AsyncClient


@pytest.fixture
async def hookhub(settings: Settings, store: Store) -> AsyncIterator[Hookhub]:
    _, admin_token = await store.create_token("admin", "admin")
    _, read_token = await store.create_token("reader", "read")
    async with running_server(settings) as url:
        clients = [api_client(url, t) for t in (admin_token, read_token, None)]
        try:
            yield Hookhub(url, *clients)
        finally:
            for client in clients:
                await client.aclose()
