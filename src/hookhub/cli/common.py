"""Options and set-up every `hookhub` command shares."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from hookhub import logs
from hookhub.core import template_limits
from hookhub.db.store import Store
from hookhub.settings import Settings

if TYPE_CHECKING:
    from hookhub.cli.remote import Remote

T = TypeVar("T")

Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar="HOOKHUB_DATABASE_URL",
        help="Database URL: sqlite:///path (default sqlite:///./hookhub.db) or postgresql://...",
        show_default=False,
    ),
]

Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="HOOKHUB_URL",
        help="Act through the API of the hookhub server at this URL, not on the database.",
        show_default=False,
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="HOOKHUB_TOKEN", help="API token for --url.", show_default=False
    ),
]


def remote(url: str | None, token: str | None) -> Remote | None:
    """The server to act through when `--url` is given, else None (the database)."""
    from hookhub.cli.remote import Remote

    return None if not url else Remote(url, token)


def settings_from(database: str | None) -> Settings:
    """Settings from the environment and `--database`, with logging configured."""
    settings = Settings.from_env().with_database(database)
    logs.configure(settings.log_format, settings.log_level)
    template_limits.configure(settings.template_max_output, settings.template_timeout)
    return settings


def migrated(database: str | None) -> Settings:
    """Settings as `settings_from`, after bringing the database schema up to date."""
    from hookhub.migrations import upgrade

    settings = settings_from(database)
    upgrade(settings.database_url)
    return settings


def with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Run `work` against the settings' database and close the store after."""

    async def run() -> T:
        store = Store.open(settings.database_url, settings.sqlite_busy_timeout)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())
