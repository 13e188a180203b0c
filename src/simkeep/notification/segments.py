"""How an SMS text travels: GSM-7 when every character is in the GSM 03.38 alphabet, UCS-2 otherwise, and in how
many segments (concatenated parts).

GSM-7 carries 160 septets in one SMS, 153 per part once a concatenation header (UDH) is needed; a character of
the extension table (€, [, ], {, }, ~, ^, |, \\, form feed) costs two septets (ESC + code) and is never split
across parts. UCS-2 carries 70 UTF-16 code units, 67 per part; a character outside the Basic Multilingual Plane
(an emoji) is a surrogate pair, two units, never split either.

Typography that Babel and translators put in texts (no-break spaces in "10,00 €", curly quotes, dashes) has a
plain GSM-7 equivalent: `analyse` folds it when that is all that stands between a text and GSM-7, so a French
reminder is not sent as UCS-2 (and twice the segments) because of one no-break space. The SMPP sender sends
`analyse(text).text` with the encoding it gives.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 default alphabet, in code order (0x00-0x7F); 0x1B is the escape to the extension table.
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
ESCAPE = 0x1B
# Extension table: character -> code sent after ESC.
EXTENSION = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40,
             "€": 0x65}
_BASIC_CODES = {char: code for code, char in enumerate(BASIC) if code != ESCAPE}

SINGLE = {GSM7: 160, UCS2: 70}
PART = {GSM7: 153, UCS2: 67}

# Characters with a GSM-7 equivalent that reads the same on a phone.
FOLD = str.maketrans({
    "\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " ", "\u200a": " ", "\u2002": " ", "\u2003": " ",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u200b": "", "\u2060": "", "\ufeff": "",
})


@dataclass(frozen=True, slots=True)
class SmsText:
    text: str  # what goes out: the input, or its GSM-7 folding
    encoding: str  # GSM-7 | UCS-2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int

    @property
    def parts(self) -> list[str]:
        return split(self.text, self.encoding)


def char_cost(char: str, encoding: str) -> int:
    if encoding == GSM7:
        return 2 if char in EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def is_gsm7(text: str) -> bool:
    return all(c in _BASIC_CODES or c in EXTENSION for c in text)


def encoding_of(text: str) -> str:
    return GSM7 if is_gsm7(text) else UCS2


def units(text: str, encoding: str | None = None) -> int:
    encoding = encoding or encoding_of(text)
    return sum(char_cost(c, encoding) for c in text)


def split(text: str, encoding: str | None = None) -> list[str]:
    """The parts a long SMS is cut into (one part if it fits a single SMS); escapes and surrogate pairs stay whole."""
    encoding = encoding or encoding_of(text)
    if units(text, encoding) <= SINGLE[encoding]:
        return [text]
    limit, used = PART[encoding], 0
    parts: list[str] = []
    current: list[str] = []
    for char in text:
        cost = char_cost(char, encoding)
        if used + cost > limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += cost
    parts.append("".join(current))
    return parts


def segment_count(text: str, encoding: str | None = None) -> int:
    return len(split(text, encoding))


def fold(text: str) -> str:
    """Typographic characters replaced by their plain GSM-7 look-alikes (the text may still need UCS-2)."""
    return text.translate(FOLD)


def analyse(text: str) -> SmsText:
    """Encoding and segment count of an SMS text, folded to GSM-7 when only typography stood in the way."""
    if not is_gsm7(text):
        folded = fold(text)
        if is_gsm7(folded):
            text = folded
    encoding = encoding_of(text)
    return SmsText(text=text, encoding=encoding, units=units(text, encoding), segments=segment_count(text, encoding))


def gsm7_codes(text: str) -> bytes:
    """GSM-7 text as unpacked septets, one per octet (SMPP data_coding 0): extension characters as ESC + code."""
    out = bytearray()
    for char in text:
        if char in EXTENSION:
            out += bytes((ESCAPE, EXTENSION[char]))
        elif char in _BASIC_CODES:
            out.append(_BASIC_CODES[char])
        else:
            raise ValueError(f"{char!r} is not in the GSM 03.38 alphabet")
    return bytes(out)
