"""What makes an ICCID and an IMSI well-formed, shared by every import of SIM cards and eSIM profiles.

ICCID (ITU-T E.118): "89" (telecom), the country and issuer digits, the card's serial, and a Luhn check digit — 19
or 20 digits in all (some vendors print 18 + check). IMSI (ITU-T E.212): MCC (3 digits) + MNC (2 or 3) + MSIN, at most
15 digits; networks issue 15, a few older ranges 14."""

from __future__ import annotations

ICCID_LENGTHS = range(19, 21)
IMSI_LENGTHS = range(14, 16)


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check over `digits`, its last digit being the check digit."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iccid_problem(iccid: str) -> str | None:
    """Why `iccid` cannot be a SIM's ICCID, or None."""
    if not (iccid.isascii() and iccid.isdigit()):
        return "the ICCID must be digits only"
    if len(iccid) not in ICCID_LENGTHS:
        return f"the ICCID has {len(iccid)} digits (19 or 20 expected)"
    if not iccid.startswith("89"):
        return "the ICCID must start with 89 (telecommunications)"
    if not luhn_valid(iccid):
        return "the ICCID's check digit is wrong (Luhn)"
    return None


def imsi_problem(imsi: str) -> str | None:
    """Why `imsi` cannot be a subscriber's IMSI, or None."""
    if not (imsi.isascii() and imsi.isdigit()):
        return "the IMSI must be digits only"
    if len(imsi) not in IMSI_LENGTHS:
        return f"the IMSI has {len(imsi)} digits (15 expected)"
    return None
