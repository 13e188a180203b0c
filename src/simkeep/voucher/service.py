"""Recharge vouchers: batches made once, sold by serial range or as e-PINs, redeemed exactly once on any channel.

Money (ledger): selling moves a reseller's float to the voucher liability (face value) and its discount to
commission expense; redeeming moves the liability to the subscriber's credit (through the top-up service, the only
way credit is added); expiry moves what is left to breakage. `reconcile` proves the liability account equals the
face value of the cards sold and not yet redeemed or expired."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    LargeBinary,
    Row,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from simkeep.audit import service as audit
from simkeep.catalog import service as catalog
from simkeep.catalog.models import Offer, OfferTerms
from simkeep.core import clock, idempotency, sealed
from simkeep.core.errors import (
    ActionNotFound,
    BatchAlreadyExported,
    BatchNotFound,
    Conflict,
    InsufficientBalance,
    InsufficientFloat,
    InvalidInput,
    SecondApproverRequired,
    VoucherInvalid,
    VoucherLocked,
    VoucherNotFound,
)
from simkeep.core.ids import new_id
from simkeep.core.money import Money
from simkeep.core.phone import lookup_msisdn
from simkeep.db import insert_or_ignore, rowcount, sqlite_cache
from simkeep.ledger import service as ledger
from simkeep.ledger.service import Leg
from simkeep.line import service as lines
from simkeep.promotion.models import Quote
from simkeep.reseller import service as resellers
from simkeep.reseller.models import Reseller
from simkeep.topup import service as topups
from simkeep.topup.models import TopUp
from simkeep.topup.service import TopUpResult
from simkeep.voucher import pins
from simkeep.voucher.models import (
    ACTIVE,
    BLOCKED,
    EPIN,
    EXPIRED,
    GENERATED,
    PHYSICAL,
    REDEEMED,
    BulkAction,
    SerialCounter,
    Voucher,
    VoucherBatch,
    VoucherFailure,
    VoucherPurchase,
)

BULK_LIMIT = 1_000  # more vouchers than this in one action: a second staff member approves it (maker-checker)
MAX_BATCH = 10_000_000
MAX_EPINS = 1_000  # e-PINs in one purchase
SEALED_EXPORT_LIMIT = 100_000  # a batch made from the back office keeps its PINs sealed until the one export
CHUNK = 5_000
FIRST_SERIAL = 100_000_000_001  # 12-digit serials

_VOUCHERS = Voucher.__table__
Card = tuple[int, str]  # (serial, PIN): exists only while a batch is made, or opened for its one export


# -- batches -------------------------------------------------------------------------------------------------------

def create_batch(session: Session, *, offer_id: str, quantity: int, expires_at: datetime, actor: str, reason: str,
                 keys: pins.Keys, now: datetime, sink: Callable[[list[Card]], None] | None = None,
                 progress: Callable[[int], None] | None = None) -> VoucherBatch:
    """Make `quantity` cards for one offer. With `sink` the PINs are handed out now, chunk by chunk (the CLI writes
    the printer's files) and the batch counts as exported; without, they are kept sealed for one export later."""
    if not 1 <= quantity <= MAX_BATCH:
        raise InvalidInput(f"quantity must be between 1 and {MAX_BATCH:,}")
    if sink is None and quantity > SEALED_EXPORT_LIMIT:
        raise InvalidInput(f"more than {SEALED_EXPORT_LIMIT:,} cards: make them with `simkeep voucher batch create`")
    if expires_at <= now:
        raise InvalidInput("the batch's expiry date must be in the future")
    batch = _new_batch(session, kind=PHYSICAL, offer_id=offer_id, quantity=quantity, expires_at=expires_at,
                       actor=actor, reason=reason, now=now)
    kept: list[Card] = []
    # The hash index has random keys: a million of them thrash SQLite's default 2 MB page cache.
    with sqlite_cache(session.connection(), mib=64):
        for cards in _make_cards(session, batch, keys, state=GENERATED, now=now, progress=progress):
            if sink is not None:
                sink(cards)
            else:
                kept += cards
    values: dict = {"exported_at": now, "exported_by": actor} if sink is not None else {
        "export_sealed": sealed.seal(json.dumps(kept), key=keys.seal, context=f"batch:{batch.id}")}
    session.execute(update(VoucherBatch).where(VoucherBatch.id == batch.id).values(**values))
    audit.record(session, actor=actor, action="voucher.batch.create", subject_type="voucher_batch",
                 subject_id=str(batch.id), reason=reason, now=now, details={
                     "offer_id": offer_id, "quantity": quantity, "serial_from": batch.serial_from,
                     "serial_to": batch.serial_to, "expires_at": expires_at.isoformat()})
    return session.get_one(VoucherBatch, batch.id)


def expiry_after(session: Session, *, offer_id: str, last_day: date) -> datetime:
    """When cards of this offer valid through `last_day` (the date printed on them) expire: the midnight that ends
    that day in the operator's time zone."""
    offer = session.get(Offer, offer_id) if isinstance(offer_id, str) else None
    if offer is None:
        raise InvalidInput(f"unknown offer {offer_id!r}")
    tz = catalog.get_operator(session, offer.operator_id).timezone
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=clock.zone(tz)).astimezone(UTC)


