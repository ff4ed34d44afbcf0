"""Settings from a TOML file (`HOOKHUB_CONFIG`), under the environment, validated at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookhub.errors import ConfigError
from hookhub.settings import Settings


def config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "hookhub.toml"
    path.write_text(text)
    return {"HOOKHUB_CONFIG": str(path)}


def refused(environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(environ)
    return raised.value.message


def test_the_file_sets_what_the_environment_does_not(tmp_path: Path) -> None:
    env = config(
        tmp_path,
        """\
database_url = "sqlite:///./from-file.db"
concurrency = 20
poll_interval = 0.25
trusted_proxies = ["10.0.0.0/8", "192.168.0.1"]
outbound_deny = "private"
log_level = "debug"
metrics_port = 9464
""",
    )
    settings = Settings.from_env(env)
    assert settings.database_url == "sqlite:///./from-file.db"
    assert settings.concurrency == 20 and settings.poll_interval == 0.25
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.168.0.1")
    assert settings.network_policy().active
    assert settings.log_level == "DEBUG" and settings.metrics_port == 9464
    # Environment variables win over the file.
    env["HOOKHUB_CONCURRENCY"] = "7"
    assert Settings.from_env(env).concurrency == 7
    # Unset keys keep their defaults.
    assert Settings.from_env(env).claim_batch == Settings.claim_batch


def test_bad_values_name_the_key_and_the_file(tmp_path: Path) -> None:
    env = config(tmp_path, "concurrency = 0\n")
    path = env["HOOKHUB_CONFIG"]
    assert refused(env) == f"{path}: concurrency must be a positive whole number, got 0.0"
    # The same value from the environment names the variable, and overrides a bad file value.
    assert refused({"HOOKHUB_CONCURRENCY": "0"}) == (
        "HOOKHUB_CONCURRENCY must be a positive whole number, got 0.0"
    )
    assert Settings.from_env({**env, "HOOKHUB_CONCURRENCY": "3"}).concurrency == 3

    env = config(tmp_path, 'log_format = "xml"\n')
    assert refused(env) == f"{path}: log_format must be one of text, json, got 'xml'"
    env = config(tmp_path, 'outbound_allow = "nowhere"\n')
    assert refused(env).startswith(f"{path}: outbound_allow: 'nowhere' is neither a network")
    env = config(tmp_path, "metrics_port = 70000\n")
    assert refused(env) == f"{path}: metrics_port must be a port number (1-65535), got '70000'"
    env = config(tmp_path, "retention_days = true\n")
    assert refused(env) == f"{path}: retention_days must be a string or a number, got True"
    # A switch takes TOML's booleans.
    env = config(tmp_path, "metrics_webhook_labels = false\n")
    assert Settings.from_env(env).metrics_webhook_labels is False
    env = config(tmp_path, 'metrics_webhook_labels = "sometimes"\n')
    assert refused(env) == (
        f"{path}: metrics_webhook_labels must be true or false, got 'sometimes'"
    )


def test_unknown_keys_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    env = config(tmp_path, "concurency = 3\n")
    message = refused(env)
    assert message.startswith(f"{env['HOOKHUB_CONFIG']}: unknown setting 'concurency' (known: ")
    assert "concurrency" in message
    env = config(tmp_path, "concurrency = \n")
    assert refused(env).startswith(f"{env['HOOKHUB_CONFIG']}: not valid TOML: ")
    missing = str(tmp_path / "missing.toml")
    assert refused({"HOOKHUB_CONFIG": missing}) == (
        f"HOOKHUB_CONFIG: cannot read {missing}: No such file or directory"
    )


def test_every_setting_is_documented() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "settings.md").read_text()
    for field in Settings.__dataclass_fields__:
        assert f"`HOOKHUB_{field.upper()}`" in docs, field
        assert f"`{field}`" in docs, field


def test_command_dirs_are_existing_absolute_folders_resolved(tmp_path: Path) -> None:
    (tmp_path / "hooks").mkdir()
    (tmp_path / "more").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "hooks")
    env = config(tmp_path, f'command_dirs = ["{tmp_path / "link"}", "{tmp_path / "more"}"]\n')
    dirs = Settings.from_env(env).command_dirs
    assert dirs == (str((tmp_path / "hooks").resolve()), str((tmp_path / "more").resolve()))
    assert Settings.from_env({}).command_dirs == ()
    missing = str(tmp_path / "missing")
    assert refused({"HOOKHUB_COMMAND_DIRS": missing}) == (
        f"HOOKHUB_COMMAND_DIRS: {missing!r} is not an existing directory given by absolute path"
    )
    assert "absolute path" in refused({"HOOKHUB_COMMAND_DIRS": "hooks"})
