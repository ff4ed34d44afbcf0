"""Callback webhooks: validating the `webhook` object, the basic caller, plugin discovery."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest

from hookhub.core.signing import verify_netbox, verify_standard
from hookhub.errors import ValidationError
from hookhub.outbound.callbacks import (
    BasicCaller,
    Caller,
    caller_for,
    callers,
    looks_like_callback,
    validate_callback,
)
from hookhub.outbound.client import Sender
from hookhub.sdk.verify import verify
from tests.support.receiver import Receiver

PLUGINS = Path(__file__).parent.parent / "support" / "plugins"
URL = "http://127.0.0.1:9/done"
PAYLOAD = {"id": "run_1", "status": "succeeded", "result": {"output": "ok"}, "attempt": 2}
NOW = 1700000000.7


@pytest.fixture(autouse=True)
def fresh_callers() -> Iterator[None]:
    """Discovery runs again in each test, and leaves no plugin cached for later tests."""
    callers.cache_clear()
    yield
    callers.cache_clear()


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test plugin distribution (tests/support/plugins) on sys.path, as if installed."""
    monkeypatch.syspath_prepend(str(PLUGINS))


def _invalid(spec: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validate_callback(spec)
    return caught.value


def _build(**spec: Any) -> Any:
    checked = validate_callback({"url": URL, **spec})
    return caller_for(checked).build(checked, PAYLOAD, "dlv_1", NOW)


def test_defaults() -> None:
    assert validate_callback({"url": URL}) == {
        "name": "basic",
        "url": URL,
        "method": "POST",
        "headers": {},
        "cookies": {},
        "auth": None,
        "timeout": 5.0,
        "secret": None,
    }
    nulls = dict.fromkeys(("name", "method", "headers", "cookies", "auth", "timeout", "secret"))
    assert validate_callback({"url": URL, **nulls}) == validate_callback({"url": URL})


def test_valid_spec_is_normalized() -> None:
    spec = {
        "name": "basic",
        "url": "https://example.com/cb?x=1",
        "method": "patch",
        "headers": {"X-Team": "netops"},
        "cookies": {"session": "abc"},
        "auth": {"type": "bearer", "token": "t0k"},
        "timeout": 120,
        "secret": "s3cret",
    }
    checked = validate_callback(spec)
    assert checked == {**spec, "method": "PATCH", "timeout": 120.0}
    assert isinstance(checked["timeout"], float)
    assert validate_callback({"url": URL, "timeout": 0.5})["timeout"] == 0.5


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"url": URL, "name": "carrier-pigeon"}, "webhook.name", "known callers: basic"),
        ({"url": URL, "name": 3}, "webhook.name", "unknown caller 3"),
        ({}, "webhook.url", "url is required"),
        ({"url": ""}, "webhook.url", "url is required"),
        ({"url": 42}, "webhook.url", "url must be a string, got int"),
        ({"url": "ftp://example.com/x"}, "webhook.url", "http:// or https://"),
        ({"url": "/relative/path"}, "webhook.url", "http:// or https://"),
        ({"url": "http://"}, "webhook.url", "http:// or https://"),
        ({"url": "http://x/\r\nX-Evil: 1"}, "webhook.url", "whitespace"),
        ({"url": "http://[::1/"}, "webhook.url", "url is not valid"),
        ({"url": "http://x/" + "a" * 5000}, "webhook.url", "longer than 4096"),
        ({"url": URL, "method": "HEAD"}, "webhook.method", "GET, POST, PUT, DELETE, PATCH"),
        ({"url": URL, "method": 1}, "webhook.method", "got 1"),
        ({"url": URL, "headers": "X-A: 1"}, "webhook.headers", "must be an object"),
        ({"url": URL, "headers": {"X-A": 1}}, "webhook.headers", "must be a string, got int"),
        ({"url": URL, "headers": {"X A": "1"}}, "webhook.headers", "invalid name 'X A'"),
        ({"url": URL, "headers": {"X-A": "1\r\nX-B: 2"}}, "webhook.headers", "line break"),
        ({"url": URL, "headers": {"X-A": "1\n"}}, "webhook.headers", "line break"),
        ({"url": URL, "headers": {"Content-Length": "9"}}, "webhook.headers", "from the body"),
        ({"url": URL, "cookies": ["a=b"]}, "webhook.cookies", "must be an object"),
        ({"url": URL, "cookies": {"a": 1}}, "webhook.cookies", "must be a string"),
        ({"url": URL, "cookies": {"a=b": "c"}}, "webhook.cookies", "invalid name"),
        ({"url": URL, "cookies": {"a": "b\r\nX: y"}}, "webhook.cookies", "line break"),
        ({"url": URL, "cookies": {"a": "b; admin=1"}}, "webhook.cookies", "contains ';'"),
        ({"url": URL, "auth": ["u"]}, "webhook.auth", '["username", "password"]'),
        ({"url": URL, "auth": ["u", 5]}, "webhook.auth", '["username", "password"]'),
        ({"url": URL, "auth": ["a:b", "p"]}, "webhook.auth", "must not contain ':'"),
        ({"url": URL, "secret": 5}, "webhook.secret", "a non-empty string"),
        ({"url": URL, "secret": ""}, "webhook.secret", "a non-empty string"),
        ({"url": URL, "auth": {"type": "digest"}}, "webhook.auth", '{"type": "bearer"'),
        ({"url": URL, "auth": {"type": "basic", "username": "u"}}, "webhook.auth", "'password'"),
        (
            {"url": URL, "auth": {"type": "basic", "username": "u", "password": "p", "x": 1}},
            "webhook.auth",
            "no key 'x'",
        ),
        (
            {"url": URL, "auth": {"type": "basic", "username": "a:b", "password": "p"}},
            "webhook.auth",
            "must not contain ':'",
        ),
        ({"url": URL, "auth": {"type": "bearer", "token": ""}}, "webhook.auth", "non-empty"),
        ({"url": URL, "auth": {"type": "bearer", "token": "a\nb"}}, "webhook.auth", "one line"),
        ({"url": URL, "auth": {"type": "bearer", "token": 5}}, "webhook.auth", "as a string"),
        ({"url": URL, "timeout": 0.4}, "webhook.timeout", "between 0.5 and 120 seconds, got 0.4"),
        ({"url": URL, "timeout": 121}, "webhook.timeout", "got 121"),
        ({"url": URL, "timeout": float("nan")}, "webhook.timeout", "between 0.5 and 120"),
        ({"url": URL, "timeout": "5"}, "webhook.timeout", "number of seconds, got '5'"),
        ({"url": URL, "timeout": True}, "webhook.timeout", "number of seconds"),
        ({"url": URL, "retries": 3}, "webhook.retries", "unknown key 'retries'"),
    ],
)
def test_invalid_specs_name_the_field(spec: Any, field: str, message: str) -> None:
    error = _invalid(spec)
    assert error.field == field
    assert message in error.message


