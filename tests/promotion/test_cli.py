"""`simkeep promotion list|create|start|pause|resume|report`, acting for a named staff member (--as): the window
read in the operator's zone, refusals with nothing made, and the report's exact figures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from simkeep.audit.models import AuditEntry
from simkeep.promotion.models import Promotion
from tests.conftest import T0
from tests.factories.lines import make_line, top_up
from tests.factories.staff import make_staff
from tests.web import freeze_clock

NOW = T0 + timedelta(days=1)


@pytest.fixture
def people(db, settings, monkeypatch):
    freeze_clock(monkeypatch, NOW)
    make_staff(db, settings, username="fiona", role="finance", now=T0)
    make_staff(db, settings, username="sam", role="support", now=T0)


def campaigns(db) -> list[Promotion]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(Promotion)))


def create(cli, *extra: str, code: int = 0) -> str:
    return cli("promotion", "create", "Spring -20%", "--benefit", "percent_off", "--value", "20",
               "--starts", "2027-03-02 00:00", "--ends", "2027-04-01 00:00", "--operator", "fr-orange-mobicarte",
               "--reason", "spring", *extra, code=code)


def test_create_start_pause_resume_and_report(cli, db, people):
    out = create(cli, "--as", "fiona", "--code", "spring20", "--max-uses", "100", "--language", "fr",
                 "--channel", "api", "--channel", "portal", "--per-line-limit", "1")
    [promo] = campaigns(db)
    assert f"campaign {promo.id} (Spring -20%) created as a draft: 2027-03-02 00:00 → 2027-04-01 00:00 " \
           "Europe/Paris" in out
    # The operator's zone: midnight in Paris is 23:00 UTC in winter, 22:00 in summer.
    assert (promo.starts_at, promo.ends_at) == (datetime(2027, 3, 1, 23, tzinfo=UTC), datetime(2027, 3, 31, 22,
                                                                                                tzinfo=UTC))
    assert (promo.code, promo.max_uses, promo.languages, promo.channels, promo.per_line_limit) == (
        "SPRING20", 100, ["fr"], ["api", "portal"], 1)
    assert "is now active" in cli("promotion", "start", str(promo.id), "--reason", "go", "--as", "fiona")
    assert "is now paused" in cli("promotion", "pause", str(promo.id), "--reason", "hold on", "--as", "fiona")
    assert "is now active" in cli("promotion", "resume", str(promo.id), "--reason", "again", "--as", "fiona")
    with db.transaction(write=False) as session:
        actions = [(e.action, e.actor, e.reason) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.subject_type == "promotion")
            .order_by(AuditEntry.at, AuditEntry.id))]  # the clock is frozen: ids (UUIDv7, increasing) break ties
    assert actions == [("promotion.create", "staff:fiona", "spring"), ("promotion.start", "staff:fiona", "go"),
                       ("promotion.pause", "staff:fiona", "hold on"), ("promotion.resume", "staff:fiona", "again")]
    listed = cli("promotion", "list")
    assert str(promo.id) in listed and "SPRING20" in listed and "0/100" in listed
    make_line(db, msisdn="+33612345601", language="fr", now=T0)
    make_line(db, msisdn="+33612345602", language="en", now=T0)
    report = cli("promotion", "report", str(promo.id))
    assert "renewals it brought: 0; payments holding it: 0" in report
    assert "eligible now: 1 live lines (active 1, grace 0, suspended 0); e.g. +336******01" in report


def test_the_report_after_renewals(cli, db, people):
    create(cli, "--as", "fiona", "--currency", "EUR")
    [promo] = campaigns(db)
    cli("promotion", "start", str(promo.id), "--reason", "go", "--as", "fiona")
    make_line(db, msisdn="+33612345601", now=T0)
    top_up(db, msisdn="+33612345601", offer_id="fr-orange-mobicarte-25", now=NOW)
    top_up(db, msisdn="+33612345601", offer_id="fr-orange-mobicarte-10", now=NOW + timedelta(days=1))
    report = re.sub(r"[\s│]+", " ", cli("promotion", "report", str(promo.id)))
    assert "renewals it brought: 2; payments holding it: 0" in report
    assert "revenue €28.00 (list price €35.00); cost €7.00; in the ledger's promotion expense €7.00; average " \
           "discount €3.50; bonus days 0" in report
    assert "2027-03-02 1 €5.00 €20.00" in report and "2027-03-03 1 €2.00 €8.00" in report


def test_refusals_make_nothing(cli, db, people):
    out = create(cli, "--as", "sam", code=1)
    assert "not_permitted" in out and "sam is support" in out
    assert "--timezone: an IANA zone" in create(cli, "--as", "fiona", "--timezone", "Mars/Olympus", code=1)
    assert "--value: a percentage 1-100" in cli(
        "promotion", "create", "x", "--benefit", "amount_off", "--value", "abc", "--currency", "EUR",
        "--starts", "2027-03-02 00:00", "--ends", "2027-04-01 00:00", "--reason", "r", "--as", "fiona", code=1)
    assert "ends_at: must be after starts_at" in cli(
        "promotion", "create", "x", "--benefit", "bonus_days", "--value", "5", "--starts", "2027-03-02 00:00",
        "--ends", "2027-03-01 00:00", "--reason", "r", "--as", "fiona", code=1)
    assert campaigns(db) == []
    create(cli, "--as", "fiona")
    [promo] = campaigns(db)
    assert "invalid_input" in cli("promotion", "pause", str(promo.id), "--reason", "r", "--as", "fiona", code=1)
    assert "promotion_not_found" in cli("promotion", "report", "nope", code=1)
    assert campaigns(db)[0].state == "draft"


def test_help_names_every_command(cli):
    out = cli("promotion", "--help")
    for command in ("list", "create", "start", "pause", "resume", "report"):
        assert command in out
    assert "--per-line-limit" in cli("promotion", "create", "--help")
