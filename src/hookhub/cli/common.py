"""Options and set-up every `hookhub` command shares."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import getpass
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperOption

from hookhub import logs
from hookhub.core import template_limits
from hookhub.db.engine import sqlite_file
from hookhub.db.store import Store
from hookhub.errors import ConfigError
from hookhub.settings import Settings

if TYPE_CHECKING:
    from hookhub.cli.remote import Remote
    from hookhub.services.common import Context

T = TypeVar("T")

_option_type = TyperOption.display_type_rich


def _flag_has_no_type(option: TyperOption, ctx: Any) -> str | None:
    """Typer's help prints a type after every option, `<bool>` after flags too, which reads as
    if `--dry-run <bool>` took a value: a flag shows none."""
    return None if option.is_flag else _option_type(option, ctx)


TyperOption.display_type_rich = _flag_has_no_type  # type: ignore[method-assign,assignment]


def report_crashes() -> None:
    """Have a fatal signal (SIGSEGV, SIGABRT, SIGBUS...) print every thread's Python stack to
    stderr, so a long-running process that crashes leaves more in its log than an exit code."""
    # RuntimeError: stderr is None; ValueError: stderr is no file (a test's CliRunner).
    with contextlib.suppress(RuntimeError, ValueError):
        faulthandler.enable()


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


Json = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
PAGE = 500  # items per page when a list is read whole through a server


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


def require_database(settings: Settings) -> None:
    """Refuse to go on when the settings name a SQLite file that does not exist.

    Only `serve` and `migrate` create a database: any other command run from the wrong folder
    would otherwise make a new, empty `./hookhub.db` (and, say, a token the server refuses)."""
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        raise ConfigError(
            f"no database at {path} (from {settings.database_url}): point --database or "
            "HOOKHUB_DATABASE_URL at the server's database, or create one with "
            "`hookhub migrate` (or `hookhub serve`)"
        )


def migrated(database: str | None, *, create: bool = False) -> Settings:
    """Settings as `settings_from`, after bringing the database schema up to date.

    Only with `create` (`serve`, `migrate`) may a missing SQLite file be created."""
    from hookhub.migrations import upgrade

    settings = settings_from(database)
    if not create:
        require_database(settings)
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


def _login_name() -> str | None:
    """Who runs this command on this machine (None when the system can't say)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry, e.g. in a container
        return None


def with_services(settings: Settings, work: Callable[[Context], Awaitable[T]]) -> T:
    """Run `work` with the services' context on the settings' database (no workers here: the
    server's pick the work up)."""
    from hookhub.services.common import Actor, Context

    actor = Actor("cli", name=_login_name())
    return with_store(settings, lambda store: work(Context(store, settings, actor=actor)))


def every_item(
    path: str,
    fetch: Callable[[Context], Awaitable[list[dict[str, Any]]]],
    database: str | None,
    url: str | None,
    token: str | None,
) -> list[dict[str, Any]]:
    """Every item of a list: through the server's API at `path` (`--url`), page by page, or
    read by `fetch` on the database."""
    server = remote(url, token)
    if server:
        return list(server.items(path, {"limit": PAGE}))
    return with_services(migrated(database), fetch)


def print_lines(items: list[dict[str, Any]]) -> None:
    """Items as JSON, one per line (`--json`)."""
    for item in items:
        typer.echo(json.dumps(item))
