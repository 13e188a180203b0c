"""Receipts: sequential numbers per operator and year, signed verification links, PDF rendering."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from itsdangerous import BadSignature, Signer
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session

from simkeep.core.errors import InvalidInput, NotFound
from simkeep.db import insert_or_ignore
from simkeep.receipt.models import Receipt, ReceiptCounter, ReceiptPdf


class ReceiptNotFound(NotFound):
    code, message = "receipt_not_found", "This receipt does not exist or the link is not genuine."


# The two layouts of every receipt: "a4" (the one the portal offers; an A5 sheet) and "thermal", an 80 mm roll as
# counter printers take it.
A4, THERMAL = "a4", "thermal"
LAYOUTS = (A4, THERMAL)


class LayoutUnknown(InvalidInput):
    code, message = "receipt_layout_unknown", "A receipt is printed as a4 or thermal."


class Issuer(TypedDict):
    """Who issued a receipt at a counter, as printed on it: the store's name and address and the agent's username.
    The store domain passes it (store.service.sell); receipts issued online have none."""

    store: str
    address: str
    agent: str


def issue(session: Session, *, receipt_id: uuid.UUID, topup, operator_id: str, line_id, payment_method: str,
          language: str, now: datetime, issuer: Issuer | None = None) -> Receipt:
    year = now.year
    row = dict(id=receipt_id, number=f"{operator_id.upper()}-{year}-{_next_number(session, operator_id, year):06d}",
               topup_id=topup.id, operator_id=operator_id, line_id=line_id, msisdn=topup.msisdn,
               offer_id=topup.offer_id, amount_minor=topup.price_minor, currency=topup.currency,
               payment_method=payment_method, validity_ends_at=topup.validity_ends_at, language=language,
               issued_at=now, voided_at=None, issuer=dict(issuer) if issuer is not None else None)
    session.execute(insert(Receipt.__table__), [row])
    return Receipt(**row)


def mark_voided(session: Session, receipt_id: uuid.UUID, *, now: datetime) -> None:
    """The sale behind the receipt was voided: the receipt stays (numbers have no gaps) and says so."""
    session.execute(update(Receipt.__table__).where(Receipt.id == receipt_id, Receipt.voided_at.is_(None))
                    .values(voided_at=now))


def _next_number(session: Session, operator_id: str, year: int) -> int:
    table = ReceiptCounter.__table__
    session.execute(insert_or_ignore(session, table), [{"operator_id": operator_id, "year": year, "last_number": 0}])
    return session.execute(
        update(table).where(table.c.operator_id == operator_id, table.c.year == year)
        .values(last_number=table.c.last_number + 1).returning(table.c.last_number)
    ).scalar_one()


def token_for(secret: str, receipt_id: uuid.UUID) -> str:
    """A signed, unguessable link: whoever holds it may see the receipt, nobody can forge one."""
    return Signer(secret, salt="receipt").sign(receipt_id.hex).decode()


def reprint_url(secret: str, receipt_id: uuid.UUID, *, layout: str = THERMAL, base_url: str = "") -> str:
    """The link that prints a receipt again, for the console's "reprint" button: its thermal PDF by default (the
    stored copy, so a reprint costs no render). `base_url` empty gives a path on this site."""
    if layout not in LAYOUTS:
        raise LayoutUnknown()
    suffix = "" if layout == A4 else f"?format={layout}"
    return f"{base_url}/receipts/{token_for(secret, receipt_id)}.pdf{suffix}"


def from_token(session: Session, secret: str | Sequence[str], token: str) -> Receipt:
    """`secret` may list the keys that still verify, current first (Settings.verifying_keys): links signed before a
    rotation keep working while their key is listed."""
    keys = [secret] if isinstance(secret, str) else list(secret)
    try:
        # itsdangerous signs with the last key of a list and verifies with any of them.
        receipt_id = uuid.UUID(Signer(keys[::-1], salt="receipt").unsign(token).decode())
    except (BadSignature, ValueError) as exc:
        raise ReceiptNotFound() from exc
    receipt = session.get(Receipt, receipt_id)
    if receipt is None:
        raise ReceiptNotFound()
    return receipt


def for_line(session: Session, line_id, limit: int = 20) -> list[Receipt]:
    return list(session.scalars(select(Receipt).where(Receipt.line_id == line_id)
                                .order_by(Receipt.issued_at.desc()).limit(limit)))


def by_topup(session: Session, topup_ids: list) -> dict:
    if not topup_ids:
        return {}
    return {r.topup_id: r for r in session.scalars(select(Receipt).where(Receipt.topup_id.in_(topup_ids)))}


def stored_pdf(session: Session, receipt_id: uuid.UUID, layout: str = A4) -> ReceiptPdf | None:
    return session.get(ReceiptPdf, (receipt_id, layout))


def store_pdf(session: Session, *, receipt_id: uuid.UUID, verify_url: str, content: bytes, now: datetime,
              layout: str = A4, voided: bool = False) -> None:
    """Keep a rendered PDF; a copy printed with another link (a rotated key, a new public URL), or one that does not
    say VOID yet when this one does, is replaced. A copy without VOID never replaces one with it (a render that
    started before the void and finished after it)."""
    if layout not in LAYOUTS:
        raise LayoutUnknown()
    row = dict(receipt_id=receipt_id, layout=layout, verify_url=verify_url, voided=voided,
               sha256=hashlib.sha256(content).hexdigest(), content=content, rendered_at=now)
    table = ReceiptPdf.__table__
    session.execute(insert_or_ignore(session, table), [row])
    other_link, without_void = table.c.verify_url != verify_url, table.c.voided.is_(False)
    stale = or_(other_link, without_void) if voided else and_(other_link, without_void)
    session.execute(update(table).where(table.c.receipt_id == receipt_id, table.c.layout == layout, stale)
                    .values(**row))


def by_number(session: Session, number: str) -> Receipt | None:
    """The receipt with this number, as printed (any case, surrounding spaces ignored)."""
    quoted = number.strip()
    return session.scalars(select(Receipt).where(Receipt.number.in_({quoted, quoted.upper()}))).first()
