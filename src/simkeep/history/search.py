"""Finding a line from what a customer quotes: the number in any format, an e-mail, a receipt number, a payment
reference, a recharge card's serial or a top-up id. The text is tried as every key it could be (digits may be a
number or a card serial), each lookup by its own index, and the lines found are merged with what matched them."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from simkeep.core.errors import InvalidMsisdn, NotFound
from simkeep.core.phone import lookup_msisdn
from simkeep.line import service as lines
from simkeep.line.models import Line
from simkeep.payment import service as payments
from simkeep.receipt import service as receipts
from simkeep.topup import service as topups
from simkeep.voucher import service as vouchers

NUMBER, EMAIL, RECEIPT, PAYMENT_REF, VOUCHER_SERIAL, ID = (
    "number", "email", "receipt", "payment_ref", "voucher_serial", "id")
MAX_QUERY = 254
_RECEIPT = re.compile(r"^[A-Za-z0-9-]+-\d{4}-\d{6,}$")  # receipt.service.issue: OPERATOR-YEAR-NNNNNN


@dataclass(frozen=True, slots=True)
class Found:
    """A line the text names, and by which keys (a number's former line is found by the number alone)."""

    line: Line
    matched: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Search:
    query: str
    tried: tuple[str, ...]  # the keys the text could be: what a "no line found" answer says was searched
    found: list[Found]

    @property
    def only(self) -> Line | None:
        return self.found[0].line if len(self.found) == 1 else None


def search(session: Session, query: str, *, region: str) -> Search:
    """Every line `query` names, newest first; `region` reads a national number (the operator's country)."""
    text = " ".join((query or "").split())[:MAX_QUERY]
    tried: list[str] = []
    hits: dict[uuid.UUID, list[str]] = {}
    found_lines: dict[uuid.UUID, Line] = {}

    def note(key: str, found: list[Line]) -> None:
        for line in found:
            found_lines.setdefault(line.id, line)
            hits.setdefault(line.id, []).append(key)

    if not text:
        return Search(text, (), [])
    for key, lookup in _LOOKUPS:
        result = lookup(session, text, region)
        if result is not None:
            tried.append(key)
            note(key, result)
    ordered = sorted(found_lines.values(), key=lambda line: (line.created_at, line.id), reverse=True)
    return Search(text, tuple(tried), [Found(line, tuple(dict.fromkeys(hits[line.id]))) for line in ordered])


# Each lookup: None when the text cannot be that key (not tried), else the lines it names (maybe none).

def _by_number(session: Session, text: str, region: str) -> list[Line] | None:
    if "@" in text or not any(c.isdigit() for c in text):
        return None
    try:
        number = lookup_msisdn(text, region)
    except InvalidMsisdn:
        return None
    return lines.lines_of_numbers(session, [number])


def _by_email(session: Session, text: str, region: str) -> list[Line] | None:
    if "@" not in text or " " in text:
        return None
    return lines.lines_of_email(session, text)


def _by_receipt(session: Session, text: str, region: str) -> list[Line] | None:
    if not _RECEIPT.match(text):
        return None
    receipt = receipts.by_number(session, text)
    return lines.lines_by_ids(session, [receipt.line_id]) if receipt is not None else []


def _by_payment_ref(session: Session, text: str, region: str) -> list[Line] | None:
    if "@" in text or len(text) > 80:
        return None
    return lines.lines_by_ids(session, [a.line_id for a in payments.by_reference(session, text)])


def _by_voucher_serial(session: Session, text: str, region: str) -> list[Line] | None:
    digits = "".join(text.split())
    if not digits.isdigit() or len(digits) > 18:
        return None
    topup_id = vouchers.redeemed_topup(session, digits)
    return _lines_of_topup(session, topup_id) if topup_id is not None else []


def _by_id(session: Session, text: str, region: str) -> list[Line] | None:
    """A top-up id (what the API and the webhooks quote), or a line's own id."""
    try:
        wanted = uuid.UUID(text)
    except ValueError:
        return None
    return _lines_of_topup(session, wanted) or lines.lines_by_ids(session, [wanted])


def _lines_of_topup(session: Session, topup_id: uuid.UUID) -> list[Line]:
    try:
        topup = topups.get_topup(session, topup_id)
    except NotFound:
        return []
    return lines.lines_by_ids(session, [topup.line_id])


_LOOKUPS = ((NUMBER, _by_number), (EMAIL, _by_email), (RECEIPT, _by_receipt), (PAYMENT_REF, _by_payment_ref),
            (VOUCHER_SERIAL, _by_voucher_serial), (ID, _by_id))
