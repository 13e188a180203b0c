"""MSISDN parsing: national or international input -> E.164, mobile numbers of the operator's country only."""

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from simkeep.core.errors import InvalidMsisdn

_MOBILE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalize_msisdn(raw: str, country: str) -> str:
    if not isinstance(raw, str) or len(raw) > 32:
        raise InvalidMsisdn()
    try:
        number = phonenumbers.parse(raw, country)
    except NumberParseException as exc:
        raise InvalidMsisdn() from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidMsisdn()
    if phonenumbers.region_code_for_number(number) != country:
        raise InvalidMsisdn(f"This number does not belong to {country}.")
    if phonenumbers.number_type(number) not in _MOBILE:
        raise InvalidMsisdn("This is not a mobile number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def lookup_msisdn(raw: str, region: str = "FR") -> str:
    """E.164 for looking a line up: international input, or national input of the default region."""
    if not isinstance(raw, str) or len(raw) > 32:
        raise InvalidMsisdn()
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException as exc:
        raise InvalidMsisdn() from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidMsisdn()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(msisdn: str) -> str:
    """Enough to recognise one's own number, not enough to learn someone else's (receipts, resellers, support)."""
    return msisdn[:4] + "*" * (len(msisdn) - 6) + msisdn[-2:]


def written_forms(msisdn: str) -> tuple[str, ...]:
    """The ways an E.164 number is written in stored text: as is, its digits alone, and the national form without
    spaces ("+33612345678", "33612345678", "0612345678"). What erasure searches for and replaces."""
    number = phonenumbers.parse(msisdn)
    national = "".join(ch for ch in phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
                       if ch.isdigit())
    return tuple(dict.fromkeys((msisdn, msisdn.lstrip("+"), national)))
