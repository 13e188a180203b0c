"""The spacing rules of our texts, as one checker for the SMS/e-mail templates and the pages' catalogs.

Every language: no two spaces in a row, none at either end, none before "." "," or ")", no "()" left empty, no
placeholder left unrendered ({name}, %(name)s), a capital or small letter after . , ; : ! ? only after a space.
English: no space before ; : ! ?. French: a no-break space (U+00A0) before ":", a narrow no-break space (U+202F)
before ; ! ?, never a plain space or none (a clock time's colon, "09:00", is not punctuation). Chinese: no space
between two Chinese characters or next to full-width punctuation, and no half-width , ; : ! ? ( ) against a
Chinese character; in messages (plain text sent as UCS-2) no space next to a Chinese character at all. Links are taken out first: their ":" and "?" are not punctuation.
"""

from __future__ import annotations

import re

URL = re.compile(r"https?://[^\s\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")
HAN = "\u4e00-\u9fff"
FULL_WIDTH = "\u3000-\u303f\uff00-\uffef"  # 。，、：；！？（）「」 and full-width forms
CJK = HAN + FULL_WIDTH
SPACE = r"\s"  # ASCII and Unicode spaces: U+00A0 and U+202F count too
FRENCH_SPACE = {":": "\u00a0", ";": "\u202f", "!": "\u202f", "?": "\u202f"}


def problems(text: str, language: str, *, message: bool = False) -> list[str]:
    """What breaks the rules in `text`, each with a little of the text around it; [] when it is clean."""
    found: list[str] = []

    def check(pattern: str, what: str) -> None:
        for match in re.finditer(pattern, bare):
            found.append(f"{what}: {bare[max(match.start() - 12, 0):match.end() + 12]!r}")

    bare = URL.sub("LINK", text)
    if text != text.strip():
        found.append(f"space at an end: {text!r}")
    check(SPACE + r"{2,}", "two spaces")
    check(r"\{\w*\}|%\(\w+\)", "placeholder left")
    check(r"\(\s*\)|（\s*）", "empty brackets")
    check(SPACE + r"[.,)]", "space before . , )")
    if language in ("en", "fr"):
        check(r"[a-z][.,;:!?][A-Za-zÀ-ÿ]", "no space after punctuation")
    if language == "en":
        check(SPACE + r"[;:!?]", "space before ; : ! ?")
    if language == "fr":
        for match in re.finditer(r"(.?)([;:!?])", bare):
            if match.group(2) == ":" and re.match(r"\d:\d", bare[match.start(1):match.end() + 1]):
                continue  # 09:00: a time as it is typed in a form
            if match.group(1) != FRENCH_SPACE[match.group(2)]:
                found.append(f"French wants U+{ord(FRENCH_SPACE[match.group(2)]):04X} before {match.group(2)!r}: "
                             f"{bare[max(match.start() - 12, 0):match.end() + 12]!r}")
    if language == "zh_CN":
        check(f"[{HAN}]{SPACE}+[{HAN}]", "space between Chinese characters")
        check(f"{SPACE}[{FULL_WIDTH}]|[{FULL_WIDTH}]{SPACE}", "space next to full-width punctuation")
        check(f"[{CJK}][,;:!?()]|[,;:!?()][{CJK}]", "half-width punctuation in Chinese")
        if message:
            check(f"{SPACE}[{CJK}]|[{CJK}]{SPACE}", "space next to Chinese in a message")
    return found


def links(text: str) -> list[str]:
    """The links a phone or mail client finds: a run of non-space characters from http(s):// (as Android's
    linkifier reads them, Chinese characters included)."""
    return re.findall(r"https?://\S+", text)
