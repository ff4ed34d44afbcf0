"""The console examples of a Markdown page as data, and their documented output compared with
what the commands print, by shape: the same JSON keys (all of them, unless the page elides some
with `...`), the same literal values, the same lines; ids, tokens, times, digits and signatures
may differ. Documented ids are bound to the real ones as they appear, so later commands that
quote them (`WEBHOOK=wh_...`, `/deliveries/dlv_.../attempts`) run against the real objects.

A fenced block is run unless an annotation on the line before it says otherwise:

    <!-- docs-test: KIND (why) -->

KIND is `skip` (not run: the reason says why), `server` (the test starts the server itself),
`background` (the command runs until stopped: started, and its first line waited for) or
`receiver-output` (a `text` block: what the debug receiver printed for the first request).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ANNOTATION = re.compile(r"^<!-- docs-test: ([a-z-]+)(?: \((.*)\))? -->$")
KINDS = {"skip", "server", "background", "receiver-output"}
FENCE = re.compile(r"^```([a-z]*)$")
HEREDOC = re.compile(r"<<-?'?([A-Za-z_]+)'?\s*$")

ID = re.compile(r"\b(?:wh|rule|evt|dlv|att|run|wf)_[0-9A-Z]{26}\b")
# Not `\b` at the end: a key may end with "-", after which no word boundary follows.
KEY = re.compile(r"(?<=/hooks/)[A-Za-z0-9_-]{24}(?![A-Za-z0-9_-])")
# What differs from run to run, in the order it is replaced (ids before their digits).
VOLATILE = [
    (re.compile(r"\b[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\b"), "<date>"),
    (ID, "<id>"),
    (KEY, "<key>"),
    (re.compile(r"\bhh_[A-Za-z0-9_-]{20,}"), "<token>"),
    (re.compile(r"\bv1,[A-Za-z0-9+/]{20,}={0,2}"), "v1,<signature>"),
    (re.compile(r"\b[0-9a-f]{16,}"), "<hex>"),
    (re.compile(r"\d+"), "0"),
]
ELIDED = "\u2026"  # stands for `...` in a documented JSON object or list


@dataclass
class Command:
    """One `$ ...` command (continuation lines included) and the output shown under it."""

    text: str
    output: list[str] = field(default_factory=list)


@dataclass
class Block:
    """A fenced block: where it is, how it is annotated, its commands (console) or lines."""

    page: str
    line: int
    language: str
    kind: str | None
    reason: str | None
    lines: list[str]
    commands: list[Command]

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The console blocks of a page, and the text blocks that carry an annotation."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    annotation: re.Match[str] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        opening = FENCE.match(line)
        if opening is None:
            annotation = ANNOTATION.match(line) or (annotation if not line.strip() else None)
            index += 1
            continue
        end = lines.index("```", index + 1)
        body = lines[index + 1 : end]
        language = opening[1]
        if language in ("console", "bash", "shell") or annotation is not None:
            kind, reason = (annotation[1], annotation[2]) if annotation else (None, None)
            if kind is not None and kind not in KINDS:
                raise ValueError(f"{path.name}:{index + 1}: unknown docs-test kind {kind!r}")
            is_console = language in ("console", "bash", "shell")
            commands = parse_commands(body) if is_console else []
            found.append(Block(path.name, index + 1, language, kind, reason, body, commands))
        annotation = None
        index = end + 1
    return found


def _complete(text: str) -> bool:
    if text.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(text)
    except ValueError:
        return False
    return True


def parse_commands(body: list[str]) -> list[Command]:
    """`$ command` lines (with their continuation lines and here-documents) and their output."""
    commands: list[Command] = []
    index = 0
    while index < len(body):
        line = body[index]
        index += 1
        if not line.startswith("$ "):
            if not commands:
                raise ValueError(f"output before any command: {line!r}")
            commands[-1].output.append(line)
            continue
        text = line[2:]
        while not _complete(text) and index < len(body):
            text += "\n" + body[index]
            index += 1
        heredoc = HEREDOC.search(text)
        if heredoc:
            while index < len(body):
                text += "\n" + body[index]
                index += 1
                if body[index - 1].strip() == heredoc[1]:
                    break
        commands.append(Command(text))
    return commands


def normalized(text: str) -> str:
    """`text` with what differs from run to run replaced by placeholders."""
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return text


class Mismatch(AssertionError):
    """The output does not have the documented shape."""


def _bind(documented: str, actual: str, bindings: dict[str, str]) -> None:
    for pattern in (ID, KEY):
        for doc_value, real in zip(
            pattern.findall(documented), pattern.findall(actual), strict=False
        ):
            if bindings.setdefault(doc_value, real) != real:
                raise Mismatch(f"{doc_value} stands for {bindings[doc_value]}, got {real}")


def compare_lines(documented: list[str], actual: list[str], bindings: dict[str, str]) -> None:
    """Line by line, by `normalized` form; `...` in a documented line stands for anything."""
    if len(documented) != len(actual):
        raise Mismatch(
            f"{len(documented)} lines documented, {len(actual)} printed:\n" + "\n".join(actual)
        )
    for doc_line, real in zip(documented, actual, strict=True):
        pattern = ".*".join(re.escape(part) for part in normalized(doc_line).split("..."))
        if not re.fullmatch(pattern, normalized(real)):
            raise Mismatch(f"documented {doc_line!r}, printed {real!r}")
        _bind(doc_line, real, bindings)


def documented_json(text: str) -> Any:
    """A documented JSON answer: wrapped over lines, `, ...` marking elided keys or items."""
    out: list[str] = []
    in_string = escaped = False
    index = 0
    while index < len(text):
        char = text[index]
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            index += 1
            continue
        elided = re.match(r",\s*\.\.\.\s*([}\]])", text[index:])
        if elided:
            closing = elided[1]
            out.append(f', "{ELIDED}": 0}}' if closing == "}" else f', "{ELIDED}"]')
            index += elided.end()
            continue
        in_string = char == '"'
        out.append(char)
        index += 1
    return json.loads("".join(out))


def compare_json(documented: Any, actual: Any, bindings: dict[str, str], at: str = "") -> None:
    """Same keys (a superset where `...` elides some), same literals, volatile values alike."""
    where = at or "the answer"
    if isinstance(documented, dict):
        if not isinstance(actual, dict):
            raise Mismatch(f"{where}: documented an object, got {actual!r}")
        keys = [key for key in documented if key != ELIDED]
        missing = [key for key in keys if key not in actual]
        if missing:
            raise Mismatch(f"{where}: documented keys {missing} are not in {sorted(actual)}")
        extra = [key for key in actual if key not in documented]
        if extra and ELIDED not in documented:
            raise Mismatch(f"{where}: keys {extra} are not documented (nor elided with ...)")
        for key in keys:
            compare_json(documented[key], actual[key], bindings, f"{at}.{key}" if at else key)
    elif isinstance(documented, list):
        if not isinstance(actual, list):
            raise Mismatch(f"{where}: documented a list, got {actual!r}")
        items = [item for item in documented if item != ELIDED]
        if len(actual) < len(items) or (ELIDED not in documented and len(actual) > len(items)):
            raise Mismatch(f"{where}: documented {len(items)} items, got {len(actual)}")
        for number, (doc_item, real) in enumerate(zip(items, actual, strict=False)):
            compare_json(doc_item, real, bindings, f"{at}[{number}]")
    elif isinstance(documented, str):
        if not isinstance(actual, str):
            raise Mismatch(f"{where}: documented a string, got {actual!r}")
        if "..." in documented:  # a documented prefix
            prefix = normalized(documented.split("...", 1)[0].rstrip(", "))
            if not normalized(actual).startswith(prefix):
                raise Mismatch(f"{where}: documented {documented!r}, got {actual!r}")
            return
        if normalized(documented) != normalized(actual):
            raise Mismatch(f"{where}: documented {documented!r}, got {actual!r}")
        _bind(documented, actual, bindings)
    elif isinstance(documented, bool) or documented is None:
        if actual is not documented:
            raise Mismatch(f"{where}: documented {documented!r}, got {actual!r}")
    elif isinstance(documented, float) and not documented.is_integer():
        if not isinstance(actual, int | float) or isinstance(actual, bool):
            raise Mismatch(f"{where}: documented a number, got {actual!r}")  # a duration
    elif documented != actual or isinstance(actual, bool):
        raise Mismatch(f"{where}: documented {documented!r}, got {actual!r}")


def compare_output(documented: list[str], printed: str, bindings: dict[str, str]) -> None:
    """A command's printed output against what the page shows under it."""
    text = "\n".join(documented).strip()
    if text.startswith(("{", "[")):
        try:
            actual = json.loads(printed)
        except ValueError:
            raise Mismatch(f"documented JSON, printed {printed!r}") from None
        compare_json(documented_json(text), actual, bindings)
        return
    compare_lines(documented, printed.splitlines(), bindings)
