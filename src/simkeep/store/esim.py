"""Giving a customer's line an eSIM at the counter (or from the back office): the line is locked, the next profile of
its operator in stock is bound to it (network.esim.assign: its first SIM, or in place of its card), and when the line
has an e-mail address a message tells the subscriber their eSIM is ready, with a link that shows the code once.

The message carries the link, not the code: an outbox row, a mail server's queue and a mailbox keep what they are
given for years, and the matching ID is a bearer secret (whoever scans it first gets the profile)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from simkeep.config import Settings
from simkeep.core.errors import EsimNotFound
from simkeep.line import service as lines
from simkeep.network import esim
from simkeep.network.inventory import LineRef
from simkeep.notification import outbox

LINK_PURPOSE = "esim_link"  # Settings.key(LINK_PURPOSE) signs the e-mailed links


def give_esim(session: Session, *, msisdn: str, actor: str, settings: Settings, now: datetime) -> esim.Assigned:
    """Bind the next eSIM in stock to the live line of `msisdn` and e-mail its link. Raises LineNotFound /
    LineNotRenewable / LineNotLive (no live line), EsimUnavailable (none in stock) with nothing changed."""
    locked = lines.lock_live_line(session, msisdn)
    if locked is None:
        raise lines.no_live_line(session, msisdn)
    line, _operator = locked
    given = esim.assign(session, line=LineRef(line.id, line.msisdn, line.operator_id, line.state), actor=actor,
                        now=now)
    if email := lines.email_of(session, line.id):
        outbox.enqueue(session, [outbox.Message(
            dedup_key=f"esim.ready:{given.esim.sim_id}", topic="esim.ready", channel=outbox.EMAIL, recipient=email,
            language=line.language, line_id=line.id,
            payload={"msisdn": line.msisdn, "esim_url": link_url(settings, given.esim)})], now=now)
    return given


def link_url(settings: Settings, profile: esim.Esim) -> str:
    return f"{settings.base_url}/esim/{esim.link_token(settings.key(LINK_PURPOSE), profile)}"


def link_max_age(settings: Settings) -> int:
    return int(timedelta(days=settings.esim_link_days).total_seconds())


def code_of_number(session: Session, msisdn: str, settings: Settings) -> tuple[esim.Esim, esim.ActivationCode]:
    """The eSIM of the live line of `msisdn` and its activation code, for a signed-in person (an agent at the counter,
    the subscriber on the portal). Raises EsimNotFound when the number has no live line or the line no eSIM."""
    line = lines.find_live_line(session, msisdn)
    profile = esim.of_line(session, line.id) if line else None
    if profile is None:
        raise EsimNotFound()
    return profile, esim.activation_code(session, profile, key=esim.seal_key(settings))
