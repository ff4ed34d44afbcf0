"""The portal's verification snippets check hookhub's own signatures: Python always, Node.js
where `node` is installed (CI installs it), Go where `go` is (CI does not: the test skips)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from hookhub.core import signing

SNIPPETS = (
    Path(__file__).parents[2] / "src" / "hookhub" / "ui" / "templates" / "portal" / "snippets"
)
BODY = b'{"type": "invoice.paid", "data": {"id": 1}}'


def _code(language: str, secret: str) -> str:
    text = (SNIPPETS / f"{language}.html").read_text()
    code = text.removeprefix("{% raw %}").replace("{% endraw %}", "")
    assert code.count('"whsec_..."') == 1
    return code.replace('"whsec_..."', json.dumps(secret))


def _headers(secrets: list[str], timestamp: int) -> dict[str, str]:
    return {
        "webhook-id": "dlv_1",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.standard_signatures(secrets, "dlv_1", timestamp, BODY),
    }


def _python_verify(secret: str) -> Any:
    scope: dict[str, Any] = {}
    exec(compile(_code("python", secret), "snippet.py", "exec"), scope)  # noqa: S102
    return scope["verify"]


def test_the_python_snippet_accepts_hookhubs_signature_and_refuses_others() -> None:
    secret, other = signing.generate_secret(), signing.generate_secret()
    now = int(time.time())
    verify = _python_verify(secret)
    verify(_headers([secret], now), BODY)
    verify(_headers([other, secret], now), BODY)  # during a rotation: one match is enough
    for headers, body in (
        (_headers([other], now), BODY),
        (_headers([secret], now), BODY + b" "),
        (_headers([secret], now - 3600), BODY),
    ):
        with pytest.raises(ValueError):
            verify(headers, body)


def _cases(secret: str) -> list[tuple[dict[str, str], str, bool]]:
    """Requests a snippet is given (headers, body) and whether it must accept each."""
    other, now = signing.generate_secret(), int(time.time())
    return [
        (_headers([other, secret], now), BODY.decode(), True),  # during a rotation
        (_headers([other], now), BODY.decode(), False),
        (_headers([secret], now), BODY.decode() + " ", False),
        (_headers([secret], now - 3600), BODY.decode(), False),
    ]


def _verdicts(cases: list[tuple[dict[str, str], str, bool]]) -> list[str]:
    return ["ok" if case[2] else "refused" for case in cases]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_snippet_accepts_hookhubs_signature_and_refuses_others(tmp_path: Path) -> None:
    secret = signing.generate_secret()
    module = tmp_path / "verify.js"
    module.write_text(_code("node", secret))
    cases = _cases(secret)
    script = (
        f"const {{ verify }} = require({json.dumps(str(module))});\n"
        f"for (const [headers, body] of {json.dumps([c[:2] for c in cases])}) {{\n"
        "  try { verify(headers, Buffer.from(body)); console.log('ok'); }\n"
        "  catch (e) { console.log('refused'); }\n"
        "}\n"
    )
    done = subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == _verdicts(cases)


# A program that runs the snippet's package on the cases it reads from stdin.
GO_MAIN = """package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"snippet/webhooks"
)

func main() {
	var cases [][2]json.RawMessage
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	for _, c := range cases {
		var headers map[string]string
		var body string
		if json.Unmarshal(c[0], &headers) != nil || json.Unmarshal(c[1], &body) != nil {
			panic("a case is [headers, body]")
		}
		header := http.Header{}
		for name, value := range headers {
			header.Set(name, value)
		}
		if webhooks.Verify(header, []byte(body)) == nil {
			fmt.Println("ok")
		} else {
			fmt.Println("refused")
		}
	}
}
"""


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_the_go_snippet_accepts_hookhubs_signature_and_refuses_others(tmp_path: Path) -> None:
    secret = signing.generate_secret()
    (tmp_path / "webhooks").mkdir()
    (tmp_path / "webhooks" / "verify.go").write_text(_code("go", secret))
    (tmp_path / "main.go").write_text(GO_MAIN)
    (tmp_path / "go.mod").write_text("module snippet\n\ngo 1.19\n")
    cases = _cases(secret)
    # The snippet needs nothing but the standard library: no download, whatever the go.
    env = {**os.environ, "GOPROXY": "off", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    done = subprocess.run(
        ["go", "run", "."],
        input=json.dumps([c[:2] for c in cases]),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # a first build compiles the standard library's packages it uses
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == _verdicts(cases)