def test_spec_must_be_an_object() -> None:
    error = _invalid(["http://x"])
    assert (error.field, error.message) == ("webhook", "webhook must be an object, got list")


def test_unknown_key_lists_what_is_accepted() -> None:
    error = _invalid({"url": URL, "retries": 3})
    assert error.message == (
        "unknown key 'retries'; the 'basic' caller accepts: "
        "auth, cookies, headers, method, name, secret, timeout, url"
    )


def test_basic_caller_request() -> None:
    request = _build(
        headers={"X-Team": "netops"},
        cookies={"session": "abc", "lang": "en"},
        auth={"type": "basic", "username": "u", "password": "p:w"},
        timeout=7,
    )
    assert (request.url, request.method, request.timeout) == (URL, "POST", 7.0)
    assert orjson.loads(request.body) == PAYLOAD
    assert request.headers == {
        "Content-Type": "application/json",
        "X-Team": "netops",
        "Authorization": "Basic " + base64.b64encode(b"u:p:w").decode(),
        "Cookie": "session=abc; lang=en",
        "webhook-id": "dlv_1",
        "webhook-timestamp": "1700000000",
    }
    assert (request.ssl_verification, request.ca_file_path) == (True, None)


def test_netpulse_auth_list_is_basic_auth() -> None:
    checked = validate_callback({"url": URL, "auth": ["admin", "pwd"]})
    assert checked["auth"] == {"type": "basic", "username": "admin", "password": "pwd"}
    request = caller_for(checked).build(checked, PAYLOAD, "dlv_1", NOW)
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"admin:pwd").decode()


