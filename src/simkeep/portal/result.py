"""After paying: the result page, the payer's next action when simkeep renders it, and the status poll."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from simkeep.portal import service as portal
from simkeep.web import i18n
from simkeep.web.pages import error_text, language, redirect, render, verified_numbers

router = APIRouter(include_in_schema=False)


@router.get("/pay/{attempt_id}", response_class=HTMLResponse)
def payment_result(request: Request, attempt_id: str, token: str | None = None, PayerID: str | None = None,
                   cancelled: str | None = None) -> Response:
    outcome = _outcome_for_browser(request, attempt_id)
    if outcome is None:
        return render(request, "portal/error.html", status=404, error=error_text(language(request), "payment_not_found"))
    attempt = outcome.attempt
    # PayPal sends the payer back with its order token, plus a PayerID once approved or cancelled=1 if not.
    if portal.returned_from_provider(attempt, token, approved=bool(PayerID), cancelled=bool(cancelled)):
        portal.capture_on_return(request.app.state.db, request.app.state.settings, attempt, cancelled=bool(cancelled))
        return redirect(f"/pay/{attempt.id}")
    return render(request, "portal/pay_result.html", **outcome.context())


@router.get("/pay/{attempt_id}/action", response_class=HTMLResponse)
def payment_action(request: Request, attempt_id: str) -> Response:
    """The payer's next step when simkeep renders it: `portal/action_<type>.html` gets the provider's data."""
    outcome = _outcome_for_browser(request, attempt_id)
    if outcome is None or not outcome.attempt.next_action:
        return render(request, "portal/error.html", status=404, error=error_text(language(request), "payment_not_found"))
    action = outcome.attempt.next_action
    return render(request, f"portal/action_{action['type']}.html", action=action, **outcome.context())


@router.get("/pay/{attempt_id}/status")
def payment_status(request: Request, attempt_id: str) -> Response:
    """Polled by the result page until the outcome is known."""
    outcome = _outcome_for_browser(request, attempt_id)
    if outcome is None:
        return JSONResponse({"status": "unknown"}, status_code=404)
    return JSONResponse({"status": outcome.attempt.status, "html": _outcome_fragment(request, outcome)})


def _outcome_fragment(request: Request, outcome: portal.PaymentOutcome) -> str:
    """The part of the result page that changes, for the poll to swap in."""
    env = i18n.environment(language(request))
    return env.get_template("portal/_pay_outcome.html").render(request=request, **outcome.context())


def _outcome_for_browser(request: Request, attempt_id: str) -> portal.PaymentOutcome | None:
    with request.app.state.db.transaction(write=False) as session:
        return portal.payment_outcome(session, attempt_id, numbers=verified_numbers(request),
                                      secret=request.app.state.settings.key("receipt"))