def export_batch(session: Session, batch_id, *, actor: str, keys: pins.Keys, now: datetime) -> tuple[VoucherBatch, list[Card]]:
    """The one export of a batch made in the back office: its PINs, then the sealed copy is erased for good."""
    batch = get_batch(session, batch_id)
    blob = batch.export_sealed  # read before the update: the ORM update sets the loaded object's copy to None too
    done = session.execute(update(VoucherBatch).where(
        VoucherBatch.id == batch.id, VoucherBatch.exported_at.is_(None), VoucherBatch.export_sealed.is_not(None))
        .values(exported_at=now, exported_by=actor, export_sealed=None))
    if rowcount(done) != 1 or blob is None:
        raise BatchAlreadyExported()
    opened = sealed.open_sealed(blob, keys=[keys.seal], context=f"batch:{batch.id}")
    if opened is None:
        raise InvalidInput("the batch's sealed PINs cannot be opened with SIMKEEP_VOUCHER_SEAL_KEY")
    audit.record(session, actor=actor, action="voucher.batch.export", subject_type="voucher_batch",
                 subject_id=str(batch.id), reason="PINs handed out for printing", now=now,
                 details={"quantity": batch.quantity})
    return session.get_one(VoucherBatch, batch.id), [(serial, pin) for serial, pin in json.loads(opened)]


def sealed_cards(session: Session, batch_id, *, keys: pins.Keys) -> tuple[VoucherBatch, list[Card]]:
    """A batch's PINs while still sealed for their one export, read without handing them out: the back office lays
    out the export's files from them first, outside any write transaction, then `export_batch` erases the seal
    (of two concurrent exports only one gets past its guarded update; the other's files are never sent)."""
    batch = get_batch(session, batch_id)
    if batch.exported_at is not None or batch.export_sealed is None:
        raise BatchAlreadyExported()
    opened = sealed.open_sealed(batch.export_sealed, keys=[keys.seal], context=f"batch:{batch.id}")
    if opened is None:
        raise InvalidInput("the batch's sealed PINs cannot be opened with SIMKEEP_VOUCHER_SEAL_KEY")
    return batch, [(serial, pin) for serial, pin in json.loads(opened)]


def batch_counts(session: Session, batches: list[VoucherBatch]) -> dict[uuid.UUID, dict[str, int]]:
    """Cards per state for each of `batches` (the back office's list), in one query."""
    counts: dict[uuid.UUID, dict[str, int]] = {batch.id: {} for batch in batches}
    if batches:
        for batch_id, state, n in session.execute(
                select(VoucherBatch.id, Voucher.state, func.count())
                .join(Voucher, Voucher.serial.between(VoucherBatch.serial_from, VoucherBatch.serial_to))
                .where(VoucherBatch.id.in_(list(counts))).group_by(VoucherBatch.id, Voucher.state)):
            counts[batch_id][state] = n
    return counts


def get_batch(session: Session, batch_id) -> VoucherBatch:
    try:
        batch = session.get(VoucherBatch, batch_id if not isinstance(batch_id, str) else _uuid(batch_id))
    except ValueError:
        batch = None
    if batch is None:
        raise BatchNotFound()
    return batch


def list_batches(session: Session, *, limit: int = 100, created_by: str | None = None) -> list[VoucherBatch]:
    query = select(VoucherBatch).order_by(VoucherBatch.created_at.desc(), VoucherBatch.serial_from.desc())
    if created_by is not None:
        query = query.where(VoucherBatch.created_by == created_by)
    return list(session.scalars(query.limit(limit)))


def _new_batch(session: Session, *, kind: str, offer_id: str, quantity: int, expires_at: datetime, actor: str,
               reason: str, now: datetime) -> VoucherBatch:
    if not reason or not reason.strip():
        raise InvalidInput("A reason is required for the audit log.")
    offer = session.get(Offer, offer_id) if isinstance(offer_id, str) else None
    if offer is None:
        raise InvalidInput(f"unknown offer {offer_id!r}")
    operator = catalog.get_operator(session, offer.operator_id)
    face, _bonus = catalog.price_of(offer, operator)
    ledger.ensure_system_accounts(session, currencies={face.currency}, now=now)
    first = _allocate_serials(session, quantity)
    row = dict(id=new_id(), kind=kind, operator_id=operator.id, offer_id=offer.id, face_value_minor=face.minor,
               currency=face.currency, validity_days=offer.validity_days, serial_from=first,
               serial_to=first + quantity - 1, quantity=quantity, expires_at=expires_at, created_by=actor,
               reason=reason.strip()[:500], created_at=now, exported_at=None, exported_by=None, export_sealed=None,
               expired_at=None)
    session.execute(insert(VoucherBatch.__table__), [row])
    return VoucherBatch(**row)


def _allocate_serials(session: Session, quantity: int) -> int:
    """Take `quantity` serials by one guarded update of the counter: concurrent batches get disjoint ranges."""
    counter = SerialCounter.__table__
    session.execute(insert_or_ignore(session, counter), [{"name": "voucher", "next_serial": FIRST_SERIAL}])
    taken = session.execute(update(counter).where(counter.c.name == "voucher")
                            .values(next_serial=counter.c.next_serial + quantity)
                            .returning(counter.c.next_serial)).scalar_one()
    return taken - quantity


