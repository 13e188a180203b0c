"""Recharge cards (充值卡, tickets de recharge): the number and the card's PIN, no offer and no payment step.

One form, `/renew/card`, reached three ways: the wizard's "I have a recharge card" (the number it has is filled
in), a line's "Recharge with a card" on My lines (that line's number), and the card's QR code, which opens
`/renew/card#pin=PIN`. The PIN travels in the fragment, which browsers never send: web/static/card.js copies it
into the field and removes it from the address bar; without JavaScript the PIN is typed.

Identification is the wizard's: anyone may recharge any number, so only the number is asked, no SMS code (a card
adds credit and validity to a number and cannot take anything from it). What the pages show follows the wizard too:
a browser that did not verify the number learns nothing of the line (no validity date, no balance, no receipt),
only what it did; a number that cannot be renewed gets one sentence for every reason; typing numbers is bounded per
address like the wizard's number step. PINs are bounded per address (SIMKEEP_VOUCHER_REDEMPTIONS_PER_IP) and per
number (five wrong ones a day lock the number: the page says until when, and the hotline).

Every PIN that does not redeem gets the one answer `voucher_invalid`, whatever the reason (staff see the reason).
A PIN is never written back into a page, and never logged."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.config import Settings
from simkeep.core import clock
from simkeep.core.errors import (
    LineNotFound,
    LineNotRenewable,
    SimkeepError,
    ValidityCapReached,
    VoucherInvalid,
    VoucherLocked,
)
from simkeep.db import Database
from simkeep.portal import service as portal
from simkeep.portal import wizard
from simkeep.portal.params import Notice, PageRoute, RawNumber, msisdn_or_error
from simkeep.portal.signin import moment
from simkeep.voucher import service as vouchers
from simkeep.web.deps import Config, Db, Limits
from simkeep.web.pages import Csrf, Lang, error_text, language, reader, redirect, render, verified_numbers

router = APIRouter(include_in_schema=False, route_class=PageRoute)
TEMPLATE = "portal/card.html"
OWN_CARDS = 10  # top-ups by card a browser remembers, to show their result page
KEY_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
CardResult = Annotated[str, Path(max_length=64)]


@router.get("/renew/card", response_class=HTMLResponse)
def card_form(request: Request, settings: Config, msisdn: RawNumber = None, error: Notice = None) -> HTMLResponse:
    """The form, with the number filled in: the one asked for (My lines), else the wizard's."""
    number = msisdn_or_error(msisdn, settings.default_region) if msisdn else None
    prefill = number if isinstance(number, str) else wizard.number_of(request)
    return _form(request, settings, msisdn=prefill,
                 error=error_text(language(request), error) if error else None)


@router.post("/renew/card", response_class=HTMLResponse)
def card_redeem(request: Request, db: Db, settings: Config, limits: Limits, lang: Lang,
                msisdn: Annotated[str, Form(max_length=20_000)],
                pin: Annotated[str, Form(max_length=64)],
                key: Annotated[str, Form(max_length=64, pattern=KEY_PATTERN)],
                _csrf: None = Csrf) -> Response:
    typed = msisdn[:32]  # written back into the form; the PIN never is
    if not portal.cards_accepted(settings):
        return _form(request, settings, msisdn=typed, status=503)
    number = msisdn_or_error(msisdn, settings.default_region)
    if isinstance(number, SimkeepError):
        return _form(request, settings, msisdn=typed, status=422, error=error_text(lang, number.code))
    verified = number in verified_numbers(request)
    # PINs per address; and, as in the wizard's number step, numbers per address unless this browser verified it.
    if not limits.may_try_voucher(request) or not (verified or limits.may_check_number(request)):
        return _form(request, settings, msisdn=typed, status=429, error=error_text(lang, "rate_limited"))
    try:
        topup = portal.redeem_card(db, settings, msisdn=number, pin=pin, key=key, client=limits.client(request),
                                   language=lang, now=clock.now())
    except VoucherLocked:
        return _locked(request, db, settings, number, typed) or _form(
            request, settings, msisdn=typed, status=429, error=error_text(lang, "voucher_locked"))
    except VoucherInvalid:
        # The failure is committed and counted: if it was the number's last try, say so now.
        locked = _locked(request, db, settings, number, typed)
        if locked is not None:
            return locked
        return _form(request, settings, msisdn=typed, status=422, error=error_text(lang, "voucher_invalid"))
    except ValidityCapReached:
        return _form(request, settings, msisdn=typed, status=422, error=error_text(lang, "voucher_validity_cap"))
    except (LineNotFound, LineNotRenewable) as exc:
        # As the wizard: one sentence for every reason, unless this browser verified the number.
        code = exc.code if verified and isinstance(exc, LineNotRenewable) else wizard.NOT_RENEWABLE
        return _form(request, settings, msisdn=typed, status=422, error=error_text(lang, code))
    _remember(request, str(topup.id))
    return redirect(f"/renew/card/{topup.id}")


@router.get("/renew/card/{topup_id}", response_class=HTMLResponse)
def card_result(request: Request, db: Db, settings: Config, topup_id: CardResult) -> HTMLResponse:
    with db.transaction(write=False) as session:
        outcome = portal.card_outcome(session, topup_id, numbers=verified_numbers(request),
                                      own=request.session.get("cards", []), secret=settings.key("receipt"))
        # What the card brought beyond its face value: the campaigns its quote applied (bonus credit, bonus days).
        promotions = vouchers.applied_promotions(session, outcome.topup) if outcome else []
    if outcome is None:
        return render(request, "portal/error.html", status=404, missing=True,
                      error=error_text(language(request), "not_found"))
    return render(request, "portal/card_done.html", promotions=promotions, **outcome.context())


def _form(request: Request, settings: Settings, *, msisdn: str, status: int = 200, error: str | None = None,
          locked: dict | None = None) -> HTMLResponse:
    """The card form. Each rendering carries a new key: the same form sent twice redeems once (the second answers
    the first top-up), and a form shown again after a failure starts a new request."""
    return render(request, TEMPLATE, status=status, msisdn=msisdn, key=secrets.token_urlsafe(24), error=error,
                  accepted=portal.cards_accepted(settings), locked=locked, hotline=settings.hotline)


def _locked(request: Request, db: Database, settings: Settings, number: str, typed: str) -> HTMLResponse | None:
    """The form with the lockout: the one message, when the number may try again (in the reader's language and
    zone, the zone named, as the code page says it) and the hotline; None if the number is not locked."""
    now = clock.now()
    with db.transaction(write=False) as session:
        until = portal.card_locked_until(session, settings, number, now=now)
    if until is None:
        return None
    lang = language(request)
    return _form(request, settings, msisdn=typed, status=429, error=error_text(lang, "voucher_locked"),
                 locked={"at": until, "text": moment(until, reader(request).locale, request.cookies.get("tz"))})


def _remember(request: Request, topup_id: str) -> None:
    """This browser redeemed the card: it may see the result (without the line's details unless verified)."""
    own = [t for t in request.session.get("cards", []) if t != topup_id]
    request.session["cards"] = [*own, topup_id][-OWN_CARDS:]
