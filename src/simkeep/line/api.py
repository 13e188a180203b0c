from collections.abc import Callable

from fastapi import APIRouter
from sqlalchemy.orm import Session

from simkeep.core import clock
from simkeep.core.phone import lookup_msisdn
from simkeep.line import service
from simkeep.line.schemas import LineCreate, LineOut, MoneyOut, SimAssign, SimLost, SimSwap
from simkeep.locale import languages
from simkeep.network import inventory
from simkeep.network import service as network
from simkeep.network.models import Sim
from simkeep.network.schemas import NetworkOut, SimOut
from simkeep.web.deps import AdminOnly, Config, Lane, Partner, Staff
from simkeep.web.openapi import errors
from simkeep.web.params import Msisdn

router = APIRouter(prefix="/api/v1/lines", tags=["lines"])


@router.post("", status_code=201, response_model=LineOut, responses=errors({
    404: "`operator_not_found`", 409: "`number_unavailable`: the number is in use or in quarantine",
    422: "`unsupported_language`: `language` is no BCP 47 tag of Chinese, French or English (the error's "
         "`supported` lists `zh-CN`, `fr`, `en`)"}, body=True))
async def create_line(body: LineCreate, db: Lane, _who: Staff) -> LineOut:
    def create(session: Session) -> LineOut:
        line = service.create_line(session, msisdn=body.msisdn, operator_id=body.operator_id,
                                   language=body.language, email=body.email, now=clock.now())
        return render(service.view(session, line))

    return await db.write(create)


@router.get("/{msisdn}", response_model=LineOut, responses=errors({404: "`line_not_found`"}))
async def get_line(msisdn: Msisdn, db: Lane, cfg: Config, _who: Partner) -> LineOut:
    number = lookup_msisdn(msisdn, cfg.default_region)

    def read(session: Session) -> LineOut:
        view = service.view(session, service.find_line(session, number))
        return render(view, network.status(session, view.line.id))

    return await db.read(read)


def render(view: service.LineView, network_status: network.NetworkStatus | None = None) -> LineOut:
    line = view.line
    return LineOut(
        id=str(line.id), msisdn=line.msisdn, operator_id=line.operator_id, state=line.state,
        balance=MoneyOut.of(view.balance), credit=MoneyOut.of(view.credit), bonus=MoneyOut.of(view.bonus),
        validity_ends_at=line.validity_ends_at, number_loss_at=line.number_loss_at,
        available_at=line.available_at, language=languages.tag(line.language),
        network=NetworkOut.of(network_status) if network_status else None,
    )


# -- the line's SIM card (network.inventory): admin tokens; the line is locked so its commands queue in turn -----------

SIM_ERRORS = errors({
    404: "`line_not_found`, or `sim_not_found`: no card with this ICCID",
    409: "`sim_not_in_stock`, `sim_wrong_operator` (a card of another operator), `line_has_sim` (swap it instead), "
         "`line_has_no_sim` (assign one first), `line_not_live` or `line_not_renewable` (the line no longer holds "
         "its number)"}, body=True)


@router.post("/{msisdn}/sim", status_code=201, response_model=SimOut, responses=SIM_ERRORS)
async def assign_sim(msisdn: Msisdn, body: SimAssign, db: Lane, cfg: Config, who: AdminOnly) -> SimOut:
    """Give a line without a card one from stock: the network is told to hold it in the line's state."""
    return await _on_line(db, lookup_msisdn(msisdn, cfg.default_region), lambda session, line: inventory.assign(
        session, line=line, iccid=body.iccid, actor=f"api:{who.id}", reason=body.reason, now=clock.now()))


@router.post("/{msisdn}/sim/swap", response_model=SimOut, responses=SIM_ERRORS)
async def swap_sim(msisdn: Msisdn, body: SimSwap, db: Lane, cfg: Config, who: AdminOnly) -> SimOut:
    """Move the number to a new card: the old card's IMSI is removed from the HLR, then the new one added in the
    line's state. Answers the new card."""
    return await _on_line(db, lookup_msisdn(msisdn, cfg.default_region), lambda session, line: inventory.swap(
        session, line=line, new_iccid=body.iccid, actor=f"api:{who.id}", reason=body.reason, lost=body.lost,
        now=clock.now()))


@router.post("/{msisdn}/sim/lost", response_model=SimOut, responses=SIM_ERRORS)
async def report_sim_lost(msisdn: Msisdn, body: SimLost, db: Lane, cfg: Config, who: AdminOnly) -> SimOut:
    """The line's card is lost and no new one is at hand: its IMSI leaves the HLR at once. Answers the lost card."""
    return await _on_line(db, lookup_msisdn(msisdn, cfg.default_region), lambda session, line: inventory.report_lost(
        session, line=line, actor=f"api:{who.id}", reason=body.reason, now=clock.now()))


async def _on_line(db: Lane, number: str, act: Callable[[Session, inventory.LineRef], Sim]) -> SimOut:
    def work(session: Session) -> SimOut:
        locked = service.lock_live_line(session, number)
        if locked is None:
            raise service.no_live_line(session, number)
        line = locked[0]
        return SimOut.of(act(session, inventory.LineRef(line.id, line.msisdn, line.operator_id, line.state)))

    return await db.write(work)
