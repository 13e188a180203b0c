"""What a payer needs to pay by SEPA credit transfer: the operator's account (validated IBAN and BIC), an ISO 11649
creditor reference per order, and the EPC069-12 QR code ("GiroCode") that banking apps scan to fill the transfer in.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import segno
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum import iso11649
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_97_10

from simkeep.core.errors import InvalidInput

# EPC069-12 v3.1, "Quick Response Code: guidelines to enable data capture for the initiation of a SCT".
SERVICE_TAG, VERSION, CHARSET_UTF8, IDENTIFICATION = "BCD", "002", "1", "SCT"
MAX_PAYLOAD_BYTES = 331
MAX_QR_VERSION = 13
MAX_NAME = 70
MAX_AMOUNT_MINOR = 99_999_999_999  # EUR 999,999,999.99
BODY_LENGTH = 16  # base36 characters: 80 bits of the attempt id
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class InvalidAccount(InvalidInput):
    code, message = "invalid_sepa_account", "The operator's IBAN or BIC is not valid."


def check_account(iban: str, bic: str) -> tuple[str, str]:
    """The operator's account as it is printed and encoded (compact, upper case), or a clear error."""
    try:
        iban_ok = stdnum_iban.validate(iban or "")
    except ValidationError as exc:
        raise InvalidAccount(f"SIMKEEP_SEPA_IBAN {iban!r} is not a valid IBAN: {exc}") from exc
    try:
        bic_ok = stdnum_bic.validate(bic or "")
    except ValidationError as exc:
        raise InvalidAccount(f"SIMKEEP_SEPA_BIC {bic!r} is not a valid BIC: {exc}") from exc
    return iban_ok, bic_ok


def creditor_reference(attempt_id: str | uuid.UUID) -> str:
    """RF + two check digits + 16 base36 characters taken from the attempt id (its low 80 bits, which hold the
    random part of a UUIDv7), e.g. RF47 0A1B 2C3D 4E5F 6G7H. Compact form; `iso11649.format` groups it."""
    value = uuid.UUID(str(attempt_id)).int & ((1 << 80) - 1)
    body = ""
    for _ in range(BODY_LENGTH):
        value, digit = divmod(value, 36)
        body = _BASE36[digit] + body
    return iso11649.validate("RF" + mod_97_10.calc_check_digits(body + "RF") + body)


def payload(*, bic: str, name: str, iban: str, amount_minor: int, currency: str, reference: str) -> str:
    """The text inside the QR code, one element per line (LF), the last populated element unterminated:
    service tag, version 002, character set 1 (UTF-8), SCT, BIC, beneficiary, IBAN, amount, purpose (empty),
    structured creditor reference; the unstructured remittance stays empty because a structured one is given."""
    if currency != "EUR":
        raise InvalidInput(f"SEPA credit transfers are in euro; this order is in {currency}.")
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or not 1 <= amount_minor <= MAX_AMOUNT_MINOR:
        raise InvalidInput("An EPC QR code carries an amount from EUR 0.01 to EUR 999999999.99.")
    beneficiary = " ".join((name or "").split())[:MAX_NAME]
    if not beneficiary:
        raise InvalidInput("The beneficiary name (SIMKEEP_SEPA_CREDITOR_NAME) is empty.")
    try:
        reference = iso11649.validate(reference)
    except ValidationError as exc:
        raise InvalidInput(f"{reference!r} is not a valid ISO 11649 creditor reference.") from exc
    amount = f"EUR{Decimal(amount_minor).scaleb(-2):.2f}"
    text = "\n".join([SERVICE_TAG, VERSION, CHARSET_UTF8, IDENTIFICATION, bic, beneficiary, iban, amount, "",
                      reference])
    if len(text.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise InvalidInput("The EPC QR payload would exceed 331 bytes; shorten the beneficiary name.")
    return text


def qr_inline(text: str) -> str:
    """The code as an <svg> element to put in a page (a path, no script, no style): error correction level M as
    EPC069-12 requires, UTF-8 bytes without ECI, the standard four-module quiet zone."""
    code = segno.make_qr(text, error="m", boost_error=False, encoding="utf-8")
    if int(code.version) > MAX_QR_VERSION:  # a QR code's version is a number (a Micro QR's is text)
        raise InvalidInput("The EPC QR code would exceed version 13.")
    return code.svg_inline(scale=4, border=4, svgclass="epc-qr", lineclass=None, omitsize=False)
