from fastapi import APIRouter
from sqlalchemy.orm import Session

from simkeep.core import clock
from simkeep.core.phone import lookup_msisdn
from simkeep.line import service
from simkeep.line.schemas import LineCreate, LineOut, MoneyOut
from simkeep.locale import languages
from simkeep.network import service as network
from simkeep.network.schemas import NetworkOut
from simkeep.web.deps import Config, Lane, Partner, Staff
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
