"""Load the versioned operator catalog and answer questions about it."""

from __future__ import annotations

import json
from contextlib import suppress
from importlib import resources
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import select
from sqlalchemy.orm import Session

from simkeep.catalog.models import Offer, OfferTerms, Operator, OperatorRules
from simkeep.catalog.schemas import CatalogFile, Figure
from simkeep.core.errors import CatalogError, OfferNotFound, OperatorNotFound
from simkeep.core.money import Money
from simkeep.ledger import service as ledger

BUNDLED = "operators.json"


def read_catalog(path: Path | None = None) -> CatalogFile:
    """Parse and validate; a malformed catalog is refused with a message naming the field."""
    text = path.read_text("utf-8") if path else resources.files("simkeep.catalog.data").joinpath(BUNDLED).read_text("utf-8")
    try:
        return CatalogFile.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise CatalogError(f"catalog is not JSON: {exc}") from exc
    except ValidationError as exc:
        raise CatalogError("; ".join(_describe(err, json.loads(text)) for err in exc.errors())) from exc


def _describe(err: ErrorDetails, data: dict) -> str:
    loc = err["loc"]
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if len(loc) >= 2 and loc[0] == "operators" and isinstance(loc[1], int):
        with suppress(KeyError, IndexError, TypeError):
            path += f" (operator {data['operators'][loc[1]]['id']})"
    message = err["msg"].removeprefix("Value error, ")
    return f"{path}: {message}" if path else message


def load_catalog(session: Session, catalog: CatalogFile, *, now) -> tuple[int, int]:
    """Upsert operators and offers; offers missing from the file are kept (old top-ups refer to them)."""
    offers = 0
    for op in catalog.operators:
        session.merge(Operator(
            id=op.id, country=op.country, brand=op.brand, product=op.product, currency=op.currency,
            timezone=op.timezone, initial_validity_days=op.initial_validity_days.value,
            grace_days=op.grace_days.value, suspended_days=op.suspended_days.value,
            quarantine_days=op.quarantine_days.value, max_validity_days=op.max_validity_days.value,
            reminder_offsets=sorted(op.reminder_offsets_days.value, reverse=True),
            validity_stacking=op.validity_stacking.value, forfeit_balance_on=op.forfeit_balance_on.value,
            grace_network_access=op.grace_network_access.value, mcc_mnc=op.mcc_mnc.value,
            catalog_version=catalog.version, provenance=_provenance(op),
        ))
    session.flush()  # operators before the offers that refer to them
    for op in catalog.operators:
        for offer in op.offers:
            offers += 1
            session.merge(Offer(
                id=offer.id, operator_id=op.id,
                price_minor=Money.parse(offer.price.value, op.currency).minor,
                bonus_minor=Money.parse(offer.bonus.value, op.currency).minor,
                validity_days=offer.validity_days.value, periods=offer.periods.value if offer.periods else 1,
                provenance=_provenance(offer),
            ))
    session.flush()
    currencies = {op.currency for op in catalog.operators}
    ledger.ensure_system_accounts(session, currencies=currencies, now=now)
    return len(catalog.operators), offers


def _provenance(model) -> dict:
    """Keep each figure's sourced / derived / assumed status next to the loaded value."""
    out = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Figure):
            out[name] = {"status": value.status, **({"note": value.note} if value.note else {})}
    return out


def list_operators(session: Session) -> list[tuple[Operator, list[Offer]]]:
    operators = session.scalars(select(Operator).order_by(Operator.id)).all()
    offers = session.scalars(select(Offer).order_by(Offer.operator_id, Offer.price_minor, Offer.id)).all()
    by_operator: dict[str, list[Offer]] = {}
    for offer in offers:
        by_operator.setdefault(offer.operator_id, []).append(offer)
    return [(op, by_operator.get(op.id, [])) for op in operators]


def get_operator(session: Session, operator_id: str) -> Operator:
    operator = session.get(Operator, operator_id) if isinstance(operator_id, str) else None
    if operator is None:
        raise OperatorNotFound()
    return operator


def get_offer(session: Session, offer_id: str, operator: Operator) -> Offer:
    offer = session.get(Offer, offer_id) if isinstance(offer_id, str) else None
    if offer is None or offer.operator_id != operator.id:
        raise OfferNotFound()
    return offer


def operator_of_offer(session: Session, offer_id: str) -> str:
    return session.get_one(Offer, offer_id).operator_id


def operator_of_offer_or_none(session: Session, offer_id: str) -> str | None:
    offer = session.get(Offer, offer_id) if isinstance(offer_id, str) else None
    return offer.operator_id if offer else None


def price_of(offer: Offer | OfferTerms, operator: Operator | OperatorRules) -> tuple[Money, Money]:
    return Money(offer.price_minor, operator.currency), Money(offer.bonus_minor, operator.currency)