def _make_cards(session: Session, batch: VoucherBatch, keys: pins.Keys, *, state: str, now: datetime,
                extra: dict | None = None, progress: Callable[[int], None] | None = None) -> Iterable[list[Card]]:
    """Insert the batch's vouchers chunk by chunk, yielding each chunk's (serial, PIN). The PIN hash is UNIQUE: a
    chunk's insert skips a hash that a card has already (1 in 10^8 per card in a million, or twice in one chunk),
    and the serials it skipped get new PINs, so no two cards ever share one and a batch never fails on it. No
    per-card SQL parameter processing: a million cards take seconds, not minutes."""
    conn = session.connection()
    insert_chunk = _chunk_inserter(conn, {"batch_id": batch.id, "state": state, "expires_at": batch.expires_at,
                                          **(extra or {})})
    serial = batch.serial_from
    while serial <= batch.serial_to:
        count = min(CHUNK, batch.serial_to - serial + 1)
        cards = dict(zip(range(serial, serial + count), pins.new_pins(count), strict=True))
        todo = cards
        while todo and insert_chunk(list(todo), keys.hashes(list(todo.values()))) != len(todo):
            present = set(conn.execute(select(_VOUCHERS.c.serial).where(
                _VOUCHERS.c.serial.between(min(todo), max(todo)))).scalars())
            todo = {number: pins.new_pin() for number in todo if number not in present}
            cards.update(todo)
        yield list(cards.items())
        if progress is not None:
            progress(count)
        serial += count


def _chunk_inserter(conn: Connection, constants: dict) -> Callable[[list[int], list[bytes]], int]:
    """A function that inserts cards (serials and PIN hashes; `constants` for the other columns) in one round trip
    and returns how many it inserted. PostgreSQL: one INSERT ... SELECT from unnest() of the serials. SQLite: one
    executemany of plain tuples, the constant values converted by their column types once."""
    names = ["serial", "pin_hash", *constants]
    if conn.dialect.name == "postgresql":
        # The hashes travel as one bytea (32 bytes each) rather than an array, which psycopg would escape item by item.
        cards = func.unnest(bindparam("serials", type_=ARRAY(BigInteger))).table_valued(
            "serial", with_ordinality="n").render_derived()
        digest = func.substring(bindparam("hashes", type_=LargeBinary), cast(cards.c.n * 32 - 31, Integer), 32)
        plain = pg_insert(_VOUCHERS).from_select(names, select(
            cards.c.serial, digest,
            *(bindparam(name, value, type_=_VOUCHERS.c[name].type) for name, value in constants.items())))
        plain = plain.execution_options(preserve_rowcount=True)
        # ON CONFLICT costs PostgreSQL a speculative insertion per row (a third more time for a million cards): the
        # chunk goes in plainly under a savepoint, and only if a hash is taken (about 1 chunk in 20,000 at a
        # million cards) again with the conflicting rows skipped.
        skipping = plain.on_conflict_do_nothing(index_elements=["pin_hash"])

        def insert_pg(serials: list[int], hashes: list[bytes]) -> int:
            params = {"serials": serials, "hashes": b"".join(hashes)}
            try:
                with conn.begin_nested():
                    return rowcount(conn.execute(plain, params))
            except IntegrityError:
                return rowcount(conn.execute(skipping, params))

        return insert_pg
    tail = tuple(_bound(conn, name, value) for name, value in constants.items())
    sql = (f"INSERT INTO {_VOUCHERS.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
           "ON CONFLICT (pin_hash) DO NOTHING")
    return lambda serials, hashes: conn.exec_driver_sql(
        sql, [(number, digest, *tail) for number, digest in zip(serials, hashes, strict=True)]).rowcount


def _bound(conn: Connection, name: str, value):
    process = _VOUCHERS.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process is not None and value is not None else value


# -- selling, blocking: actions on serial ranges ------------------------------------------------------------------

SELL, BLOCK, UNBLOCK = "sell", "block", "unblock"
PENDING, DONE, REJECTED = "pending", "done", "rejected"


def request_action(session: Session, *, action: str, serial_from: int, serial_to: int, actor: str, reason: str,
                   now: datetime, reseller_code: str | None = None) -> BulkAction:
    """Run an action on a serial range now, or, past BULK_LIMIT vouchers, record it for a second staff member."""
    if action not in (SELL, BLOCK, UNBLOCK):
        raise InvalidInput("action must be sell, block or unblock")
    if not 0 < serial_from <= serial_to or serial_to - serial_from >= MAX_BATCH:
        raise InvalidInput("a serial range is FROM-TO with FROM <= TO")
    if not reason or not reason.strip():
        raise InvalidInput("A reason is required for the audit log.")
    if action == SELL:
        if not reseller_code:
            raise InvalidInput("selling needs the reseller who buys")
        reseller_code = resellers.by_code(session, reseller_code).code  # fails now rather than at approval
    params: dict[str, str] = {"reseller": reseller_code} if reseller_code else {}
    row = dict(id=new_id(), action=action, serial_from=serial_from, serial_to=serial_to,
               params=params, state=PENDING, requested_by=actor,
               reason=reason.strip()[:500], requested_at=now, decided_by=None, decided_at=None, result={})
    session.execute(insert(BulkAction.__table__), [row])
    audit.record(session, actor=actor, action=f"voucher.{action}.request", subject_type="voucher_action",
                 subject_id=str(row["id"]), reason=reason, now=now,
                 details={"serial_from": serial_from, "serial_to": serial_to, **params})
    if serial_to - serial_from + 1 > BULK_LIMIT:
        return BulkAction(**row)
    return _run(session, BulkAction(**row), decided_by=actor, now=now)


def approve(session: Session, action_id, *, actor: str, now: datetime) -> BulkAction:
    action = _pending(session, action_id)
    if action.requested_by == actor:
        raise SecondApproverRequired()
    audit.record(session, actor=actor, action=f"voucher.{action.action}.approve", subject_type="voucher_action",
                 subject_id=str(action.id), reason=f"approved: {action.reason}", now=now)
    return _run(session, action, decided_by=actor, now=now)


