"""After paying: the result page, the payer's next action when simkeep renders it, and the status poll.

A result is shown to the browser that started the payment (its session keeps the attempt ids) and, with the
line's details, to a browser that verified the number. Any other attempt id, well-formed or not, is "not found"."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from simkeep.config import Settings
from simkeep.db import Database
from simkeep.payment import flow
from simkeep.portal import service as portal
from simkeep.portal.params import Flag, PageRoute, ProviderToken
from simkeep.web import i18n
from simkeep.web.deps import Config, Db
from simkeep.web.pages import error_text, language, reader, redirect, render, verified_numbers

router = APIRouter(include_in_schema=False, route_class=PageRoute)
AttemptId = Annotated[str, Path(max_length=64)]
ACTION_PAGES = ("qr", "bank_transfer", "stripe_js")  # the next actions simkeep renders itself
OWN_ATTEMPTS = 10  # attempt ids a browser remembers
# How a waiting page asks for the outcome (web/static/app.js reads them from data- attributes): the first delay in
# ms, doubled up to the cap, and how many times before it stops and offers "check again". A card or a wallet
# answers within seconds (~10 minutes of asking); a bank transfer takes a working day or two, so its page asks
# rarely and stops within the hour (the details stay on the page, under My lines and in the SMS).
POLL = {"bank_transfer": {"first": 10_000, "cap": 300_000, "tries": 12}}
POLL_OTHERS = {"first": 1_000, "cap": 5_000, "tries": 120}


@router.get("/pay/{attempt_id}", response_class=HTMLResponse)
def payment_result(request: Request, db: Db, settings: Config, attempt_id: AttemptId, token: ProviderToken = None,
                   PayerID: ProviderToken = None,
                   cancelled: Flag = None) -> Response:
    outcome = _outcome_for_browser(request, db, settings, attempt_id)
    if outcome is None:
        return _not_found(request)
    attempt = outcome.attempt
    # PayPal sends the payer back with its order token, plus a PayerID once approved or cancelled=1 if not.
    if flow.returned_from_provider(attempt, token, approved=bool(PayerID), cancelled=bool(cancelled)):
        flow.capture_on_return(db, settings, attempt, cancelled=bool(cancelled))
        return redirect(f"/pay/{attempt.id}")
    return render(request, "portal/pay_result.html", poll=POLL.get(attempt.method, POLL_OTHERS), **outcome.context())


@router.get("/pay/{attempt_id}/action", response_class=HTMLResponse)
def payment_action(request: Request, db: Db, settings: Config, attempt_id: AttemptId) -> Response:
    """The payer's next step when simkeep renders it: `portal/action_<type>.html` gets the provider's data."""
    outcome = _outcome_for_browser(request, db, settings, attempt_id)
    action = outcome.attempt.next_action if outcome is not None else None
    if outcome is None or not action:
        return _not_found(request)
    if action.get("type") == "redirect" and str(action.get("url", "")).startswith(("/", "https://", "http://")):
        return redirect(action["url"])  # the provider's own page
    if action.get("type") not in ACTION_PAGES:
        return _not_found(request)
    return render(request, f"portal/action_{action['type']}.html", action=action,
                  poll=POLL.get(outcome.attempt.method, POLL_OTHERS), **outcome.context())


@router.get("/pay/{attempt_id}/status")
def payment_status(request: Request, db: Db, settings: Config, attempt_id: AttemptId) -> Response:
    """Polled by the result page until the outcome is known."""
    outcome = _outcome_for_browser(request, db, settings, attempt_id)
    if outcome is None:
        return JSONResponse({"status": "unknown"}, status_code=404)
    return JSONResponse({"status": outcome.attempt.status, "html": _outcome_fragment(request, outcome)})


def remember_attempt(request: Request, attempt_id) -> None:
    """This browser started the payment: it may see its result (without the line's details)."""
    own = [a for a in request.session.get("payments", []) if a != str(attempt_id)]
    request.session["payments"] = [*own, str(attempt_id)][-OWN_ATTEMPTS:]


def _not_found(request: Request) -> Response:
    return render(request, "portal/error.html", status=404, error=error_text(language(request), "payment_not_found"))


def _outcome_fragment(request: Request, outcome: portal.PaymentOutcome) -> str:
    """The part of the result page that changes, for the poll to swap in."""
    who = reader(request)
    return i18n.environment(who.language).get_template("portal/_pay_outcome.html").render(
        request=request, format_locale=who.locale, **outcome.context())


def _outcome_for_browser(request: Request, db: Database, settings: Settings,
                         attempt_id: str) -> portal.PaymentOutcome | None:
    try:
        parsed = uuid.UUID(attempt_id)
    except ValueError:
        return None
    with db.transaction(write=False) as session:
        return portal.payment_outcome(session, str(parsed), numbers=verified_numbers(request),
                                      own=request.session.get("payments", []),
                                      secret=settings.key("receipt"))
