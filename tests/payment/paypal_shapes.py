"""PayPal REST answers and webhook events, shaped like the samples in PayPal's documentation (Orders v2, Payments
v2, Webhooks v1 and the webhook event reference), with the ids and amounts a test needs filled in."""

from __future__ import annotations

from datetime import UTC, datetime

API = "https://api-m.sandbox.paypal.com"
WEB = "https://www.sandbox.paypal.com"
ORDER_ID = "5O190127TN364715T"
CAPTURE_ID = "3C679366HH908993F"
REFUND_ID = "1JU08902781691411"


def token(access_token: str = "A21AAFEpH4PsADK7qSS7pSRsgzfENtu-Q1ysgEDVDESseMHBYXVJYE8ovjj68elIDy8nF26AwPhfXTIeWAZHSLIsQkSYz9ifg",
          expires_in: int = 32400) -> dict:
    """POST /v1/oauth2/token, 200."""
    return {"scope": "https://uri.paypal.com/services/invoicing https://uri.paypal.com/services/payments/payment "
                     "https://uri.paypal.com/services/payments/refund https://uri.paypal.com/services/disputes/read-seller",
            "access_token": access_token, "token_type": "Bearer", "app_id": "APP-80W284485P519543T",
            "expires_in": expires_in, "nonce": "2020-04-03T15:35:36ZaYZlGvEkV4yVSz8g6bAKFoGSEzuy3CQcz3ljhibkOHg"}


def order_created(order_id: str = ORDER_ID) -> dict:
    """POST /v2/checkout/orders with payment_source.paypal.experience_context, 200/201 (Prefer: return=minimal)."""
    return {"id": order_id, "status": "PAYER_ACTION_REQUIRED", "payment_source": {"paypal": {}},
            "links": [{"href": f"{API}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"},
                      {"href": f"{WEB}/checkoutnow?token={order_id}", "rel": "payer-action", "method": "GET"}]}


def order_created_with_application_context(order_id: str = ORDER_ID) -> dict:
    """The older application_context shape: status CREATED and an `approve` link."""
    return {"id": order_id, "status": "CREATED",
            "links": [{"href": f"{API}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"},
                      {"href": f"{WEB}/checkoutnow?token={order_id}", "rel": "approve", "method": "GET"},
                      {"href": f"{API}/v2/checkout/orders/{order_id}", "rel": "update", "method": "PATCH"},
                      {"href": f"{API}/v2/checkout/orders/{order_id}/capture", "rel": "capture", "method": "POST"}]}


def capture(*, capture_id: str = CAPTURE_ID, order_id: str = ORDER_ID, value: str = "10.00", currency: str = "EUR",
            status: str = "COMPLETED", reason: str | None = None, custom_id: str | None = None) -> dict:
    """One entry of purchase_units[].payments.captures[] (also the body of GET /v2/payments/captures/{id})."""
    entry = {
        "id": capture_id, "status": status, "amount": {"currency_code": currency, "value": value},
        "final_capture": True, "disbursement_mode": "INSTANT",
        "seller_protection": {"status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"]},
        "seller_receivable_breakdown": {"gross_amount": {"currency_code": currency, "value": value},
                                        "paypal_fee": {"currency_code": currency, "value": "0.69"},
                                        "net_amount": {"currency_code": currency, "value": "9.31"}},
        "supplementary_data": {"related_ids": {"order_id": order_id}},
        "create_time": "2027-03-01T09:02:11Z", "update_time": "2027-03-01T09:02:11Z",
        "links": [{"href": f"{API}/v2/payments/captures/{capture_id}", "rel": "self", "method": "GET"},
                  {"href": f"{API}/v2/payments/captures/{capture_id}/refund", "rel": "refund", "method": "POST"},
                  {"href": f"{API}/v2/checkout/orders/{order_id}", "rel": "up", "method": "GET"}],
    }
    if reason:
        entry["status_details"] = {"reason": reason}
    if custom_id:
        entry["custom_id"] = custom_id
    return entry