def reject(session: Session, action_id, *, actor: str, reason: str, now: datetime) -> BulkAction:
    action = _pending(session, action_id)
    _decide(session, action, state=REJECTED, decided_by=actor, now=now, result={})
    audit.record(session, actor=actor, action=f"voucher.{action.action}.reject", subject_type="voucher_action",
                 subject_id=str(action.id), reason=reason, now=now)
    return session.get_one(BulkAction, action.id)


def pending_actions(session: Session) -> list[BulkAction]:
    return list(session.scalars(select(BulkAction).where(BulkAction.state == PENDING)
                                .order_by(BulkAction.requested_at)))


def recent_actions(session: Session, *, limit: int = 50) -> list[BulkAction]:
    return list(session.scalars(select(BulkAction).order_by(BulkAction.requested_at.desc()).limit(limit)))


def _pending(session: Session, action_id) -> BulkAction:
    try:
        action = session.get(BulkAction, _uuid(str(action_id)), with_for_update=True)
    except ValueError:
        action = None
    if action is None or action.state != PENDING:
        raise ActionNotFound()
    return action


def _run(session: Session, action: BulkAction, *, decided_by: str, now: datetime) -> BulkAction:
    if action.action == SELL:
        result = _sell_range(session, action, now=now)
    elif action.action == BLOCK:
        changed = rowcount(session.execute(update(Voucher).where(
            Voucher.serial.between(action.serial_from, action.serial_to), Voucher.state.in_((GENERATED, ACTIVE)))
            .values(state=BLOCKED, blocked_at=now)))
        result = {"changed": changed}
    else:
        changed = rowcount(session.execute(update(Voucher).where(
            Voucher.serial.between(action.serial_from, action.serial_to), Voucher.state == BLOCKED)
            .values(state=case((Voucher.sold_at.is_(None), GENERATED), else_=ACTIVE), blocked_at=None)))
        result = {"changed": changed}
    _decide(session, action, state=DONE, decided_by=decided_by, now=now, result=result)
    audit.record(session, actor=decided_by, action=f"voucher.{action.action}", subject_type="voucher_action",
                 subject_id=str(action.id), reason=action.reason, now=now,
                 details={"serial_from": action.serial_from, "serial_to": action.serial_to, **action.params, **result})
    return session.get_one(BulkAction, action.id)


def _decide(session: Session, action: BulkAction, *, state: str, decided_by: str, now: datetime, result: dict) -> None:
    session.execute(update(BulkAction).where(BulkAction.id == action.id, BulkAction.state == PENDING)
                    .values(state=state, decided_by=decided_by, decided_at=now, result=result))


def _sell_range(session: Session, action: BulkAction, *, now: datetime) -> dict:
    """Physical stock sold to a reseller: the range comes alive, the float pays face value less the discount."""
    reseller = resellers.by_code(session, action.params["reseller"])
    batch = session.scalars(select(VoucherBatch).where(
        VoucherBatch.serial_from <= action.serial_from, VoucherBatch.serial_to >= action.serial_to)).first()
    if batch is None or batch.kind != PHYSICAL:
        raise Conflict("A sale is a range of one printed batch; these serials are not.")
    if batch.expires_at <= now:
        raise Conflict("This batch has expired; its cards cannot be sold.")
    count = action.serial_to - action.serial_from + 1
    purchase_id = new_id()
    sold = rowcount(session.execute(update(Voucher).where(
        Voucher.serial.between(action.serial_from, action.serial_to), Voucher.state == GENERATED)
        .values(state=ACTIVE, reseller_id=reseller.id, purchase_id=purchase_id, sold_at=now)))
    if sold != count:
        raise Conflict(f"{count - sold} of these {count} cards are not unsold stock (already sold, blocked or "
                       "expired); nothing was sold.")
    _record_purchase(session, purchase_id=purchase_id, reseller=reseller, batch=batch, kind=PHYSICAL,
                     principal=action.requested_by, key=f"stock:{action.serial_from}-{action.serial_to}",
                     request_hash=idempotency.fingerprint(action.serial_from, action.serial_to), quantity=count,
                     serial_from=action.serial_from, serial_to=action.serial_to, pins_sealed=None, now=now)
    return {"changed": count, "reseller": reseller.code, "purchase_id": str(purchase_id)}


def _record_purchase(session: Session, *, purchase_id, reseller: Reseller, batch: VoucherBatch, kind: str,
                     principal: str, key: str, request_hash: str, quantity: int, serial_from: int, serial_to: int,
                     pins_sealed: str | None, now: datetime) -> VoucherPurchase:
    face = Money(batch.face_value_minor * quantity, batch.currency)
    paid, commission = resellers.split(reseller, face)
    try:
        entry_id = ledger.post(session, kind="voucher_sale", reference=f"voucher_sale:{purchase_id}", now=now, legs=[
            Leg(reseller.float_account_id, -paid, tracked=True),
            Leg(ledger.system_account_id(ledger.COMMISSION, face.currency), -commission),
            Leg(ledger.system_account_id(ledger.VOUCHER_LIABILITY, face.currency), face),
        ])
    except InsufficientBalance:
        raise InsufficientFloat() from None
    row = dict(id=purchase_id, reseller_id=reseller.id, kind=kind, principal=principal, idempotency_key=key,
               request_hash=request_hash, offer_id=batch.offer_id, quantity=quantity, serial_from=serial_from,
               serial_to=serial_to, face_value_minor=face.minor, paid_minor=paid.minor,
               commission_minor=commission.minor, currency=face.currency, pins_sealed=pins_sealed,
               journal_entry_id=entry_id, created_at=now)
    session.execute(insert(VoucherPurchase.__table__), [row])
    return VoucherPurchase(**row)


