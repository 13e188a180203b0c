"""Helpers shared by the portal's page tests: a browser-like client and a page's visible text."""

from __future__ import annotations

import html as html_lib
import re

from fastapi.testclient import TestClient


def browser(app, lang: str = "en") -> TestClient:
    return TestClient(app, follow_redirects=False, headers={"Accept-Language": lang})


def page_text(html: str) -> str:
    """The words of the page's <main>, tags removed and whitespace collapsed: what a reader sees."""
    main = re.search(r"<main[^>]*>(.*)</main>", html, re.S).group(1)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", main)))
