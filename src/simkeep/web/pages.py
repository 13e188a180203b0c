"""Shared plumbing for HTML pages: language, session, CSRF, rendering and translated errors."""

from __future__ import annotations

import secrets
from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from simkeep.core.errors import SimkeepError
from simkeep.locale import languages
from simkeep.web import i18n, sessions


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated when rendered."""
    return message


# Stable error codes, as a person reads them. Unknown codes fall back to a generic sentence.
ERROR_TEXTS = {
    "invalid_msisdn": N_("This is not a valid mobile number. Check it and try again."),
    "code_wrong": N_("This code is not right. Check the SMS and try again."),
    "code_locked": N_("Too many wrong codes. Ask for a new code."),
    "code_expired": N_("This code has expired or was already used. Ask for a new one."),
    "code_resend_too_soon": N_("Please wait a minute before asking for another code."),
    "code_still_valid": N_("A code was already sent to this number and is still valid: type it below. "
                           "No new SMS is sent until it expires."),
    "code_spent": N_("Too many wrong codes were typed for this number. Signing in with a code is paused."),
    "code_requests_exceeded": N_("Too many codes were asked for this number. Please try again in an hour."),
    "cannot_renew_online": N_("This number cannot be renewed online. Check the number and the operator you "
                              "chose, or recharge in a store."),
    "validity_cap_amount": N_("This amount would take the number past the longest validity its operator allows. "
                              "Choose a smaller amount."),
    "bad_request": N_("This address or form is not valid. Check it, or start again from the home page."),
    "rate_limited": N_("Too many attempts. Please wait a few minutes and try again."),
    "csrf": N_("This form has expired. Please try again."),
    "offer_not_found": N_("This offer does not exist for your operator. Choose another one."),
    "operator_mismatch": N_("This offer is not sold for this number's operator. Choose one of its offers below."),
    "line_not_renewable": N_("This line has been deactivated and can no longer be recharged."),
    "validity_cap_reached": N_("Your line is already valid for as long as the operator allows. No need to recharge yet."),
    "provider_unavailable": N_("The payment service could not be reached. Nothing was charged; please try again."),
    "payment_not_found": N_("We could not find this payment."),
    "receipt_not_found": N_("This receipt does not exist or the link is not genuine."),
    "method_required": N_("Choose how you want to pay."),
    "credit_only_unconfirmed": N_("This amount adds credit only. Tick the box to confirm that is what you want, "
                                  "or choose another amount."),
    "session_expired": N_("Your session has expired. Please start again."),
    "promo_code_invalid": N_("This promo code is unknown, has expired or does not apply to this renewal. The price "
                             "below has not changed."),
    "price_changed": N_("The price changed since it was shown (it expired, or a promotion in it ended). Nothing "
                        "was charged: check the new price below and confirm again."),
    "not_found": N_("This page does not exist."),
    "method_not_allowed": N_("This page cannot be used this way. Go back and try again."),
    "validation_error": N_("This link or form is not valid. Go back and try again."),
    "admin_denied": N_("This token is not valid, or the name is missing."),
    "line_not_found": N_("No line has this number."),
    "not_in_review": N_("This payment is not waiting for review any more."),
    "refund_refused": N_("The payment service refused the refund: the payment is back in the queue, with its answer."),
    "refund_not_allowed": N_("This payment has nothing left to refund."),
    "refund_exceeds_balance": N_("The credit this payment bought has already been used: it cannot be taken back."),
    "nothing_captured": N_("The payment service holds no captured payment for this order, so nothing can be refunded "
                           "through it. Dismiss it, or refund it by hand (a bank transfer is always refunded by hand)."),
    "invalid_input": N_("Please fill in every field, with a reason."),
    # Recharge cards: one sentence for every PIN that does not redeem (unknown, used, blocked, expired, another
    # operator's, a typo), so a guesser learns nothing; staff see the exact reason.
    "voucher_invalid": N_("This recharge card PIN cannot be used. Check the digits, and that the card is for this "
                          "number's operator. If it still does not work, ask the seller or customer service."),
    "voucher_locked": N_("Too many wrong recharge card PINs were typed for this number, so recharge cards are paused "
                         "for it for now."),
    "voucher_validity_cap": N_("This card would take the number past the longest validity its operator allows. "
                               "It has not been used: keep it for later."),
    "vouchers_not_configured": N_("Recharge cards cannot be used here right now. Pay online or recharge in a store."),
}
# The store counter (/counter, admin/counter.py): what an agent or a store manager reads.
ERROR_TEXTS.update({
    "esim_unavailable": N_("No eSIM of this operator is in stock. Nothing was changed."),
    "esim_not_found": N_("This line has no eSIM."),
    "esim_link_invalid": N_("This eSIM link is not valid or has expired. Sign in with your number to see your eSIM."),
    "esim_not_configured": N_("eSIMs are not set up on this service yet."),
})
ERROR_TEXTS.update({
    "autorenew_method_not_found": N_("Choose one of this line's saved cards, or save one first."),
    "autorenew_link_invalid": N_("This auto-renew link is not valid. Sign in to see your line's auto-renew."),
})
ERROR_TEXTS.update({
    "privacy_subject_missing": N_("Give the number or the e-mail address the request is about."),
    "privacy_reason_missing": N_("Give the reason (the request's reference): the audit log records it."),
    "line_in_service": N_("This number's line is still in service. Tick 'close the line first' to end its service "
                          "(its balance is forfeited) and erase it."),
})
ERROR_TEXTS.update({
    "store_forbidden": N_("This belongs to another store: you can only see and act on your own store's."),
    "store_closed": N_("This store has left the network and sells nothing."),
    "store_operator_not_served": N_("This store does not sell this operator's renewals."),
    "store_method_invalid": N_("Choose how the customer pays: cash, card on the store's terminal, or a recharge "
                               "card."),
    "store_offer_required": N_("Choose an offer."),
    "store_terminal_ref_required": N_("Type the card terminal's authorisation reference from its slip."),
    "drawer_not_open": N_("Open your cash drawer first: cash sales go into it. Nothing was sold."),
    "drawer_already_closed": N_("This sale's cash drawer is already closed: it cannot be voided here any more."),
    "sale_not_found": N_("There is no such sale."),
    "sale_already_voided": N_("This sale is already voided."),
    "void_window_passed": N_("This sale is too old to void at the counter."),
    "void_voucher_sale": N_("A renewal paid with a recharge card cannot be voided: the card is spent."),
    "void_credit_used": N_("The customer has already used this credit: the sale cannot be voided."),
    "void_reason_required": N_("Say why the sale is voided."),
    "id_document_invalid": N_("Choose the kind of document the customer showed."),
    "id_country_invalid": N_("Choose the country that issued the document."),
    "id_last4_invalid": N_("Type only the last 4 letters or digits of the document's number, never the whole "
                           "number."),
    "id_check_required": N_("Check the customer's ID first: a sale needs an ID check of this line in the last "
                            "30 minutes. Nothing was sold."),
    "recommend_date_invalid": N_("Give a date from today on."),
    "sales_day_invalid": N_("This is not a date: today's sales are shown."),
})
ERROR_TEXTS["internal"] = N_("Something went wrong on our side. Nothing was charged twice; please try again.")
GENERIC_ERROR = N_("Something went wrong. Nothing was charged; please try again.")


def reader(request: Request) -> languages.Reader:
    """The page's language and formats: `?lang=` or the `lang` cookie (any BCP 47 tag: zh-CN, zh_CN, en-GB...),
    else Accept-Language; an unknown tag there is ignored, not refused (a page always renders)."""
    chosen = request.query_params.get("lang") or request.cookies.get("lang")
    return languages.negotiate(request.headers.get("accept-language"), chosen)


def language(request: Request) -> str:
    return reader(request).language


def reader_zone(request: Request, default: str = "UTC") -> str:
    """The browser's time zone (app.js keeps it in the `tz` cookie) when it names a real one, else `default`."""
    zone = request.cookies.get("tz") or ""
    return zone if len(zone) <= 64 and zone in _zones() else default


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def error_text(lang: str, code: str) -> str:
    return languages.gettext(lang, ERROR_TEXTS.get(code, GENERIC_ERROR))


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


