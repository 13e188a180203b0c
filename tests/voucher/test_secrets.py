"""No PIN anywhere but where it is handed out: not in any log line (structlog, logging, stdout and stderr) while
cards are bought, redeemed, mistyped and locked, nor in the SMS sent, nor in plaintext in any column of any table."""

from __future__ import annotations

import logging
from datetime import timedelta

import structlog
from sqlalchemy import Text, cast, func, or_, select

from simkeep.models import Base
from simkeep.notification.senders.file import FileSender
from simkeep.notification.tasks import deliver_due
from simkeep.voucher import pins
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.vouchers import make_reseller, sold_cards
from tests.voucher import api_key, post_redeem
from tests.web import freeze_clock


def rows_containing(db, needles: list[str]) -> dict[str, int]:
    """Per table.column, the rows whose value, read as text (bytes as hex on PostgreSQL), contains a needle."""
    found = {}
    with db.transaction(write=False) as session:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                as_text = cast(column, Text)
                hits = session.scalar(select(func.count()).select_from(table).where(
                    or_(*[as_text.contains(needle) for needle in needles])))
                if hits:
                    found[f"{table.name}.{column.name}"] = hits
    return found


def forms_of(pin: str) -> list[str]:
    """The PIN as typed, as printed, and its ASCII bytes in hex (how a bytes column reads as text)."""
    return [pin, pins.grouped(pin), pin.encode().hex()]


def test_no_pin_in_logs_messages_or_the_database(client, db, settings, monkeypatch, caplog, capsys, tmp_path):
    clock = freeze_clock(monkeypatch, T0)
    make_line(db, now=T0)
    reseller = make_reseller(db, now=T0)
    printed = sold_cards(db, quantity=2, now=T0)
    key = api_key(db, settings, reseller_id=reseller.id)
    typo = printed[1][1][:-1] + str((int(printed[1][1][-1]) + 1) % 10)
    unknown = "123456789012347"
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        bought = client.post("/api/v1/reseller/epins", json={"offer_id": "fr-orange-mobicarte-10", "quantity": 3},
                             headers={**key, "Idempotency-Key": "buy"})
        replayed = client.post("/api/v1/reseller/epins", json={"offer_id": "fr-orange-mobicarte-10", "quantity": 3},
                               headers={**key, "Idempotency-Key": "buy"})
        epins = [c["pin"] for c in bought.json()["pins"]]
        assert replayed.json()["pins"] == bought.json()["pins"]
        assert post_redeem(client, printed[0][1], key="a").status_code == 201
        assert post_redeem(client, epins[0], key="b", headers=key).status_code == 201
        for n, wrong in enumerate([typo, unknown, printed[0][1], unknown, unknown, unknown]):
            post_redeem(client, wrong, key=f"w{n}")
        assert post_redeem(client, epins[1], key="locked").status_code == 429
        clock.advance(days=1)
        assert deliver_due(db, FileSender(tmp_path / "messages.log", echo=True)) == 2
    secrets = [*(pin for _serial, pin in printed), *epins, typo, unknown]
    out, err = capsys.readouterr()
    sms = (tmp_path / "messages.log").read_text("utf-8")
    assert "voucher" in sms  # the confirmations went out (the card's serial, never its PIN)
    everything = "\n".join([repr(logs), caplog.text, out, err, sms])
    assert [s for s in secrets if any(form in everything for form in forms_of(s))] == []
    assert rows_containing(db, [form for s in secrets for form in forms_of(s)]) == {}


def test_the_scan_finds_a_pin_when_one_is_there(db, monkeypatch):
    """The scanner itself: a PIN written into a text column is found."""
    freeze_clock(monkeypatch, T0)
    make_reseller(db, now=T0)
    pin = sold_cards(db, quantity=1, now=T0 + timedelta(minutes=1))[0][1]
    from simkeep.audit import service as audit

    with db.transaction() as session:
        audit.record(session, actor="staff:careless", action="note", subject_type="voucher", subject_id="1",
                     reason=f"customer read {pins.grouped(pin)} on the phone", now=T0)
    assert rows_containing(db, forms_of(pin)) == {"audit_log.reason": 1}
