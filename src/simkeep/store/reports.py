"""The Z-report of a cash drawer: what one shift took, as the agent and the store manager read it at closing.

Cash is what went into the drawer (sales with its `drawer_id`); card and recharge-card sales never touch the drawer,
but the report shows those the same agent made during the shift (opened_at … closed_at, or now while open) so the
shift's whole takings are on one slip. Totals by method and by offer count the sales that stand (not voided); voids
are listed apart, with who voided and why. No web imports: admin.drawer renders it (page and 80 mm PDF)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from simkeep.core.phone import masked
from simkeep.staff import service as staff
from simkeep.store import service as stores
from simkeep.store.models import CASH, METHODS, Drawer, Store, StoreSale


@dataclass(frozen=True, slots=True)
class Tally:
    count: int = 0
    total_minor: int = 0

    def plus(self, amount_minor: int) -> Tally:
        return Tally(self.count + 1, self.total_minor + amount_minor)


@dataclass(frozen=True, slots=True)
class VoidLine:
    sale_id: uuid.UUID
    sold_at: datetime
    voided_at: datetime
    msisdn: str  # masked: a slip of paper left at the counter shows no full number
    offer_id: str
    method: str
    amount_minor: int
    by: str  # "staff:<username>"
    reason: str


@dataclass(frozen=True, slots=True)
class ZReport:
    drawer: Drawer
    store: Store
    agent: str  # the username of the drawer's agent (who opened it)
    until: datetime  # closed_at, or the moment the report was made while the drawer is open
    methods: dict[str, Tally]  # every method of store.models.METHODS, in that order
    offers: list[tuple[str, Tally]]  # by offer id, sorted
    voids: list[VoidLine]
    commission_minor: int  # earned on the sales that stand
    cash_sales_minor: int  # the drawer's cash sales that stand
    expected_minor: int  # float + cash sales (closed: as recorded at closing)

    @property
    def currency(self) -> str:
        return self.drawer.currency

    @property
    def is_open(self) -> bool:
        return self.drawer.closed_at is None

    @property
    def void_tally(self) -> Tally:
        return Tally(len(self.voids), sum(v.amount_minor for v in self.voids))

    @property
    def sales(self) -> Tally:
        return Tally(sum(t.count for t in self.methods.values()), sum(t.total_minor for t in self.methods.values()))


def get_drawer(session: Session, drawer_id: uuid.UUID, *, store_id: uuid.UUID | None) -> Drawer:
    """A drawer of `store_id` (None: any store, for the back office); 404 missing, 403 another store's."""
    drawer = session.get(Drawer, drawer_id)
    if drawer is None:
        raise stores.DrawerNotFound()
    return drawer if store_id is None else stores.in_store(drawer, store_id)


def open_drawers(session: Session, store_id: uuid.UUID) -> list[Drawer]:
    """The store's drawers open now, oldest first."""
    return list(session.scalars(select(Drawer).where(Drawer.store_id == store_id, Drawer.closed_at.is_(None))
                                .order_by(Drawer.opened_at, Drawer.id)))


def recent_drawers(session: Session, store_id: uuid.UUID, *, agent_id: uuid.UUID | None = None,
                   limit: int = 20) -> list[Drawer]:
    """The store's (or one agent's) last closed drawers, newest first."""
    query = select(Drawer).where(Drawer.store_id == store_id, Drawer.closed_at.is_not(None))
    if agent_id is not None:
        query = query.where(Drawer.agent_id == agent_id)
    return list(session.scalars(query.order_by(Drawer.closed_at.desc(), Drawer.id.desc()).limit(limit)))


def usernames(session: Session, agent_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    found = {}
    for agent_id in agent_ids:
        account = staff.get(session, agent_id)
        found[agent_id] = account.username if account is not None else str(agent_id)
    return found


def z_report(session: Session, drawer: Drawer, *, now: datetime) -> ZReport:
    """The drawer's Z-report (an X-report while it is still open: the same figures so far)."""
    until = drawer.closed_at or now
    in_shift = and_(StoreSale.agent_id == drawer.agent_id, StoreSale.drawer_id.is_(None),
                    StoreSale.created_at >= drawer.opened_at, StoreSale.created_at <= until)
    sales = list(session.scalars(select(StoreSale).where(or_(StoreSale.drawer_id == drawer.id, in_shift))
                                 .order_by(StoreSale.created_at, StoreSale.id)))
    methods = {method: Tally() for method in METHODS}
    offers: dict[str, Tally] = defaultdict(Tally)
    voids: list[VoidLine] = []
    commission = cash = 0
    for sale in sales:
        if sale.voided_at is not None:
            voids.append(VoidLine(sale.id, sale.created_at, sale.voided_at, masked(sale.msisdn), sale.offer_id,
                                  sale.method, sale.amount_minor, sale.voided_by or "", sale.void_reason or ""))
            continue
        methods[sale.method] = methods[sale.method].plus(sale.amount_minor)
        offers[sale.offer_id] = offers[sale.offer_id].plus(sale.amount_minor)
        commission += sale.commission_minor
        if sale.method == CASH:
            cash += sale.amount_minor
    expected = (drawer.expected_minor if drawer.expected_minor is not None
                else drawer.opening_float_minor + cash)
    store = stores.get_store(session, drawer.store_id)
    return ZReport(drawer=drawer, store=store, agent=usernames(session, {drawer.agent_id})[drawer.agent_id],
                   until=until, methods=methods, offers=sorted(offers.items()), voids=voids,
                   commission_minor=commission, cash_sales_minor=cash, expected_minor=expected)