def order(*, order_id: str = ORDER_ID, status: str = "COMPLETED", captures: list[dict] | None = None,
          value: str = "10.00", currency: str = "EUR", custom_id: str = "attempt-1",
          create_time: str | None = None) -> dict:
    """GET /v2/checkout/orders/{id}, 200 — and the capture answer (201, Prefer: return=representation)."""
    unit = {"reference_id": "default", "amount": {"currency_code": currency, "value": value},
            "payee": {"email_address": "merchant@example.com", "merchant_id": "C92NPPXDJSMXE"},
            "custom_id": custom_id, "invoice_id": custom_id}
    if captures is not None:
        unit["payments"] = {"captures": captures}
    body = {"id": order_id, "intent": "CAPTURE", "status": status, "purchase_units": [unit],
            "create_time": create_time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "links": [{"href": f"{API}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"}]}
    if status in ("APPROVED", "COMPLETED"):
        body["payment_source"] = {"paypal": {"email_address": "sb-buyer@personal.example.com",
                                             "account_id": "QYR5Z8XDVJNXQ", "account_status": "VERIFIED",
                                             "name": {"given_name": "Camille", "surname": "Martin"},
                                             "address": {"country_code": "FR"}}}
        body["payer"] = {"name": {"given_name": "Camille", "surname": "Martin"},
                         "email_address": "sb-buyer@personal.example.com", "payer_id": "QYR5Z8XDVJNXQ",
                         "address": {"country_code": "FR"}}
    if status in ("CREATED", "PAYER_ACTION_REQUIRED"):
        body["links"].append({"href": f"{WEB}/checkoutnow?token={order_id}", "rel": "payer-action", "method": "GET"})
    if status == "APPROVED":
        body["links"].append({"href": f"{API}/v2/checkout/orders/{order_id}/capture", "rel": "capture",
                              "method": "POST"})
    return body


def completed_order(**kwargs) -> dict:
    value, currency = kwargs.pop("value", "10.00"), kwargs.pop("currency", "EUR")
    return order(captures=[capture(value=value, currency=currency, order_id=kwargs.get("order_id", ORDER_ID))],
                 value=value, currency=currency, **kwargs)


def error(name: str, issue: str, description: str, *, redirect_order: str | None = None) -> dict:
    """A PayPal error body (4xx)."""
    links = [{"href": f"https://developer.paypal.com/docs/api/orders/v2/#error-{issue}", "rel": "information_link",
              "method": "GET"}]
    if redirect_order:
        links.append({"href": f"{WEB}/checkoutnow?token={redirect_order}", "rel": "redirect", "method": "GET"})
    return {"name": name, "details": [{"issue": issue, "description": description}],
            "message": "The requested action could not be performed, semantically incorrect, or failed business "
                       "validation.", "debug_id": "fa9ffe64391d4", "links": links}


INSTRUMENT_DECLINED = error(
    "UNPROCESSABLE_ENTITY", "INSTRUMENT_DECLINED",
    "The instrument presented was either declined by the processor or bank, or it can't be used for this payment.",
    redirect_order=ORDER_ID)
ORDER_NOT_APPROVED = error("UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED",
                           "Payer has not yet approved the Order for payment. Please redirect the payer to the "
                           "'rel':'approve' url returned as part of the HATEOAS links within the Create Order call "
                           "or provide a valid payment_source in the request.")
ORDER_ALREADY_CAPTURED = error("UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED", "Order already captured. If "
                               "'intent=CAPTURE' only one capture per order is allowed.")
REFUND_AMOUNT_EXCEEDED = error("UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED", "The refund amount must be less "
                               "than or equal to the capture amount that has not yet been refunded.")
CURRENCY_NOT_SUPPORTED = error("UNPROCESSABLE_ENTITY", "CURRENCY_NOT_SUPPORTED",
                               "Currency code is not currently supported.")