# -- e-PINs ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EpinPurchase:
    purchase: VoucherPurchase
    cards: list[Card]
    expires_at: datetime
    replayed: bool


def buy_epins(session: Session, *, reseller: Reseller, principal: str, idempotency_key: str, offer_id: str,
              quantity: int, keys: pins.Keys, now: datetime, valid_days: int = 365) -> EpinPurchase:
    """N e-PINs made for this purchase and paid from the float, in one transaction. The same key answers the same
    PINs again (kept sealed with AES-GCM for that); a float too small refuses with nothing made or moved."""
    if not 1 <= quantity <= MAX_EPINS:
        raise InvalidInput(f"quantity must be between 1 and {MAX_EPINS}")
    request_hash = idempotency.fingerprint(reseller.id, offer_id, quantity)
    earlier = session.scalars(select(VoucherPurchase).where(
        VoucherPurchase.principal == principal, VoucherPurchase.idempotency_key == idempotency_key)).first()
    if (again := idempotency.replay(earlier, request_hash)) is not None:
        return EpinPurchase(again, _open_pins(again, keys), _expiry_of(session, again), replayed=True)
    offer = session.get(Offer, offer_id) if isinstance(offer_id, str) else None
    if offer is None:
        raise InvalidInput(f"unknown offer {offer_id!r}")
    expires_at = now + timedelta(days=valid_days)
    batch = _new_batch(session, kind=EPIN, offer_id=offer_id, quantity=quantity, expires_at=expires_at,
                       actor=principal, reason=f"e-PINs bought by {reseller.code}", now=now)
    if batch.currency != reseller.currency:
        raise InvalidInput(f"this offer is sold in {batch.currency}; the reseller's float is in {reseller.currency}")
    purchase_id = new_id()
    cards = [card for chunk in _make_cards(session, batch, keys, state=ACTIVE, now=now, extra={
        "reseller_id": reseller.id, "purchase_id": purchase_id, "sold_at": now}) for card in chunk]
    sealed_pins = sealed.seal(json.dumps(cards), key=keys.seal, context=f"epin:{purchase_id}")
    purchase = _record_purchase(session, purchase_id=purchase_id, reseller=reseller, batch=batch, kind=EPIN,
                                principal=principal, key=idempotency_key, request_hash=request_hash,
                                quantity=quantity, serial_from=batch.serial_from, serial_to=batch.serial_to,
                                pins_sealed=sealed_pins, now=now)
    session.execute(update(VoucherBatch).where(VoucherBatch.id == batch.id).values(exported_at=now,
                                                                                   exported_by=principal))
    return EpinPurchase(purchase, cards, expires_at, replayed=False)


def _open_pins(purchase: VoucherPurchase, keys: pins.Keys) -> list[Card]:
    opened = sealed.open_sealed(purchase.pins_sealed or "", keys=[keys.seal], context=f"epin:{purchase.id}")
    if opened is None:
        raise Conflict("The PINs of this purchase cannot be opened again (the seal key changed).")
    return [(serial, pin) for serial, pin in json.loads(opened)]


def _expiry_of(session: Session, purchase: VoucherPurchase) -> datetime:
    return session.scalars(select(VoucherBatch.expires_at).where(
        VoucherBatch.serial_from == purchase.serial_from)).one()


def purchases_of(session: Session, reseller_id, *, limit: int = 100) -> list[VoucherPurchase]:
    return list(session.scalars(select(VoucherPurchase).where(VoucherPurchase.reseller_id == reseller_id)
                                .order_by(VoucherPurchase.created_at.desc()).limit(limit)))


# -- redemption: one guarded state change in the top-up's transaction ------------------------------------------------

VOUCHER_CHANNEL = "voucher"
# Why a PIN did not redeem, for staff (blocked and expired are the card's states).
CHECK_DIGIT, UNKNOWN, USED, NOT_SOLD, OTHER_OPERATOR = "check_digit", "unknown", "used", "not_sold", "other_operator"


@dataclass(frozen=True, slots=True)
class Redemption:
    """What `redeem` did. A failure is committed with the transaction (staff see it; it counts towards the number's
    lockout) and raised by `outcome()` after it, with the one answer every caller gets."""

    result: TopUpResult | None
    failure: str | None = None
    serial: int | None = None  # the card redeemed (also on a replay)

    def outcome(self) -> TopUpResult:
        if self.result is None:
            raise VoucherInvalid()
        return self.result


