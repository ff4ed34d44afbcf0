"""Credentials in what hookhub shows: the mask, the names that hold credentials, and the
credentials written into a URL.

A URL's credentials are its userinfo password (or, when it has none, its user name: a token by
convention, as in `https://<token>@host/`) and the values of query parameters whose names look
like credentials (`?token=`, `?api_key=`, `?sig=`...). A webhook's URL is a Jinja2 template: only
its literal text is a credential, a `{{ ... }}` inside one stays as written (it renders from the
event and is no secret itself), so a masked template still reads as the template it is.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import unquote

from hookhub.core.templates import literal_parts

MASK = "********"
# Header names whose values are credentials: masked in the attempt log and API answers.
SENSITIVE_HEADER = re.compile(r"auth|token|secret|password|api[-_]?key|cookie", re.IGNORECASE)
# Query parameter names whose values are credentials: the header words, and the short ones query
# strings use (`key=`, `sig=` of Azure SAS, `pwd=`, `X-Amz-Credential`, `session=`).
SENSITIVE_PARAM = re.compile(
    SENSITIVE_HEADER.pattern + r"|key|sig|pass|pwd|credential|session", re.IGNORECASE
)
_HOLE = "\x00"  # one Jinja part, while the URL's structure is read
_AUTHORITY = re.compile(r"[^/?#]*//")  # what comes before the authority: `scheme://`


@dataclass(frozen=True)
class Credential:
    """A credential in a URL: its value at `url[start:end]`, the place it holds (`password`,
    `username`, `query.token`; `query.token.2` for a name's second value) and how it is shown
    (its literal text masked, its Jinja parts as written)."""

    slot: str
    start: int
    end: int
    shown: str


def url_credentials(url: str, template: bool = True) -> list[Credential]:
    """The credentials in `url`, in order; `template`: `url` is Jinja2 source (not rendered)."""
    shape: list[str] = []  # the URL, each Jinja part one _HOLE
    offsets: list[int] = []  # where each character of `shape` starts in `url`
    position = 0
    for text, literal in literal_parts(url) if template else [(url, True)]:
        if literal:
            shape.extend(text.replace(_HOLE, "\x01"))
            offsets.extend(range(position, position + len(text)))
        else:
            shape.append(_HOLE)
            offsets.append(position)
        position += len(text)
    offsets.append(len(url))
    flat = "".join(shape)
    found: list[Credential] = []

    def add(slot: str, start: int, end: int) -> None:
        value = flat[start:end]
        if value.strip(_HOLE):  # some literal text: a credential
            shown = "".join(
                MASK if run[0] != _HOLE else url[offsets[start + at] : offsets[start + at + 1]]
                for at, run in _runs(value)
            )
            found.append(Credential(slot, offsets[start], offsets[end], shown))

    scheme = _AUTHORITY.match(flat)
    if scheme:
        begin = scheme.end()
        end = _first(flat, "/?#", begin)
        at = flat.rfind("@", begin, end)
        if at >= 0:
            user_end = flat.find(":", begin, at)
            if user_end >= 0 and user_end + 1 < at:
                add("password", user_end + 1, at)
            else:
                add("username", begin, at if user_end < 0 else user_end)
    question = flat.find("?")
    if question >= 0 and not 0 <= flat.find("#") < question:
        seen: dict[str, int] = {}
        start = question + 1
        for pair in flat[start : _first(flat, "#", start)].split("&"):
            name, equals, value = pair.partition("=")
            if equals and value and SENSITIVE_PARAM.search(unquote(name)):
                label = url[offsets[start] : offsets[start + len(name)]]
                seen[label] = seen.get(label, 0) + 1
                suffix = f".{seen[label]}" if seen[label] > 1 else ""
                value_start = start + len(name) + 1
                add(f"query.{label}{suffix}", value_start, value_start + len(value))
            start += len(pair) + 1
    return found


def mask_url(url: str, template: bool = True) -> str:
    """`url` with its credentials masked (see `url_credentials`)."""
    if "@" not in url and "?" not in url:
        return url  # no userinfo, no query: most URLs, and each attempt's is masked
    return _masked(url, template)


@functools.lru_cache(maxsize=4096)
def _masked(url: str, template: bool) -> str:
    # A webhook's deliveries mostly share one URL: it is read once, not on every attempt.
    for credential in reversed(url_credentials(url, template)):
        url = url[: credential.start] + credential.shown + url[credential.end :]
    return url


def unmask_url(url: str, stored: str) -> str:
    """`url` (a template) where each credential sent back as `mask_url` showed it takes the value
    `stored` has in the same place: "masked means unchanged"; anything else is kept as sent."""
    if MASK not in url:
        return url
    kept = {credential.slot: credential for credential in url_credentials(stored)}
    for credential in reversed(url_credentials(url)):
        old = kept.get(credential.slot)
        if old is not None and url[credential.start : credential.end] == old.shown:
            url = url[: credential.start] + stored[old.start : old.end] + url[credential.end :]
    return url


def _first(text: str, characters: str, start: int) -> int:
    """The position of the first of `characters` in `text` from `start`, or its length."""
    found = [p for p in (text.find(c, start) for c in characters) if p >= 0]
    return min(found, default=len(text))


def _runs(value: str) -> list[tuple[int, str]]:
    """`value` cut where holes start and end: (offset, run); each hole is a run of its own."""
    runs: list[tuple[int, str]] = []
    for match in re.finditer(f"{_HOLE}|[^{_HOLE}]+", value):
        runs.append((match.start(), match.group()))
    return runs
