"""Process settings, read once from the environment (`HOOKHUB_*`) over an optional TOML file
(`HOOKHUB_CONFIG`), and overridable by CLI flags. Every setting is listed in docs/settings.md."""

from __future__ import annotations

import ipaddress
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from hookhub.core.policy import NetworkPolicy, parse_networks
from hookhub.core.proxies import Proxies, proxy_url
from hookhub.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///./hookhub.db"
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
ENV_PREFIX = "HOOKHUB_"


class _Source(dict[str, str]):
    """`HOOKHUB_*` values: the environment over the config file; `label` says where one is from."""

    def __init__(self, values: Mapping[str, str], origin: Mapping[str, str]) -> None:
        super().__init__(values)
        self.origin = dict(origin)  # variable -> "file: key" for values the file gave

    def label(self, name: str) -> str:
        return self.origin.get(name, name)


def _env_float(env: _Source, name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{env.label(name)} must be a number, got {raw!r}") from None


def _env_seconds(env: _Source, name: str, default: float, zero: bool = False) -> float:
    value = _env_float(env, name, default)
    if not (value >= 0 if zero else value > 0) or value == math.inf:
        above = "0 or more" if zero else "above 0"
        raise ConfigError(f"{env.label(name)} must be a number of seconds {above}, got {value!r}")
    return value


def _env_int(env: _Source, name: str, default: int) -> int:
    value = _env_float(env, name, default)
    if value != int(value) or value < 1:
        raise ConfigError(f"{env.label(name)} must be a positive whole number, got {value!r}")
    return int(value)


def _env_dir(env: _Source, name: str) -> str:
    raw = env.get(name, "")
    if raw and not os.path.isdir(raw):
        raise ConfigError(f"{env.label(name)} must be an existing directory, got {raw!r}")
    return raw


def _env_dirs(env: _Source, name: str) -> tuple[str, ...]:
    """Comma-separated existing directories, each resolved (symbolic links and `..`)."""
    dirs = tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())
    for path in dirs:
        if not os.path.isabs(path) or not os.path.isdir(path):
            raise ConfigError(
                f"{env.label(name)}: {path!r} is not an existing directory given by absolute path"
            )
    return tuple(os.path.realpath(path) for path in dirs)


def _env_networks(env: _Source, name: str) -> tuple[str, ...]:
    networks = tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(
                f"{env.label(name)}: {network!r} is not an IP address or CIDR"
            ) from None
    return networks


def _env_port(env: _Source, name: str) -> int | None:
    raw = env.get(name, "")
    if raw == "":
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"{env.label(name)} must be a port number (1-65535), got {raw!r}")
    return int(raw)


