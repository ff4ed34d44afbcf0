"""`hookhub user create` and `set-role`: the stored hash checks the password, each user has a
role; bad input is refused clearly."""

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


def test_users_get_a_role_and_can_change_it(database_url: str) -> None:
    runner = CliRunner()
    base = ["user", "create", "--password-stdin", "--database", database_url]
    done = runner.invoke(app, [*base, "--username", "vi", "--role", "viewer"], input="password1\n")
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, [*base, "--username", "ad"], input="password1\n")
    assert done.exit_code == 0, done.output
    bad = runner.invoke(app, [*base, "--username", "x", "--role", "root"], input="password1\n")
    assert bad.exit_code == 2 and "viewer, editor, admin" in bad.output
    changed = runner.invoke(app, ["user", "set-role", "vi", "editor", "--database", database_url])
    assert changed.exit_code == 0, changed.output
    roles = [(_user(database_url, name) or {}).get("role") for name in ("vi", "ad", "x")]
    assert roles == ["editor", "admin", None]
    last = runner.invoke(app, ["user", "set-role", "ad", "viewer", "--database", database_url])
    assert last.exit_code != 0 and "'ad' is the last admin" in str(last.exception)
    unknown = runner.invoke(app, ["user", "set-role", "zed", "viewer", "--database", database_url])
    assert unknown.exit_code != 0 and "no user named 'zed'" in str(unknown.exception)