NOT_FOUND = {"name": "RESOURCE_NOT_FOUND",
             "details": [{"field": "order_id", "value": "X", "location": "path", "issue": "INVALID_RESOURCE_ID",
                          "description": "Specified resource ID does not exist. Please check the resource ID and try "
                                         "again."}],
             "message": "The specified resource does not exist.", "debug_id": "f4b2c9c4e3b55"}
INTERNAL_SERVER_ERROR = {"name": "INTERNAL_SERVER_ERROR", "message": "An internal server error has occurred.",
                         "debug_id": "90957fca61718",
                         "links": [{"href": "https://developer.paypal.com/api/orders/v2/#error-INTERNAL_SERVER_ERROR",
                                    "rel": "information_link"}]}
INVALID_TOKEN = {"error": "invalid_token", "error_description": "Token signature verification failed"}


def refund(*, refund_id: str = REFUND_ID, capture_id: str = CAPTURE_ID, value: str = "10.00", currency: str = "EUR",
           status: str = "COMPLETED") -> dict:
    """POST /v2/payments/captures/{id}/refund, 201 (Prefer: return=representation)."""
    return {"id": refund_id, "amount": {"currency_code": currency, "value": value}, "status": status,
            "seller_payable_breakdown": {"gross_amount": {"currency_code": currency, "value": value},
                                         "paypal_fee": {"currency_code": currency, "value": "0.00"},
                                         "net_amount": {"currency_code": currency, "value": value},
                                         "total_refunded_amount": {"currency_code": currency, "value": value}},
            "create_time": "2027-03-02T10:13:29-07:00", "update_time": "2027-03-02T10:13:29-07:00",
            "links": [{"href": f"{API}/v2/payments/refunds/{refund_id}", "rel": "self", "method": "GET"},
                      {"href": f"{API}/v2/payments/captures/{capture_id}", "rel": "up", "method": "GET"}]}


VERIFIED = {"verification_status": "SUCCESS"}
NOT_VERIFIED = {"verification_status": "FAILURE"}

HEADERS = {  # as simkeep's webhook endpoint passes them on: lower-cased
    "paypal-transmission-id": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
    "paypal-transmission-time": "2027-03-01T09:02:15Z",
    "paypal-transmission-sig": "lmI95Jx3Y9nhR5SJWlHVIWpg4AgFk7n9bCHSRxbrd8A9zrhdu2rMyFrmz+Zjh3s3boXB07VXCXUZy/UFzUlnGJn"
                               "0wDugt7FlSvdKeIJenLRemUxYCPVoEZzg9VFNqOa48gMkvF+XTpxBeUx/kWy6B5cp7GkT2+pOowfRK7OaynuxUo"
                               "KW3JcMWw272VKjLTtTAShncla7tGF+55rxyt2KNZIIqxNMJ48RDZheGU5w1npu9dZHnPgTXB9iomeVRoD8O/jhR"
                               "pnKsGrDschyNdkeh81BJJMH4Ctc6lnCCquoP/GzCzz33MMsNdid7vL/NIWaCsekQpW26FpWPi/tfj8nLA==",
    "paypal-cert-url": f"{API}/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270",
    "paypal-auth-algo": "SHA256withRSA",
    "paypal-auth-version": "v2",
    "content-type": "application/json",
}


def _event(event_id: str, event_type: str, resource_type: str, summary: str, resource: dict) -> dict:
    return {"id": event_id, "event_version": "1.0", "create_time": "2027-03-01T09:02:14.940Z",
            "resource_type": resource_type, "resource_version": "2.0", "event_type": event_type, "summary": summary,
            "resource": resource,
            "links": [{"href": f"{API}/v1/notifications/webhooks-events/{event_id}", "rel": "self", "method": "GET",
                       "encType": "application/json"},
                      {"href": f"{API}/v1/notifications/webhooks-events/{event_id}/resend", "rel": "resend",
                       "method": "POST", "encType": "application/json"}]}


