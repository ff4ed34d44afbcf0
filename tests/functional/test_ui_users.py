"""`hookhub user create`: the stored hash checks the password; bad input is refused clearly."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from hookhub.cli import app
from hookhub.core.passwords import check_password
from hookhub.db.store import Store
from hookhub.services.users import user_named


def _user(database_url: str, name: str) -> dict[str, object] | None:
    async def read() -> dict[str, object] | None:
        store = Store.open(database_url)
        try:
            return await user_named(store, name)
        finally:
            await store.close()

    return asyncio.run(read())


def test_user_create_stores_only_a_hash(database_url: str) -> None:
    runner = CliRunner()
    args = ["user", "create", "--username", "ada", "--password-stdin", "--database", database_url]
    done = runner.invoke(app, args, input="a long password\n")
    assert done.exit_code == 0, done.output
    user = _user(database_url, "ada")
    assert user is not None
    stored = str(user["password_hash"])
    assert "a long password" not in stored and stored.startswith("scrypt$")
    assert check_password("a long password", stored)
    assert not check_password("a long passwor", stored)

    again = runner.invoke(app, args, input="another password\n")
    assert again.exit_code != 0
    assert isinstance(again.exception, Exception)
    assert "a user named 'ada' already exists" in str(again.exception)


def test_short_password_is_refused(database_url: str) -> None:
    args = ["user", "create", "--username", "bob", "--password-stdin", "--database", database_url]
    done = CliRunner().invoke(app, args, input="short\n")
    assert done.exit_code == 2
    assert "at least 8 characters" in done.output
    assert _user(database_url, "bob") is None
