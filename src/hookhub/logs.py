"""Process logging: plain text lines, or one JSON object per line (`HOOKHUB_LOG_FORMAT=json`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson

from hookhub.errors import ConfigError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time (ISO 8601, UTC), level, logger, message, the `extra`
    fields (such as delivery_id), and the traceback of a logged exception."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line = {
            "time": at.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # Extras the encoder does not know (ids as objects, say) are written as their str().
        return orjson.dumps(line, default=str).decode()


def configure(log_format: str, level: str) -> None:
    """Send every logger's records to stderr in `log_format` ("text" or "json") from `level`."""
    if level.upper() not in LEVELS:
        raise ConfigError(f"HOOKHUB_LOG_LEVEL must be one of {', '.join(LEVELS)}, got {level!r}")
    handler = logging.StreamHandler()
    json = log_format == "json"
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # Alembic narrates every start at INFO; only its problems matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # aiosqlite logs every call at DEBUG, which would drown hookhub's own debug lines.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.root.level))
