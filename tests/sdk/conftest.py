"""Fixtures for the SDK tests: a synchronous SQLAlchemy engine on hookhub's test database,
as an application using the transactional outbox would have."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url


def sync_url(database_url: str) -> str:
    """The application's view of hookhub's database: a sync driver (pysqlite or psycopg 3)."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


@pytest.fixture
def app_engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(sync_url(database_url))
    yield engine
    engine.dispose()
