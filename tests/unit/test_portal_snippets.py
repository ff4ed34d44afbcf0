"""The portal's verification snippets check hookhub's own signatures: Python always, Node.js
where `node` is installed (Go is compiled nowhere here; it follows the same steps)."""

from __future__ import annotations

import json
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


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_snippet_accepts_hookhubs_signature_and_refuses_others(tmp_path: Path) -> None:
    secret, other = signing.generate_secret(), signing.generate_secret()
    now = int(time.time())
    module = tmp_path / "verify.js"
    module.write_text(_code("node", secret))
    cases = [
        (_headers([other, secret], now), BODY.decode(), True),
        (_headers([other], now), BODY.decode(), False),
        (_headers([secret], now), BODY.decode() + " ", False),
        (_headers([secret], now - 3600), BODY.decode(), False),
    ]
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
    assert done.stdout.split() == ["ok" if c[2] else "refused" for c in cases]