def redeem(session: Session, *, msisdn: str, pin: str, via: str, principal: str, idempotency_key: str,
           client: str, keys: pins.Keys, now: datetime, region: str = "FR", failures_allowed: int = 5,
           failure_hours: int = 24, notify: dict | None = None) -> Redemption:
    """Redeem a card on a line: the one function the API, the portal, the store console, SMS and voice call. The
    top-up's channel is `voucher` whoever took the PIN; `via` names who did (api, portal, agent, ivr, sms).

    Round trips of a redemption that works: the line's lock (with an earlier request of this key), one guarded
    update that takes the card (active, not expired, this operator's, and the number not locked) and returns its
    offer, then the top-up's writes. Only a PIN that does not work pays for the reads that tell why."""
    number = lookup_msisdn(msisdn, region)
    locked = lines.lock_live_line(session, number, request=(TopUp.__table__, principal, idempotency_key))
    if locked is None:
        raise lines.no_live_line(session, number)  # not a card's failure: the portal said so at the number step
    line, operator = locked
    digits = pins.normalize(pin)
    digest = keys.hash(digits) if digits else b""
    if line.earlier_id is not None:  # the same request again (the line lock orders it after the first)
        earlier = topups.get_topup(session, line.earlier_id)
        idempotency.replay(earlier, _request_hash(number, earlier.offer_id, digest))  # 409 if another request
        serial = session.scalars(select(Voucher.serial).where(Voucher.pin_hash == digest)).first()
        return Redemption(TopUpResult(earlier, replayed=True), serial=serial)
    since = now - timedelta(hours=failure_hours)
    topup_id = new_id()
    taken = session.connection().execute(_TAKE_CARD, {
        "b_pin": digest, "b_now": now, "b_operator": operator.id, "b_msisdn": number, "b_since": since,
        "b_allowed": max(1, failures_allowed), "b_via": via, "b_topup": topup_id}).first() if digits else None
    if taken is None:
        return _not_taken(session, number=number, digits=digits, digest=digest, operator_id=operator.id, via=via,
                          principal=principal, idempotency_key=idempotency_key, client=client, now=now,
                          failures_allowed=failures_allowed, failure_hours=failure_hours)
    face = Money(taken.face_value_minor, taken.currency)
    liability = ledger.system_account_id(ledger.VOUCHER_LIABILITY, face.currency)
    offer = OfferTerms(id=taken.offer_id, price_minor=taken.price_minor, bonus_minor=taken.bonus_minor,
                       validity_days=taken.validity_days)
    result = topups.top_up(session, principal=principal, idempotency_key=idempotency_key, msisdn=number,
                           offer_id=offer.id, channel=VOUCHER_CHANNEL, now=now, region=region, price=face,
                           funding=lambda price: [Leg(liability, -price)], request_extra=(digest.hex(),),
                           notify={"voucher_serial": taken.serial, **(notify or {})}, locked=(line, operator, offer),
                           topup_id=topup_id)
    return Redemption(result, serial=taken.serial)


def applied_promotions(session: Session, topup: TopUp) -> list[dict]:
    """The campaigns a card's redemption got (its recorded quote's: bonus credit, bonus days; never a discount, the
    card's face value is its price), for the page that shows what the card brought."""
    if topup.quote_id is None:
        return []
    quote = session.get(Quote, topup.quote_id)
    return list(quote.applied) if quote is not None else []


_BATCHES, _OFFERS, _FAILURES = VoucherBatch.__table__, Offer.__table__, VoucherFailure.__table__
_RECENT_FAILURES = (select(func.count()).select_from(_FAILURES)
                    .where(_FAILURES.c.msisdn == bindparam("b_msisdn"), _FAILURES.c.at > bindparam("b_since"),
                           _FAILURES.c.counted.is_(True)).scalar_subquery())


def _of_batch(column):
    """A column of the card's batch, or of the batch's offer, as a scalar subquery correlated to the card. Written
    out: SQLAlchemy's SQLite compiler strips the table names inside a RETURNING clause's subqueries."""
    table = "b" if column.table is _BATCHES else "o"
    return literal_column(f"(SELECT {table}.{column.name} FROM voucher_batches AS b JOIN offers AS o ON o.id = "
                          "b.offer_id WHERE b.id = vouchers.batch_id)", type_=column.type).label(column.name)


# The card taken in one statement: the guard (state, expiry, operator, the number's lockout) is in the WHERE, so
# of racing requests exactly one updates the row; RETURNING gives what the top-up needs. Subqueries rather than
# UPDATE ... FROM: SQLite's RETURNING cannot name the FROM tables.
_TAKE_CARD = (
    update(_VOUCHERS)
    .where(_VOUCHERS.c.pin_hash == bindparam("b_pin"), _VOUCHERS.c.state == ACTIVE,
           _VOUCHERS.c.expires_at > bindparam("b_now"), _of_batch(_BATCHES.c.operator_id) == bindparam("b_operator"),
           bindparam("b_allowed") > _RECENT_FAILURES)
    .values(state=REDEEMED, redeemed_at=bindparam("b_now"), redeemed_msisdn=bindparam("b_msisdn"),
            redeemed_via=bindparam("b_via"), topup_id=bindparam("b_topup"))
    .returning(_VOUCHERS.c.serial, *(_of_batch(c) for c in (
        _BATCHES.c.face_value_minor, _BATCHES.c.currency, _BATCHES.c.offer_id, _OFFERS.c.price_minor,
        _OFFERS.c.bonus_minor, _OFFERS.c.validity_days))))