@pytest.mark.parametrize("secret", ["s3cret", "whsec_" + base64.b64encode(b"k" * 24).decode()])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_callbacks_with_a_secret_are_signed_like_deliveries(secret: str, method: str) -> None:
    request = _build(secret=secret, method=method)
    headers = request.headers
    assert verify_netbox(secret, request.body, headers["X-Hook-Signature"])
    assert verify_standard(
        secret, "dlv_1", headers["webhook-timestamp"], request.body, headers["webhook-signature"]
    )
    verify(headers, request.body, secret, tolerance=float("inf"))
    unsigned = _build(method=method).headers
    assert "X-Hook-Signature" not in unsigned and "webhook-signature" not in unsigned


def test_basic_caller_header_precedence_ignores_case() -> None:
    request = _build(
        headers={"content-type": "application/vnd.x+json", "authorization": "mine"},
        auth={"type": "bearer", "token": "t0k"},
    )
    assert request.headers["content-type"] == "application/vnd.x+json"
    assert "Content-Type" not in request.headers
    # Credentials from `auth` override a hand-written header of the same name.
    assert request.headers["Authorization"] == "Bearer t0k"
    assert "authorization" not in request.headers


def test_basic_caller_get_sends_scalars_as_query() -> None:
    payload = {"id": "run 1", "status": "failed", "result": None, "ok": False, "n": 3, "x": [1]}
    checked = validate_callback({"url": "http://127.0.0.1:9/cb?token=a%26b", "method": "GET"})
    request = BasicCaller().build(checked, payload, "dlv_2", NOW)
    assert request.method == "GET"
    assert request.body == b""
    assert "Content-Type" not in request.headers
    assert request.headers["webhook-id"] == "dlv_2"
    parts = urlsplit(request.url)
    assert parts.path == "/cb"
    assert parse_qsl(parts.query, keep_blank_values=True) == [
        ("token", "a&b"),
        ("id", "run 1"),
        ("status", "failed"),
        ("result", ""),
        ("ok", "false"),
        ("n", "3"),
    ]


def test_basic_is_built_in() -> None:
    assert "shout" not in callers()  # the test plugin is only found on its path
    assert isinstance(callers()["basic"], BasicCaller)
    assert caller_for({"url": URL}) is callers()["basic"]


@pytest.mark.usefixtures("plugin")
def test_plugin_is_discovered_and_used() -> None:
    shout = callers()["shout"]
    assert isinstance(shout, Caller)
    assert type(shout).__module__ == "hookhub_test_caller"
    checked = validate_callback({"name": "shout", "url": URL, "channel": "#ops"})
    assert checked["channel"] == "#ops"
    assert caller_for(checked) is shout
    request = shout.build(checked, PAYLOAD, "dlv_3", NOW)
    assert orjson.loads(request.body) == {"text": "run run_1 SUCCEEDED", "channel": "#ops"}
    assert request.headers["X-Shout"] == "yes"
    assert request.headers["webhook-id"] == "dlv_3"


@pytest.mark.usefixtures("plugin")
def test_plugin_validates_its_own_options() -> None:
    error = _invalid({"name": "shout", "url": URL, "channel": "ops"})
    assert (error.field, error.message) == ("webhook.channel", "channel must start with '#'")
    # Options belong to their caller: `basic` does not accept `channel`.
    assert _invalid({"url": URL, "channel": "#ops"}).field == "webhook.channel"
    assert "known callers: basic, shout" in _invalid({"url": URL, "name": "nope"}).message


