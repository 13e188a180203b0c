"""What `record` does to free text before it enters the chain: phone numbers and e-mail addresses are masked.

The audit log can never be erased (that is its point), so it must never hold what an erasure request would have
to remove. Call sites pass ids and masked values; a reason typed by staff ("customer +33 6 12 34 56 78 called")
or a detail built from a subscriber's row is caught here as the last line of defence. What counts as a number:
one written with its + and country code that could exist (any country), one in French national format that is
valid (libphonenumber's matcher), and a Chinese mobile number as customers type it (138 1234 5678). Serials,
amounts, dates and references (RCPT-2027-000123) are left alone."""

from __future__ import annotations

import re
from typing import Any

import phonenumbers

from simkeep.core.phone import masked

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
INTERNATIONAL = re.compile(r"(?<![\w+])\+\d(?:[\s.()-]{0,2}\d){6,16}(?!\w)")
CHINESE_MOBILE = re.compile(r"(?<![\w+-])1[3-9]\d(?:[\s-]?\d{4}){2}(?![\w-])")
HOME_REGION = "FR"


def redact(text: str) -> str:
    text = EMAIL.sub(lambda m: _masked_email(m.group(0)), text)
    text = INTERNATIONAL.sub(lambda m: _masked_number(m.group(0), None), text)
    text = CHINESE_MOBILE.sub(lambda m: _masked_number(m.group(0), "CN"), text)
    found = phonenumbers.PhoneNumberMatcher(text, HOME_REGION, leniency=phonenumbers.Leniency.VALID)
    for match in reversed(list(found)):  # from the end, so earlier offsets stay right
        text = text[:match.start] + masked(_e164(match.number)) + text[match.end:]
    return text


def redact_details(value: Any) -> Any:
    """Every string in the details, however deep; other values as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_details(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_details(item) for item in value]
    return value


def _masked_number(written: str, region: str | None) -> str:
    try:
        number = phonenumbers.parse(written, region)
    except phonenumbers.NumberParseException:
        return written
    return masked(_e164(number)) if phonenumbers.is_possible_number(number) else written


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _masked_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"