def capture_completed_event(*, event_id: str = "WH-58D329510W468432D-8HN650336L201105X", order_id: str = ORDER_ID,
                            value: str = "10.00", currency: str = "EUR", custom_id: str = "attempt-1") -> dict:
    return _event(event_id, "PAYMENT.CAPTURE.COMPLETED", "capture", f"Payment completed for € {value} {currency}",
                  capture(order_id=order_id, value=value, currency=currency, custom_id=custom_id))


def capture_denied_event(*, event_id: str = "WH-4SW78779LY2325805-07E03580SX1414828", order_id: str = ORDER_ID) -> dict:
    resource = capture(order_id=order_id, status="DECLINED")
    return _event(event_id, "PAYMENT.CAPTURE.DENIED", "capture", "A EUR 10.00 EUR capture payment was denied",
                  resource)


def capture_pending_event(*, event_id: str = "WH-7Y7254563A4550640-11V2185806837105M",
                          order_id: str = ORDER_ID) -> dict:
    return _event(event_id, "PAYMENT.CAPTURE.PENDING", "capture", "Payment pending for EUR 10.00 EUR",
                  capture(order_id=order_id, status="PENDING", reason="PENDING_REVIEW"))


def order_approved_event(*, event_id: str = "WH-COC11055RA711503B-4YM959094A144403T", order_id: str = ORDER_ID) -> dict:
    resource = order(order_id=order_id, status="APPROVED")
    return _event(event_id, "CHECKOUT.ORDER.APPROVED", "checkout-order", "An order has been approved by buyer",
                  resource)


def order_voided_event(*, event_id: str = "WH-55TG7562XN2588878-8YH955435R661687G", order_id: str = ORDER_ID) -> dict:
    return _event(event_id, "CHECKOUT.ORDER.VOIDED", "checkout-order", "An order has been voided",
                  order(order_id=order_id, status="VOIDED"))


def capture_refunded_event(*, event_id: str = "WH-1GE84257G0350133W-6RW800890C634293G", value: str = "10.00",
                           currency: str = "EUR", capture_id: str = CAPTURE_ID) -> dict:
    """As in PayPal's event reference: the refund names its capture through the `up` link, not the order."""
    return _event(event_id, "PAYMENT.CAPTURE.REFUNDED", "refund", f"A {currency} {value} capture payment was refunded",
                  refund(value=value, currency=currency, capture_id=capture_id))


def dispute_created_event(*, event_id: str = "WH-4M0448861G563140B-9EX36365822141321",
                          capture_id: str = CAPTURE_ID) -> dict:
    resource = {
        "disputed_transactions": [{"seller_transaction_id": capture_id,
                                   "seller": {"merchant_id": "C92NPPXDJSMXE", "name": "simkeep demo operator"},
                                   "items": [], "seller_protection_eligible": True}],
        "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED", "dispute_channel": "INTERNAL",
        "update_time": "2027-03-05T13:35:44.000Z", "create_time": "2027-03-05T13:35:44.000Z",
        "messages": [{"posted_by": "BUYER", "time_posted": "2027-03-05T13:35:52.000Z", "content": "Pas reçu."}],
        "links": [{"href": f"{API}/v1/customer/disputes/PP-000-042-663-135", "rel": "self", "method": "GET"},
                  {"href": f"{API}/v1/customer/disputes/PP-000-042-663-135/send-message", "rel": "send_message",
                   "method": "POST"}],
        "dispute_amount": {"currency_code": "EUR", "value": "10.00"},
        "dispute_id": "PP-000-042-663-135", "dispute_life_cycle_stage": "INQUIRY", "status": "OPEN"}
    return _event(event_id, "CUSTOMER.DISPUTE.CREATED", "dispute",
                  "A new dispute opened with Case # PP-000-042-663-135", resource)