def _env_choice(env: _Source, name: str, choices: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{env.label(name)} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _env_bool(env: _Source, name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ConfigError(f"{env.label(name)} must be true or false, got {raw!r}")


def _env_level(env: _Source, name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if value.upper() not in LOG_LEVELS:
        raise ConfigError(
            f"{env.label(name)} must be one of {', '.join(LOG_LEVELS)}, got {value!r}"
        )
    return value.upper()


def _env_frame_ancestors(env: _Source, name: str, default: str) -> str:
    """Space-separated CSP sources; refused when one could end the header's directive."""
    value = " ".join(env.get(name, "").split()) or default
    if any(char in value for char in ';,"') or not value.isprintable():
        raise ConfigError(
            f"{env.label(name)} must be CSP sources separated by spaces "
            f"(e.g. https://app.example.com or 'none'), got {value!r}"
        )
    return value


def _file_values(path: str) -> dict[str, str]:
    """The settings in a TOML file, as the `HOOKHUB_*` strings the environment would give."""
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"HOOKHUB_CONFIG: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    known = {field.name for field in fields(Settings)}
    switches = {field.name for field in fields(Settings) if field.type == "bool"}
    values: dict[str, str] = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(
                f"{path}: unknown setting {key!r} (known: {', '.join(sorted(known))})"
            )
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = ",".join(value)
        if isinstance(value, bool) and key in switches:
            value = "true" if value else "false"
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(f"{path}: {key} must be a string or a number, got {value!r}")
        values[f"{ENV_PREFIX}{key.upper()}"] = str(value)
    return values


@dataclass(frozen=True)
class Settings:
    """Everything a hookhub process can be configured with; each field maps to `HOOKHUB_<NAME>`."""

    # SQLAlchemy-style URL: sqlite:///path or postgresql://user@host/db
    database_url: str = DEFAULT_DATABASE_URL
    # Deliveries sent at once by one worker process, across all webhooks.
    concurrency: int = 100
    # Deliveries claimed from the database per query.
    claim_batch: int = 200
    # seconds: fallback poll when no wake-up arrives (scheduled retries, other processes' work).
    poll_interval: float = 0.5
    # seconds: added to a webhook's timeout to form the lease of a claimed delivery.
    lease_margin: float = 10.0
    # bytes: how much of a receiver's response body is kept in the attempt log.
    response_body_limit: int = 64 * 1024
    # bytes: largest request body the API accepts.
    max_request_body: int = 5 * 1024 * 1024
    # seconds: a client must send a request's headers within this, from the connection's accept
    # (or the first byte of a request on a kept-alive connection); else 408 and closed.
    header_timeout: float = 10.0
    # seconds: a client must send a request's body within this, once its headers are in.
    body_timeout: float = 60.0
    # Connections `hookhub serve` keeps open at once; past it a new one gets 503 and is closed.
    max_connections: int = 1000
    # seconds: longest a SQLite write waits while another process holds the database's write
    # lock (queued writes of this process included); then it fails (the API answers 503).
    sqlite_busy_timeout: float = 30.0
    # Base URL shown to users (behind a reverse proxy); empty = derived from the request.
    public_url: str = ""
    # seconds: how long a replaced webhook secret keeps signing beside the new one (0 = not).
    secret_rotation_grace: float = 86400.0
    # Reverse proxies (CIDRs) whose X-Forwarded-For is believed by trigger IP allow-lists.
    trusted_proxies: tuple[str, ...] = ()
    # Workflow runs executed at once by one process (async runs from the queue).
    run_concurrency: int = 50
    # seconds: lease of a claimed run; a run still unfinished then is run again elsewhere.
    run_lease: float = 300.0
    # seconds: in `serve`, how long queued runs at most give way to a burst of requests (the
    # process saturated answering them) before a batch runs anyway; 0: they never give way.
    run_yield: float = 1.0
    # days: attempts and finished deliveries older than this are purged; 0 keeps everything.
    retention_days: float = 30.0
    # Outbound network policy (SSRF): networks or names (loopback, private, link-local,
    # internal, ...) refused unless allowed; empty = every address may be called.
    outbound_deny: str = ""
    outbound_allow: str = ""
    # The HTTP proxy (http://[user:password@]host:port) every outbound HTTP request goes through,
    # except to NO_PROXY's hosts; empty = HTTP_PROXY / HTTPS_PROXY from the environment, if set.
    outbound_proxy: str = ""
    # Directory the webhooks' certificate and CA files must be in; empty = anywhere.
    cert_dir: str = ""
    # The name this process consumes sources as (Redis consumer, MQTT client id); empty = the
    # host name. Stable across restarts; distinct for each worker process on one host.
    source_consumer: str = ""
    # Folders the programs of workflow `command` nodes must be in; empty = command nodes off.
    command_dirs: tuple[str, ...] = ()
    # Log lines as text, or as one JSON object each (for log collectors): "text" or "json".
    log_format: str = "text"
    # Lowest level logged: DEBUG, INFO, WARNING, ERROR or CRITICAL.
    log_level: str = "INFO"
    # `hookhub worker` serves Prometheus /metrics on this port; None = not at all.
    # (`hookhub serve` always has /metrics on its own port.)
    metrics_port: int | None = None
    # Address the worker's /metrics listens on; loopback unless a scraper elsewhere needs it.
    metrics_host: str = "127.0.0.1"
    # characters: the largest text a template may render, or string or list it may build.
    template_max_output: int = 8 * 1024 * 1024
    # seconds: the longest one template render may take before it is stopped.
    template_timeout: float = 1.0
    # The bearer token every /metrics (the API's and the worker's) requires; empty = none.
    metrics_token: str = ""
    # Label delivery counters by webhook id; false = by outcome only, no webhook ids shown.
    metrics_webhook_labels: bool = True
    # Signs web UI session cookies; empty = a key generated once and kept in the database,
    # so restarts and every node share it.
    secret_key: str = ""
    # Refuse (422) a rule naming an event type the (non-empty) event-type catalog lacks,
    # instead of saving it with a warning.
    strict_event_types: bool = False
    # The consumer portal's `Content-Security-Policy: frame-ancestors` sources: the sites that
    # may show it in an iframe (e.g. "https://app.example.com"); 'none' = no site may.
    portal_frame_ancestors: str = "'none'"

    def network_policy(self) -> NetworkPolicy:
        """The outbound network policy (SSRF protection) these settings describe."""
        return NetworkPolicy(
            deny=parse_networks(self.outbound_deny, "HOOKHUB_OUTBOUND_DENY"),
            allow=parse_networks(self.outbound_allow, "HOOKHUB_OUTBOUND_ALLOW"),
        )

    def proxies(self, environ: Mapping[str, str] | None = None) -> Proxies:
        """The outbound HTTP proxies: `outbound_proxy`, else the (process) environment's
        HTTP_PROXY and HTTPS_PROXY; NO_PROXY's hosts bypass them."""
        return Proxies.from_environ(os.environ if environ is None else environ, self.outbound_proxy)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `HOOKHUB_*` environment variables over the TOML file named by
        `HOOKHUB_CONFIG` (same names, lower case, no prefix), validating each."""
        environ = os.environ if environ is None else environ
        path = environ.get("HOOKHUB_CONFIG", "")
        from_file = _file_values(path) if path else {}
        origin = {
            name: f"{path}: {name.removeprefix(ENV_PREFIX).lower()}"
            for name in from_file
            if name not in environ
        }
        env = _Source({**from_file, **environ}, origin)
        outbound = {
            name: env.get(f"HOOKHUB_OUTBOUND_{name.upper()}", "") for name in ("deny", "allow")
        }
        for name, value in outbound.items():
            # Refuse a bad network list at start, not at the first send.
            parse_networks(value, env.label(f"HOOKHUB_OUTBOUND_{name.upper()}"))
        outbound_proxy = env.get("HOOKHUB_OUTBOUND_PROXY", "").strip()
        # A proxy URL hookhub cannot send through stops it at start, not at the first send.
        if outbound_proxy:
            proxy_url(outbound_proxy, env.label("HOOKHUB_OUTBOUND_PROXY"))
        Proxies.from_environ(environ)
        return cls(
            database_url=env.get("HOOKHUB_DATABASE_URL") or DEFAULT_DATABASE_URL,
            concurrency=_env_int(env, "HOOKHUB_CONCURRENCY", cls.concurrency),
            claim_batch=_env_int(env, "HOOKHUB_CLAIM_BATCH", cls.claim_batch),
            poll_interval=_env_float(env, "HOOKHUB_POLL_INTERVAL", cls.poll_interval),
            lease_margin=_env_float(env, "HOOKHUB_LEASE_MARGIN", cls.lease_margin),
            response_body_limit=_env_int(
                env, "HOOKHUB_RESPONSE_BODY_LIMIT", cls.response_body_limit
            ),
            max_request_body=_env_int(env, "HOOKHUB_MAX_REQUEST_BODY", cls.max_request_body),
            header_timeout=_env_seconds(env, "HOOKHUB_HEADER_TIMEOUT", cls.header_timeout),
            body_timeout=_env_seconds(env, "HOOKHUB_BODY_TIMEOUT", cls.body_timeout),
            max_connections=_env_int(env, "HOOKHUB_MAX_CONNECTIONS", cls.max_connections),
            sqlite_busy_timeout=_env_seconds(
                env, "HOOKHUB_SQLITE_BUSY_TIMEOUT", cls.sqlite_busy_timeout
            ),
            public_url=env.get("HOOKHUB_PUBLIC_URL", "").rstrip("/"),
            secret_rotation_grace=_env_float(
                env, "HOOKHUB_SECRET_ROTATION_GRACE", cls.secret_rotation_grace
            ),
            trusted_proxies=_env_networks(env, "HOOKHUB_TRUSTED_PROXIES"),
            run_concurrency=_env_int(env, "HOOKHUB_RUN_CONCURRENCY", cls.run_concurrency),
            run_lease=_env_float(env, "HOOKHUB_RUN_LEASE", cls.run_lease),
            run_yield=_env_seconds(env, "HOOKHUB_RUN_YIELD", cls.run_yield, zero=True),
            retention_days=_env_float(env, "HOOKHUB_RETENTION_DAYS", cls.retention_days),
            outbound_deny=outbound["deny"],
            outbound_allow=outbound["allow"],
            outbound_proxy=outbound_proxy,
            cert_dir=_env_dir(env, "HOOKHUB_CERT_DIR"),
            command_dirs=_env_dirs(env, "HOOKHUB_COMMAND_DIRS"),
            source_consumer=env.get("HOOKHUB_SOURCE_CONSUMER", "").strip(),
            log_format=_env_choice(env, "HOOKHUB_LOG_FORMAT", LOG_FORMATS, cls.log_format),
            log_level=_env_level(env, "HOOKHUB_LOG_LEVEL", cls.log_level),
            metrics_port=_env_port(env, "HOOKHUB_METRICS_PORT"),
            metrics_host=env.get("HOOKHUB_METRICS_HOST") or cls.metrics_host,
            metrics_token=env.get("HOOKHUB_METRICS_TOKEN", "").strip(),
            metrics_webhook_labels=_env_bool(
                env, "HOOKHUB_METRICS_WEBHOOK_LABELS", cls.metrics_webhook_labels
            ),
            secret_key=env.get("HOOKHUB_SECRET_KEY", ""),
            strict_event_types=_env_bool(env, "HOOKHUB_STRICT_EVENT_TYPES", cls.strict_event_types),
            portal_frame_ancestors=_env_frame_ancestors(
                env, "HOOKHUB_PORTAL_FRAME_ANCESTORS", cls.portal_frame_ancestors
            ),
            template_max_output=_env_int(
                env, "HOOKHUB_TEMPLATE_MAX_OUTPUT", cls.template_max_output
            ),
            template_timeout=_env_seconds(env, "HOOKHUB_TEMPLATE_TIMEOUT", cls.template_timeout),
        )

    def with_database(self, url: str | None) -> Settings:
        """These settings with another database URL (the CLI's `--database`), if one is given."""
        return replace(self, database_url=url) if url else self
