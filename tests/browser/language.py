"""Is a page fully in the reader's language? "No English left on a Chinese page" (issue 3), and none on a French one.

Names stay as they are (simkeep, operators and their products, PayPal, IBAN/BIC, PDF, SMS), and so do numbers,
references and links; every other Latin word on a Chinese page is a string the catalog did not translate.
French is checked for English words that French never uses.
"""

from __future__ import annotations

import re
from functools import cache

from playwright.sync_api import Page

from simkeep.catalog import service as catalog

NAMES = {"simkeep", "english", "français", "paypal", "iban", "bic", "agrifrpp", "pdf", "sms", "qr", "secure", "eur"}
ENGLISH_ONLY = {"the", "your", "you", "and", "with", "this", "is", "are", "we", "my", "will", "has", "have", "been",
                "which", "how", "please", "payment", "number", "offers", "choose", "waiting", "done", "check",
                "amount", "receipt", "enter", "send", "back", "download", "valid", "until", "days", "day",
                "bank", "card", "find", "lines", "line", "transfer", "genuine"}
CJK = re.compile(r"[\u3400-\u9fff]")


@cache
def _catalog_names() -> frozenset[str]:
    words: set[str] = set()
    for op in catalog.read_catalog().operators:
        words.update(w.lower() for w in re.findall(r"[^\W\d_]+", f"{op.brand} {op.product}"))
    return frozenset(words)


def _words(text: str) -> list[str]:
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"\S*\d\S*", " ", text)  # numbers, amounts, references, receipt numbers, offer ids
    return re.findall(r"[A-Za-zÀ-ÿ]{2,}", text)


def leftovers(text: str, lang: str) -> list[str]:
    """Words of `text` that are not in `lang` (sorted, unique); empty when the text reads fully in `lang`."""
    if lang == "zh_CN":
        allowed = NAMES | _catalog_names()
        return sorted({w for w in _words(text) if w.lower() not in allowed})
    if lang == "fr":
        return sorted({w for w in _words(text) if w.lower() in ENGLISH_ONLY and w.lower() not in _catalog_names()})
    return []


def visible_text(page: Page) -> str:
    """What a reader sees, plus the page title and the accessible names that screen readers announce."""
    labels = page.eval_on_selector_all("[aria-label], [alt], [placeholder]",
                                       "els => els.map(e => e.getAttribute('aria-label') || e.getAttribute('alt') || '')")
    return "\n".join([page.title(), page.inner_text("body"), *labels])


def check_page(page: Page, name: str, lang: str, problems: dict) -> None:
    """Record (do not raise) what is not translated, so the journey goes on and every page gets checked."""
    found = leftovers(visible_text(page), lang)
    if lang == "zh_CN" and not CJK.search(page.inner_text("body")):
        found = ["(no Chinese text at all)", *found]
    if found:
        problems[name] = found