def _not_taken(session: Session, *, number: str, digits: str | None, digest: bytes, operator_id: str, via: str,
               principal: str, idempotency_key: str, client: str, now: datetime, failures_allowed: int,
               failure_hours: int) -> Redemption:
    """Why the card was not taken: the number is locked (raised, nothing recorded), or the PIN failed (recorded
    with its exact reason for staff), or this very request was already served by a twin."""
    until = _locked_until(session, number, now=now, failures_allowed=failures_allowed, failure_hours=failure_hours)
    if until is not None:
        raise VoucherLocked(locked_until=until.isoformat().replace("+00:00", "Z"),
                            retry_after=max(1, math.ceil((until - now).total_seconds())))
    if digits is None:
        return _failed(session, number, CHECK_DIGIT, None, via, client, now)
    card = find_card(session, digest)
    if card is None:
        return _failed(session, number, UNKNOWN, None, via, client, now)
    # A card that looks usable here was taken by another request after this one's guarded update ran.
    reason = _unusable(card.state, card.expires_at, now) or (
        OTHER_OPERATOR if card.operator_id != operator_id else USED)
    if reason == USED and (again := _committed_meanwhile(session, principal, idempotency_key, number, digest,
                                                         serial=card.serial)):
        return again
    return _failed(session, number, reason, card.serial, via, client, now)


_CARD_BY_HASH = (select(Voucher.serial, Voucher.state, Voucher.expires_at, VoucherBatch.offer_id,
                        VoucherBatch.operator_id, VoucherBatch.face_value_minor, VoucherBatch.currency)
                 .join(VoucherBatch, VoucherBatch.id == Voucher.batch_id).where(Voucher.pin_hash == bindparam("h")))


def find_card(session: Session, digest: bytes) -> Row | None:
    """The card whose PIN hashes to `digest` (keys.hash of the normalized PIN), with what a redemption needs of its
    batch: one lookup in the UNIQUE hash index, the same for a PIN that exists and one that does not. On the
    session's connection: the ORM session's own execute costs several times the lookup."""
    return session.connection().execute(_CARD_BY_HASH, {"h": digest}).first()


def _committed_meanwhile(session: Session, principal: str, idempotency_key: str, number: str,
                         digest: bytes, *, serial: int) -> Redemption | None:
    """The same request (key and PIN), committed while this one waited for the line's lock: the lock statement's
    snapshot, taken before the wait, could not see it (PostgreSQL, READ COMMITTED). It is a replay, not a "used"
    failure that would count towards the number's lockout. Read only on that path, so a redemption pays nothing."""
    earlier = session.scalars(select(TopUp).where(TopUp.principal == principal,
                                                  TopUp.idempotency_key == idempotency_key)).first()
    if earlier is None:
        return None
    idempotency.replay(earlier, _request_hash(number, earlier.offer_id, digest))  # 409 if another request
    return Redemption(TopUpResult(earlier, replayed=True), serial=serial)


def _request_hash(number: str, offer_id: str, digest: bytes) -> str:
    return topups.request_hash_of(number, offer_id, VOUCHER_CHANNEL, digest.hex())


def _unusable(state: str, expires_at: datetime, now: datetime) -> str | None:
    if state == REDEEMED:
        return USED
    if state in (BLOCKED, EXPIRED):
        return state
    if state == GENERATED:
        return NOT_SOLD
    return EXPIRED if expires_at <= now else None




def _failed(session: Session, number: str, reason: str, serial: int | None, via: str, client: str,
            now: datetime) -> Redemption:
    session.execute(insert(VoucherFailure.__table__), [dict(
        id=new_id(), msisdn=number, reason=reason, counted=reason != CHECK_DIGIT, serial=serial, channel=via,
        client=client[:64], at=now)])
    return Redemption(None, failure=reason)


def failures_for(session: Session, msisdn: str, *, limit: int = 20) -> list[VoucherFailure]:
    return list(session.scalars(select(VoucherFailure).where(VoucherFailure.msisdn == msisdn)
                                .order_by(VoucherFailure.at.desc()).limit(limit)))


def locked_until(session: Session, msisdn: str, *, now: datetime, failures_allowed: int = 5,
                 failure_hours: int = 24) -> datetime | None:
    """When a locked number may try again (its oldest counted failure in the window leaves it), or None."""
    return _locked_until(session, msisdn, now=now, failures_allowed=failures_allowed, failure_hours=failure_hours)


def _locked_until(session: Session, number: str, *, now: datetime, failures_allowed: int,
                  failure_hours: int) -> datetime | None:
    """The lock lifts when the failures_allowed-th latest counted failure leaves the window, at the instant
    returned (a failure counts for `failure_hours`, its end excluded). One query: the latest few rows of the
    (msisdn, at) index."""
    allowed = max(1, failures_allowed)
    times = list(session.scalars(select(VoucherFailure.at).where(
        VoucherFailure.msisdn == number, VoucherFailure.at > now - timedelta(hours=failure_hours),
        VoucherFailure.counted.is_(True)).order_by(VoucherFailure.at.desc()).limit(allowed)))
    return times[-1] + timedelta(hours=failure_hours) if len(times) >= allowed else None


# -- expiry: what is left of a batch goes to breakage ---------------------------------------------------------------

def expire_due(session: Session, *, now: datetime) -> int:
    """Expire every batch past its date: its unredeemed cards end, and the face value of those sold moves from the
    liability to breakage in one entry per batch. Idempotent (the entry's reference is the batch)."""
    due = list(session.scalars(select(VoucherBatch).where(VoucherBatch.expires_at <= now,
                                                          VoucherBatch.expired_at.is_(None))
                               .with_for_update(skip_locked=True)))
    for batch in due:
        in_batch = Voucher.serial.between(batch.serial_from, batch.serial_to)
        sold = session.scalars(select(func.count()).select_from(Voucher).where(
            in_batch, Voucher.state.in_((ACTIVE, BLOCKED)), Voucher.sold_at.is_not(None))).one()
        session.execute(update(Voucher).where(in_batch, Voucher.state.in_((GENERATED, ACTIVE, BLOCKED)))
                        .values(state=EXPIRED))
        if sold:
            amount = Money(batch.face_value_minor * sold, batch.currency)
            ledger.post(session, kind="voucher_breakage", reference=f"voucher_breakage:{batch.id}", now=now, legs=[
                Leg(ledger.system_account_id(ledger.VOUCHER_LIABILITY, batch.currency), -amount),
                Leg(ledger.system_account_id(ledger.BREAKAGE, batch.currency), amount)])
        session.execute(update(VoucherBatch).where(VoucherBatch.id == batch.id).values(expired_at=now))
    return len(due)