@pytest.mark.usefixtures("plugin")
def test_what_looks_like_a_callback_object() -> None:
    """A trigger without callbacks refuses these rather than ignore them (issue 23.4)."""
    netpulse = {"name": "basic", "url": URL, "method": "POST", "headers": {}, "timeout": 5}
    assert looks_like_callback(netpulse)
    assert looks_like_callback({"url": "not checked here"})
    assert looks_like_callback({"name": "shout", "url": URL, "channel": "#ops"})
    # Someone's own data called `webhook`: other keys, no url, not an object.
    assert not looks_like_callback({"url": URL, "id": 7, "created_at": "..."})
    assert not looks_like_callback({"url": URL, "channel": "#ops"})  # basic has no channel
    assert not looks_like_callback({"name": {"x": 1}, "url": URL, "extra": 1})
    assert not looks_like_callback({"method": "POST"})
    assert not looks_like_callback("http://x/")


def _dist(root: Path, name: str, entry_points: str, modules: dict[str, str]) -> None:
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[hookhub.callers]\n{entry_points}")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)


@pytest.mark.usefixtures("plugin")
def test_broken_plugins_are_logged_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    impostor = (
        "from hookhub.outbound.callbacks import BasicCaller, Caller\n\n"
        "class Impostor(BasicCaller):\n    name = 'basic'\n\n"
        "class Misnamed(BasicCaller):\n    name = 'other'\n\n"
        "class Abstract(Caller):  # no build()\n    name = 'abstract'\n"
    )
    _dist(
        tmp_path,
        "hookhub_broken_callers",
        "missing = hookhub_no_such_module:Caller\n"
        "notacaller = json:dumps\n"
        "basic = hookhub_impostor:Impostor\n"
        "misnamed = hookhub_impostor:Misnamed\n"
        "abstract = hookhub_impostor:Abstract\n",
        {"hookhub_impostor": impostor},
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.ERROR, logger="hookhub.callbacks"):
        found = callers()
    assert set(found) == {"basic", "shout"}
    assert type(found["basic"]) is BasicCaller
    messages = "\n".join(r.getMessage() for r in caplog.records)
    origin = "from hookhub_broken_callers 1.0"
    assert f"'missing' (hookhub_no_such_module:Caller, {origin}) skipped: it failed to load" in (
        messages
    )
    assert "No module named 'hookhub_no_such_module'" in caplog.text
    assert "'notacaller' (json:dumps" in messages
    assert "is not a subclass of hookhub.outbound.callbacks.Caller" in messages
    assert "the name 'basic' is already taken by BasicCaller" in messages
    assert "the entry point name 'misnamed' differs from Misnamed.name = 'other'" in messages
    assert "'abstract'" in messages
    assert "could not be instantiated" in messages
    assert len(caplog.records) == 5


async def test_callback_is_well_formed_on_the_wire(receiver: Receiver) -> None:
    sender = Sender()
    try:
        post = validate_callback(
            {
                "url": f"{receiver.url}/callbacks/run_1",
                "headers": {"X-Team": "netops"},
                "cookies": {"session": "abc"},
                "auth": {"type": "bearer", "token": "t0k"},
            }
        )
        get = validate_callback({"url": f"{receiver.url}/poke?k=v", "method": "get"})
        for spec in (post, get):
            outcome = await sender.send(caller_for(spec).build(spec, PAYLOAD, "dlv_9", NOW))
            assert outcome.ok, outcome.error
    finally:
        await sender.close()
    first, second = receiver.requests
    assert (first.method, first.path) == ("POST", "/callbacks/run_1")
    assert orjson.loads(first.body) == PAYLOAD
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["Content-Length"] == str(len(first.body))
    assert first.headers["Authorization"] == "Bearer t0k"
    assert first.headers["Cookie"] == "session=abc"
    assert first.headers["X-Team"] == "netops"
    assert (first.headers["webhook-id"], first.headers["webhook-timestamp"]) == (
        "dlv_9",
        "1700000000",
    )
    assert first.headers["User-Agent"].startswith("hookhub/")
    assert (second.method, second.body) == ("GET", b"")
    assert second.path == "/poke?k=v&id=run_1&status=succeeded&attempt=2"
