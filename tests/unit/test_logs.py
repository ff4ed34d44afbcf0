"""Log lines: one JSON object each with `HOOKHUB_LOG_FORMAT=json`, extras included; the setting
is validated."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime

import pytest

from hookhub import logs
from hookhub.errors import ConfigError
from hookhub.logs import JsonFormatter
from hookhub.settings import Settings


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "hookhub.dispatcher", "levelno": logging.DEBUG, "levelname": "DEBUG"}
    )
    record.msg, record.args = message, args
    record.__dict__.update(extra)
    return record


def test_a_record_is_one_json_object_with_its_extras() -> None:
    record = _record("delivery %s attempt %d: %s", "dlv_1", 2, 500, delivery_id="dlv_1")
    record.__dict__.update(event_id="ev_1", webhook_id=None)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed == {
        "time": parsed["time"],
        "level": "DEBUG",
        "logger": "hookhub.dispatcher",
        "message": "delivery dlv_1 attempt 2: 500",
        "delivery_id": "dlv_1",
        "event_id": "ev_1",
        "webhook_id": None,
    }
    assert parsed["time"].endswith("Z")
    at = datetime.fromisoformat(parsed["time"].replace("Z", "+00:00"))
    assert at.timestamp() == pytest.approx(record.created, abs=0.001)


def test_exceptions_and_unencodable_extras_stay_on_one_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = _record("claiming failed", where=object)
        record.exc_info = sys.exc_info()
    parsed = json.loads(JsonFormatter().format(record))
    assert parsed["message"] == "claiming failed"
    assert "RuntimeError: boom" in parsed["exception"]
    assert parsed["where"] == str(object)


def test_log_format_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKHUB_LOG_FORMAT", raising=False)
    assert Settings.from_env().log_format == "text"
    monkeypatch.setenv("HOOKHUB_LOG_FORMAT", "JSON")
    assert Settings.from_env().log_format == "json"
    monkeypatch.setenv("HOOKHUB_LOG_FORMAT", "logfmt")
    with pytest.raises(ConfigError) as raised:
        Settings.from_env()
    assert raised.value.message == "HOOKHUB_LOG_FORMAT must be one of text, json, got 'logfmt'"


def test_log_level_is_validated() -> None:
    with pytest.raises(ConfigError) as raised:
        logs.configure("text", "loud")
    assert raised.value.message == (
        "HOOKHUB_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'"
    )