# -- support and reports ----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class VoucherView:
    voucher: Voucher
    batch: VoucherBatch
    reseller: Reseller | None
    failures: list[VoucherFailure]  # tries that matched this card but could not use it


def lookup(session: Session, serial: int | str) -> VoucherView:
    try:
        number = int(str(serial).replace(" ", ""))
    except ValueError:
        raise VoucherNotFound() from None
    voucher = session.get(Voucher, number)
    if voucher is None:
        raise VoucherNotFound()
    batch = session.get_one(VoucherBatch, voucher.batch_id)
    reseller = session.get(Reseller, voucher.reseller_id) if voucher.reseller_id else None
    failures = list(session.scalars(select(VoucherFailure).where(VoucherFailure.serial == number)
                                    .order_by(VoucherFailure.at.desc()).limit(20)))
    return VoucherView(voucher, batch, reseller, failures)


@dataclass(frozen=True, slots=True)
class BatchReport:
    batch: VoucherBatch
    counts: dict[str, int]  # made, sold, generated, active, redeemed, blocked, expired
    money: dict[str, Money]  # sold, redeemed, outstanding (the liability), breakage, commission

    @property
    def balances(self) -> bool:
        m = self.money
        return m["sold"].minor == m["redeemed"].minor + m["outstanding"].minor + m["breakage"].minor


def report(session: Session, batch_id) -> BatchReport:
    batch = get_batch(session, batch_id)
    in_batch = Voucher.serial.between(batch.serial_from, batch.serial_to)
    by_state = dict(session.execute(select(Voucher.state, func.count()).where(in_batch).group_by(Voucher.state)).all())
    sold = session.scalars(select(func.count()).select_from(Voucher).where(in_batch, Voucher.sold_at.is_not(None))).one()
    outstanding = session.scalars(select(func.count()).select_from(Voucher).where(
        in_batch, Voucher.sold_at.is_not(None), Voucher.state.in_((ACTIVE, BLOCKED)))).one()
    expired_sold = session.scalars(select(func.count()).select_from(Voucher).where(
        in_batch, Voucher.sold_at.is_not(None), Voucher.state == EXPIRED)).one()
    # int(): PostgreSQL sums a BIGINT as NUMERIC (a Decimal), which Money refuses
    commission = int(session.scalars(select(func.coalesce(func.sum(VoucherPurchase.commission_minor), 0)).where(
        VoucherPurchase.serial_from >= batch.serial_from, VoucherPurchase.serial_to <= batch.serial_to)).one())
    face = batch.face_value_minor

    def money(n: int) -> Money:
        return Money(n, batch.currency)

    counts = {"made": batch.quantity, "sold": sold, **{s: by_state.get(s, 0) for s in (
        GENERATED, ACTIVE, REDEEMED, BLOCKED, EXPIRED)}}
    return BatchReport(batch, counts, {
        "sold": money(sold * face), "redeemed": money(by_state.get(REDEEMED, 0) * face),
        "outstanding": money(outstanding * face), "breakage": money(expired_sold * face),
        "commission": money(commission)})


def reconcile(session: Session) -> list[str]:
    """Problems between the cards and the ledger: per currency, the voucher liability must equal the face value of
    the cards sold and not yet redeemed or expired. `simkeep ledger verify` runs it."""
    outstanding = {currency: int(total) for currency, total in session.execute(  # numeric on PostgreSQL
        select(VoucherBatch.currency, func.sum(VoucherBatch.face_value_minor))
        .join(Voucher, and_(Voucher.serial >= VoucherBatch.serial_from, Voucher.serial <= VoucherBatch.serial_to))
        .where(Voucher.sold_at.is_not(None), Voucher.state.in_((ACTIVE, BLOCKED)))
        .group_by(VoucherBatch.currency))}
    currencies = set(outstanding) | set(session.scalars(select(VoucherBatch.currency).distinct()))
    problems: list[str] = []
    for currency in sorted(currencies):
        booked = ledger.account_balance(session, ledger.system_account_id(ledger.VOUCHER_LIABILITY, currency))
        if booked != (outstanding.get(currency) or 0):
            problems.append(f"voucher liability in {currency} is {booked} but the cards sold and not yet redeemed or "
                            f"expired are worth {outstanding.get(currency) or 0}")
    return problems


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


def redeemed_for_topups(session: Session, topup_ids: list) -> list[Voucher]:
    """The cards these top-ups redeemed (ix_vouchers_topup_id)."""
    if not topup_ids:
        return []
    return list(session.scalars(select(Voucher).where(Voucher.topup_id.in_(topup_ids))))


def redeemed_topup(session: Session, serial: str) -> uuid.UUID | None:
    """The top-up that redeemed the card with this serial (as printed, spaces allowed), or None."""
    digits = "".join(serial.split())
    if not digits.isdigit() or len(digits) > 18:
        return None
    voucher = session.get(Voucher, int(digits))
    return voucher.topup_id if voucher is not None else None
