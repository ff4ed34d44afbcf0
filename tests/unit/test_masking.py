"""Credentials in URLs: found in literal text only, masked, and restored when sent back masked."""

from __future__ import annotations

import pytest

from hookhub.core.masking import MASK, mask_url, unmask_url, url_credentials
from hookhub.db.records import DisabledWebhook
from hookhub.outbound.dispatcher import disabled_event

CASES = [
    (
        "https://ops:p4ss@crm.example:8443/hook?token=t-1&page=2&api_key=k-2#top",
        "https://ops:********@crm.example:8443/hook?token=********&page=2&api_key=********#top",
    ),
    # No password: the user name is the credential (`https://<token>@host`, `sk_live:@`).
    ("https://ghp_abc@api.example/x", "https://********@api.example/x"),
    ("https://sk_live_1:@api.example/", "https://********:@api.example/"),
    # Jinja parts stay as written; literal text around them is masked.
    (
        "https://u:{{ data.pw }}@h/{{ event }}?token={{ data.token }}&sig=a{{ x }}b",
        "https://u:{{ data.pw }}@h/{{ event }}?token={{ data.token }}&sig=********{{ x }}********",
    ),
    # Delimiters inside a Jinja expression are not the URL's.
    ('https://h/{{ "a?token=x@y" }}', 'https://h/{{ "a?token=x@y" }}'),
    ("{{ base }}/hook?key=k-3", "{{ base }}/hook?key=********"),
    # Nothing to mask: an `@` in the path, a query in the fragment, an empty value.
    ("http://h/p@q?x=1", "http://h/p@q?x=1"),
    ("http://h/a?b#?token=1", "http://h/a?b#?token=1"),
    ("http://h/?token=&token", "http://h/?token=&token"),
    ("https://u:p@ss@h/", "https://u:********@h/"),
    ("https://h/?X-Amz-Credential=c&X-Amz-Signature=s", "https://h/?X-Amz-Credential=********&X-Amz-Signature=********"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "shown"), CASES)
def test_mask_url_hides_literal_credentials_and_unmask_restores_them(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert unmask_url(shown, url) == url


def test_a_rendered_url_has_no_template_parts() -> None:
    assert mask_url("https://u:{{x}}@h/", template=False) == f"https://u:{MASK}@h/"
    assert mask_url("https://u:{{x}}@h/") == "https://u:{{x}}@h/"


def test_places_name_each_credential() -> None:
    url = "https://u:pw@h/?token=a&token=b&Api-Key=c"
    assert [(c.slot, url[c.start : c.end]) for c in url_credentials(url)] == [
        ("password", "pw"),
        ("query.token", "a"),
        ("query.token.2", "b"),
        ("query.Api-Key", "c"),
    ]


def test_unmask_keeps_what_was_changed() -> None:
    stored = "https://ops:p4ss@old.example/?token=t-1"
    # Another host and user, the password still masked: the stored password is kept.
    assert unmask_url("https://admin:********@new.example/?token=********", stored) == (
        "https://admin:p4ss@new.example/?token=t-1"
    )
    # A new value is taken as sent; a mask where nothing was stored stays as sent.
    assert unmask_url("https://ops:new@old.example/?token=t-2", stored) == (
        "https://ops:new@old.example/?token=t-2"
    )
    assert unmask_url("https://ops:********@h/?key=********", "https://h/") == (
        "https://ops:********@h/?key=********"
    )


def test_the_webhook_disabled_event_shows_the_url_masked() -> None:
    url = "https://u:pw@h/?token=t&n={{ data.id }}"
    event = disabled_event(DisabledWebhook("wh_1", "crm", url, 0.0, "410"))
    assert event["data"]["url"] == f"https://u:{MASK}@h/?token={MASK}&n={{{{ data.id }}}}"
