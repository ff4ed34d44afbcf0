"""The reader of documented console examples (tests/support/console_docs.py) that keeps README.md
and docs/quickstart.md honest: what it accepts and what it catches."""

from __future__ import annotations

import pytest

from tests.support.console_docs import (
    ELIDED,
    Mismatch,
    compare_output,
    documented_json,
    parse_commands,
)


def test_commands_keep_their_continuations_quotes_and_here_documents() -> None:
    body = [
        "$ curl -s -X POST http://127.0.0.1:8000/api/v1/rules \\",
        '    -H "Content-Type: application/json" -d @- <<EOF',
        '{"name": "r",',
        ' "webhook_id": "$WEBHOOK"}',
        "EOF",
        '{"name":"r", ...}',
        '$ curl -d \'{"a": 1,',
        '         "b": 2}\'',
        '{"ids":[]}',
        '$ WEBHOOK=wh_01M83W3B3RPNH2WNY605XNQ5FE    # the "id" from your answer',
    ]
    first, second, third = parse_commands(body)
    assert first.text.endswith("EOF") and first.output == ['{"name":"r", ...}']
    assert second.text.endswith('"b": 2}\'') and second.output == ['{"ids":[]}']
    assert third.output == []


def test_elisions_outside_strings_only() -> None:
    text = '{"a": {"b": 1, ...}, "c": [1, ...], "body": "{\\"event\\":\\"x\\", ...}", ...}'
    assert documented_json(text) == {
        "a": {"b": 1, ELIDED: 0},
        "c": [1, ELIDED],
        "body": '{"event":"x", ...}',
        ELIDED: 0,
    }


def test_ids_bind_and_volatile_values_may_differ() -> None:
    bindings: dict[str, str] = {}
    documented = [
        '{"id":"wh_01M83W3B3RPNH2WNY605XNQ5FE","at":"2026-11-23T09:34:23Z",',
        ' "n":2.478}',
    ]
    compare_output(
        documented,
        '{"id":"wh_01M911JPJ9C75PQT38H5XWWQEA","at":"2026-12-04T17:28:07Z","n":3.1}',
        bindings,
    )
    assert bindings == {"wh_01M83W3B3RPNH2WNY605XNQ5FE": "wh_01M911JPJ9C75PQT38H5XWWQEA"}


@pytest.mark.parametrize("key", ["vZYE0CgoTiQklktFRfgteSo-", "-ZYE0CgoTiQklktFRfgteSo_"])
def test_trigger_keys_bind_whatever_character_they_end_with(key: str) -> None:
    bindings: dict[str, str] = {}
    documented = ["http://127.0.0.1:8000/hooks/sUoNhAACvH5bQPEX-VLlySfT"]
    compare_output(documented, f"http://127.0.0.1:8000/hooks/{key}", bindings)
    assert bindings == {"sUoNhAACvH5bQPEX-VLlySfT": key}


@pytest.mark.parametrize(
    ("documented", "printed"),
    [
        ('{"a":1}', '{"a":1,"b":2}'),  # a key the page doesn't show, nor elides
        ('{"a":1, ...}', '{"b":2}'),  # a documented key missing
        ('{"status":"succeeded"}', '{"status":"pending"}'),  # a literal that differs
        ('{"deliveries":1}', '{"deliveries":0}'),
        ("ok", "not ok"),
    ],
)
def test_what_it_catches(documented: str, printed: str) -> None:
    with pytest.raises(Mismatch):
        compare_output([documented], printed, {})
