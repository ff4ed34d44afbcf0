"""Encoded trigger answers carry the same bytes as Starlette's Response would."""

from __future__ import annotations

import pytest
from starlette.responses import Response

from hookhub.inbound.answers import text_answer


@pytest.mark.parametrize(
    ("status", "headers", "body", "media"),
    [
        (200, {}, "ok", "text/plain; charset=utf-8"),
        (202, {"X-Thing": "a b"}, '{"accepted": true}', "application/json"),
        (200, {"Content-Type": "text/csv"}, "a,b", None),
        (204, {}, "", "text/plain; charset=utf-8"),
    ],
)
def test_answer_matches_starlette(
    status: int, headers: dict[str, str], body: str, media: str | None
) -> None:
    answer = text_answer(status, headers, body)
    expected = Response(body, status_code=status, headers=headers, media_type=media)
    assert answer.status_code == expected.status_code
    assert answer.raw_headers == expected.raw_headers
    assert answer.body == expected.body


def test_with_header_leaves_the_shared_answer_alone() -> None:
    shared = text_answer(200, {}, "ok")
    mine = shared.with_header(b"hookhub-run-id", "run_1")
    mine.headers["Access-Control-Allow-Origin"] = "https://app.example"
    assert mine.headers["hookhub-run-id"] == "run_1"
    assert mine.headers["access-control-allow-origin"] == "https://app.example"
    assert [name for name, _ in shared.raw_headers] == [b"content-length", b"content-type"]
