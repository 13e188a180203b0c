"""A browser without a browser: a TestClient with its own cookies, a CSRF token, and the portal's steps."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from simkeep.notification.models import OutboxMessage
from simkeep.payment.models import PaymentAttempt

MSISDN = "+33612345678"
OFFER_10 = "fr-orange-mobicarte-10"


def csrf(client: TestClient) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/recharge").text).group(1)


def latest_code(db, msisdn: str = MSISDN) -> str:
    with db.transaction(write=False) as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "otp.code",
                                                           OutboxMessage.recipient == msisdn)
                               .order_by(OutboxMessage.created_at, OutboxMessage.id)).all()
    return rows[-1].payload["code"]


def attempts(db) -> list[PaymentAttempt]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(PaymentAttempt).order_by(PaymentAttempt.created_at)))


def to_summary(client: TestClient, *, msisdn: str = MSISDN, method: str = "card", offer: str = OFFER_10) -> str:
    """Offer -> number -> method -> the summary's HTML (no code asked)."""
    token = csrf(client)
    client.post("/recharge/offer", data={"offer": offer, "csrf_token": token})
    answer = client.post("/recharge/number", data={"msisdn": msisdn, "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/recharge/method", answer.text
    client.post("/recharge/method", data={"method": method, "csrf_token": token})
    return client.get("/recharge/summary").text


def confirm(client: TestClient) -> str:
    token = csrf(client)
    key = re.search(r'name="checkout_key" value="([^"]+)"', client.get("/recharge/summary").text).group(1)
    answer = client.post("/recharge/confirm", data={"checkout_key": key, "csrf_token": token})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def sign_in(client: TestClient, db, msisdn: str = MSISDN) -> None:
    token = csrf(client)
    client.post("/signin", data={"msisdn": msisdn, "next": "/lines", "csrf_token": token})
    answer = client.post("/signin/code", data={"code": latest_code(db, msisdn), "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/lines", answer.text
