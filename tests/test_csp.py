"""The Content-Security-Policy: on every answer, strict (this site only, nothing inline, no eval),
and every template keeps to it — so a new onclick, style attribute or inline script fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"
INLINE = {
    "inline event handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE),
    "style element": re.compile(r"<style[\s>]", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    # A script element without src, other than JSON data (json_script writes those).
    "inline script": re.compile(r"<script(?![^>]*\ssrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE),
}


def test_templates_have_nothing_inline_that_the_policy_refuses():
    found = [f"{path.relative_to(TEMPLATES)}: {kind}" for path in TEMPLATES.rglob("*.html")
             for kind, pattern in INLINE.items() if pattern.search(path.read_text())]
    assert found == []


def test_the_scan_finds_what_it_looks_for():
    samples = {"inline event handler": '<button onclick="x()">', "style attribute": '<div class="a" style="width:1%">',
               "style element": "<style>p{}</style>", "javascript: URL": '<a href="javascript:go()">',
               "inline script": "<script>alert(1)</script>"}
    for kind, sample in samples.items():
        assert INLINE[kind].search(sample), kind
    assert not INLINE["inline script"].search('<script src="/static/x.js"></script>')
    assert not INLINE["inline script"].search('<script id="d" type="application/json">{}</script>')


def test_every_page_carries_a_strict_policy(client, rm_a, customer_a):
    client.force_login(rm_a)
    for url in (reverse("customers:customer-detail", args=[customer_a.pk]), reverse("login"), reverse("admin:index")):
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
        assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'", url
        assert directives["style-src"] == "'self'" and directives["frame-ancestors"] == "'none'", url
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, url