class CsrfFailed(SimkeepError):
    code, status, message = "csrf", 403, "The form's CSRF token is missing or wrong."


def check_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    expected = request.session.get("csrf")
    # Bytes: compare_digest refuses non-ASCII str, and a hostile token must be a 403, not a 500.
    if not expected or not secrets.compare_digest(csrf_token.encode(), expected.encode()):
        raise CsrfFailed()


Csrf = Depends(check_csrf)
Lang = Annotated[str, Depends(language)]


class _LazyCsrfToken:
    """The CSRF token, made only when a template prints it: a page without a form starts no session (no row)."""

    def __init__(self, request: Request) -> None:
        self.request = request

    def __str__(self) -> str:
        return csrf_token(self.request)

    __html__ = __str__


def render(request: Request, template: str, *, status: int = 200, **context) -> HTMLResponse:
    who = reader(request)
    env = i18n.environment(who.language)
    html = env.get_template(template).render(request=request, csrf_token=_LazyCsrfToken(request),
                                             format_locale=who.locale, **context)
    response = HTMLResponse(html, status_code=status)
    chosen = languages.read(request.query_params.get("lang"))
    if chosen is not None:  # remembered in its clean form: "zh_cn" is kept as "zh-CN"
        response.set_cookie("lang", chosen.preference, max_age=365 * 86400, samesite="lax")
    response.headers["Content-Language"] = who.tag
    response.headers["Vary"] = "Accept-Language, Cookie"  # the language (and region) come from both
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def verified_numbers(request: Request) -> list[str]:
    """Numbers this browser proved it holds with an SMS code."""
    return list(request.session.get("numbers", []))


def add_verified_number(request: Request, msisdn: str) -> None:
    """A sign-in: the session id changes, so a cookie planted or copied before it is worth nothing after."""
    numbers = verified_numbers(request)
    if msisdn not in numbers:
        request.session["numbers"] = [*numbers, msisdn][-10:]
    sessions.rotate(request)
