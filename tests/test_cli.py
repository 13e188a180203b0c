import json
from datetime import datetime, timedelta

from sqlalchemy import select

from simkeep.auth.models import ApiKey
from simkeep.auth.service import key_hash
from simkeep.config import get_settings
from simkeep.core.clock import add_days
from simkeep.notification.models import OutboxMessage
from tests.factories.snapshot import snapshot


def show(cli, msisdn: str) -> dict:
    return json.loads(cli("line", "show", msisdn))


def test_help_lists_every_command(cli):
    out = cli("--help")
    for command in ("db", "catalog", "line", "topup", "charge", "sweep", "worker", "ledger", "api-key", "demo", "run",
                    "voucher", "reseller"):
        assert command in out


def test_a_line_walks_every_state_with_sweep_now_steps(cli, db):
    cli("line", "create", "06 12 34 56 78", "--operator", "fr-lebara", "--language", "zh_CN")
    cli("topup", "+33612345678", "fr-lebara-10", "--key", "k1")
    line = show(cli, "+33612345678")
    assert (line["state"], line["balance"]) == ("active", {"amount_minor": 1000, "currency": "EUR"})
    # Lebara: grace 30, suspended 30, quarantine 45 days; dates are computed, not typed in.
    end = datetime.fromisoformat(line["validity_ends_at"])
    steps = [(end, "grace"), (add_days(end, 30, "Europe/Paris"), "suspended"),
             (datetime.fromisoformat(line["number_loss_at"]), "deactivated"),
             (add_days(datetime.fromisoformat(line["number_loss_at"]), 1, "Europe/Paris"), "quarantine"),
             (datetime.fromisoformat(line["available_at"]), "available")]
    for at, state in steps:
        for _ in range(2):  # each sweep run twice
            cli("sweep", "--now", at.isoformat())
            cli("sweep", "--now", (at + timedelta(hours=1)).isoformat())
        assert show(cli, "+33612345678")["state"] == state
    with db.transaction(write=False) as session:
        reminders = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "reminder")).all()
    assert sorted(m.payload["days_before"] for m in reminders) == [30]  # only the sweeps above ran
    assert show(cli, "+33612345678")["balance"]["amount_minor"] == 0
    cli("ledger", "verify")
    # The number is back in the pool.
    cli("line", "create", "+33612345678", "--operator", "fr-orange-mobicarte")
    assert show(cli, "+33612345678")["operator_id"] == "fr-orange-mobicarte"


def test_line_language_is_a_bcp47_tag_shown_in_its_canonical_form(cli, db):
    cli("line", "create", "06 12 34 56 78", "--operator", "fr-lebara", "--language", "zh-Hans")
    assert show(cli, "+33612345678")["language"] == "zh-CN"
    before = snapshot(db)
    assert "unsupported_language" in cli("line", "create", "06 12 34 56 79", "--operator", "fr-lebara",
                                         "--language", "de-DE", code=1)
    assert snapshot(db) == before


def test_sweep_refuses_an_instant_without_offset(cli, db):
    before = snapshot(db)
    out = cli("sweep", "--now", "2027-03-12T09:00:00", code=2)
    assert "no UTC offset" in out
    assert snapshot(db) == before


def test_bad_topup_prints_a_code_and_changes_nothing(cli, db):
    cli("line", "create", "+33612345678", "--operator", "fr-orange-mobicarte")
    before = snapshot(db)
    assert "offer_not_found" in cli("topup", "+33612345678", "nope", "--key", "k", code=1)
    assert "insufficient_balance" in cli("charge", "+33612345678", "1", "--key", "c", code=1)
    assert "invalid_msisdn" in cli("line", "create", "+33141234567", "--operator", "fr-orange-mobicarte", code=1)
    assert snapshot(db) == before


def test_api_key_is_printed_once_and_stored_hashed(cli, db):
    out = cli("api-key", "create", "--role", "agent", "--name", "store 12")
    plaintext = out.strip().splitlines()[-1]
    assert plaintext.startswith("sk_agent_")
    with db.transaction(write=False) as session:
        [key] = session.scalars(select(ApiKey)).all()
    assert key.key_hash == key_hash(get_settings().key("api_key"), plaintext)
    assert plaintext not in json.dumps([key.name, key.role, key.key_hash])
    assert "role must be one of" in cli("api-key", "create", "--role", "root", code=1)


def test_a_reseller_key_acts_for_one_reseller(cli, db):
    from tests.conftest import T0
    from tests.factories.vouchers import make_reseller

    reseller = make_reseller(db, code="TABAC-RIVOLI", now=T0)
    out = cli("api-key", "create", "--role", "reseller", "--reseller", "tabac-rivoli", "--name", "till 1")
    assert out.splitlines()[0].endswith("(till 1) for reseller TABAC-RIVOLI:")
    with db.transaction(write=False) as session:
        [key] = session.scalars(select(ApiKey)).all()
    assert (key.role, key.reseller_id) == ("reseller", reseller.id)
    assert "add --reseller CODE" in cli("api-key", "create", "--role", "reseller", code=1)
    assert "only a reseller key acts for a reseller" in cli("api-key", "create", "--role", "agent", "--reseller",
                                                            "TABAC-RIVOLI", code=1)
    assert "reseller_not_found" in cli("api-key", "create", "--role", "reseller", "--reseller", "NOPE", code=1)
    with db.transaction(write=False) as session:
        assert len(session.scalars(select(ApiKey)).all()) == 1
