"""Secrets as an attacker and a careless operator would try them: forging with the key that used to be the public
default, rotating keys, starting production with missing, weak or published secrets, and the demo's own keys."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import uuid
from concurrent.futures import ProcessPoolExecutor

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import insert

from simkeep.auth import service as auth
from simkeep.auth.models import ApiKey
from simkeep.config import ConfigError, Settings, _derive, check, get_settings, with_demo_secrets
from simkeep.core.ids import new_id
from simkeep.main import create_app
from simkeep.payment.models import METHODS
from simkeep.payment.providers import available_methods, routes
from simkeep.receipt import service as receipts
from tests.conftest import ADMIN_TOKEN, T0, TEST_SECRET
from tests.factories.lines import make_line, top_up

OLD_DEFAULT = "simkeep-dev-secret-change-me"  # the master secret every clone shared until issue 9
OLD_SANDBOX_DEFAULT = "whsec_sandbox_dev_change_me"
PREVIOUS = "previous-secret-key-fedcba9876543210fedcba9876543210"
MSISDN = "+33612345678"


def forged_session(key: str, data: dict) -> str:
    """A cookie as Starlette's session middleware signs it."""
    return TimestampSigner(key).sign(base64.b64encode(json.dumps(data).encode())).decode()


def a_receipt(db):
    line = make_line(db, now=T0)
    topup = top_up(db, now=T0).topup
    with db.transaction() as session:
        return receipts.issue(session, receipt_id=uuid.uuid4(), topup=topup, operator_id=line.operator_id,
                              line_id=line.id, payment_method="card", language="fr", now=T0)


# -- forging with the old public default ----------------------------------------------------------------------------

@pytest.mark.parametrize("key", [OLD_DEFAULT, _derive(OLD_DEFAULT, "session")], ids=["default", "derived"])
def test_a_session_cookie_forged_with_the_old_default_key_is_refused(db, settings, key):
    make_line(db, now=T0)
    with TestClient(create_app(settings, db), follow_redirects=False) as client:
        client.cookies.set("simkeep_session", forged_session(key, {"staff": "mallory", "numbers": [MSISDN]}))
        back_office, lines_page = client.get("/admin/review"), client.get("/lines")
    assert (back_office.status_code, back_office.headers["location"]) == (303, "/admin")
    assert lines_page.status_code == 303 and lines_page.headers["location"].startswith("/signin")


def test_a_receipt_link_forged_with_the_old_default_key_is_refused(db, client, settings):
    receipt = a_receipt(db)
    for key in (OLD_DEFAULT, _derive(OLD_DEFAULT, "receipt")):
        page = client.get(f"/receipts/{receipts.token_for(key, receipt.id)}")
        assert page.status_code == 404 and receipt.number not in page.text
    genuine = client.get(f"/receipts/{receipts.token_for(settings.key('receipt'), receipt.id)}")
    assert genuine.status_code == 200 and receipt.number in genuine.text


def test_an_api_key_hashed_under_the_old_default_key_is_refused(db, client):
    plaintext = "sk_admin_" + "x" * 43
    for key in (OLD_DEFAULT, _derive(OLD_DEFAULT, "api_key")):
        with db.transaction() as session:
            session.execute(insert(ApiKey.__table__), [dict(id=new_id(), name="planted", role="admin", created_at=T0,
                                                            key_hash=auth.key_hash(key, plaintext), revoked_at=None)])
    answer = client.get("/api/v1/operators", headers={"Authorization": f"Bearer {plaintext}"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "unauthorized")


# -- rotation -------------------------------------------------------------------------------------------------------

def test_a_receipt_link_signed_with_a_previous_key_verifies_while_listed_and_not_after(db, settings):
    receipt = a_receipt(db)
    old_link = f"/receipts/{receipts.token_for(Settings(secret_key=PREVIOUS).key('receipt'), receipt.id)}"
    rotated = settings.model_copy(update={"previous_secret_keys": [PREVIOUS]})
    with TestClient(create_app(rotated, db)) as client:
        assert client.get(old_link).status_code == 200
    with TestClient(create_app(settings, db)) as client:  # the grace period is over: PREVIOUS removed
        assert client.get(old_link).status_code == 404
    # New links are signed with the current key only.
    assert receipts.token_for(rotated.key("receipt"), receipt.id) == receipts.token_for(settings.key("receipt"),
                                                                                        receipt.id)


def test_an_api_key_made_under_a_previous_key_works_while_listed_and_not_after(db, settings):
    with db.transaction() as session:
        _row, plaintext = auth.create_api_key(session, name="before rotation", role="agent",
                                              secret=Settings(secret_key=PREVIOUS).key("api_key"), now=T0)
    bearer = {"Authorization": f"Bearer {plaintext}"}
    rotated = settings.model_copy(update={"previous_secret_keys": [PREVIOUS]})
    with TestClient(create_app(rotated, db)) as client:
        assert client.get("/api/v1/operators", headers=bearer).status_code == 200
    with TestClient(create_app(settings, db)) as client:
        assert client.get("/api/v1/operators", headers=bearer).status_code == 401


def test_verifying_keys_are_per_purpose_and_put_the_current_key_first():
    cfg = Settings(secret_key=TEST_SECRET, previous_secret_keys=[PREVIOUS])
    assert cfg.verifying_keys("receipt") == [cfg.key("receipt"), Settings(secret_key=PREVIOUS).key("receipt")]
    assert len({cfg.key(p) for p in ("session", "receipt", "api_key", "otp")}) == 4
    assert TEST_SECRET not in cfg.verifying_keys("session")


# -- the production check -------------------------------------------------------------------------------------------

def problems(**values) -> list[str]:
    try:
        check(Settings(**values))
    except ConfigError as exc:
        return exc.problems
    return []


def test_the_tests_settings_pass_the_check(settings):
    check(settings)


@pytest.mark.parametrize(("values", "expected"), [
    ({}, ["SIMKEEP_SECRET_KEY is not set"]),
    ({"secret_key": OLD_DEFAULT}, ["SIMKEEP_SECRET_KEY is a value published in simkeep's source: anyone can forge "
                                   "with it"]),
    ({"secret_key": "short-but-random-Zq8"}, ["SIMKEEP_SECRET_KEY is too short (20 characters; at least 32)"]),
    ({"secret_key": "a" * 64}, ["SIMKEEP_SECRET_KEY is too easy to guess (fewer than 8 different characters)"]),
    ({"secret_key": TEST_SECRET, "admin_token": "test-admin-token"},
     ["SIMKEEP_ADMIN_TOKEN is a value published in simkeep's source: anyone can forge with it"]),
    ({"secret_key": TEST_SECRET, "admin_token": "hunter2"},
     ["SIMKEEP_ADMIN_TOKEN is too short (7 characters; at least 32)"]),
    ({"secret_key": TEST_SECRET, "previous_secret_keys": [PREVIOUS, OLD_DEFAULT]},
     ["SIMKEEP_PREVIOUS_SECRET_KEYS[1] is a value published in simkeep's source: anyone can forge with it"]),
    ({"secret_key": TEST_SECRET, "sandbox_enabled": True},
     ["SIMKEEP_SANDBOX_WEBHOOK_SECRET is not set"]),
    ({"secret_key": TEST_SECRET, "sandbox_enabled": True, "sandbox_webhook_secret": OLD_SANDBOX_DEFAULT},
     ["SIMKEEP_SANDBOX_WEBHOOK_SECRET is a value published in simkeep's source: anyone can forge with it"]),
    ({"secret_key": TEST_SECRET, "payment_routes": {"*": {"card": "stripe"}}},
     ["SIMKEEP_STRIPE_API_KEY is not set (SIMKEEP_PAYMENT_ROUTES uses stripe)",
      "SIMKEEP_STRIPE_PUBLISHABLE_KEY is not set (SIMKEEP_PAYMENT_ROUTES uses stripe)",
      "SIMKEEP_STRIPE_WEBHOOK_SECRET is not set (SIMKEEP_PAYMENT_ROUTES uses stripe)"]),
    ({"secret_key": TEST_SECRET, "payment_routes": {"fr-free-2eur": {"paypal": "paypal"}}, "paypal_client_id": "id"},
     ["SIMKEEP_PAYPAL_CLIENT_SECRET is not set (SIMKEEP_PAYMENT_ROUTES uses paypal)",
      "SIMKEEP_PAYPAL_WEBHOOK_ID is not set (SIMKEEP_PAYMENT_ROUTES uses paypal)"]),
    ({"secret_key": TEST_SECRET, "payment_routes": {"*": {"card": "sandbox"}}, "sandbox_webhook_secret": "w" * 40},
     ["SIMKEEP_PAYMENT_ROUTES routes a method to the sandbox, which is off (set SIMKEEP_SANDBOX_ENABLED=true to "
      "use it outside demo mode)"]),
    ({"secret_key": TEST_SECRET, "payment_routes": {"*": {"card": "stipe"}}},
     ["SIMKEEP_PAYMENT_ROUTES names an unknown provider 'stipe' (available: stripe, paypal, sepa, sandbox)"]),
    ({"secret_key": TEST_SECRET, "payment_routes": {"*": {"bank_transfer": "sepa"}}},
     ["SIMKEEP_SEPA_IBAN is the demo account printed in simkeep's source: transfers would go there"]),
    ({"secret_key": TEST_SECRET, "network_provisioning": {"*": "https://gw.example/prov/v1"}},
     ["SIMKEEP_NETWORK_GATEWAY_SECRET is not set"]),
    ({"secret_key": TEST_SECRET, "network_provisioning": {"*": "https://gw.example/v1"}, "network_gateway_secret": "gw"},
     ["SIMKEEP_NETWORK_GATEWAY_SECRET is too short (2 characters; at least 32)"]),
    ({"secret_key": TEST_SECRET, "network_provisioning": {"fr-free-2eur": "http://10.1.2.3/prov/v1",
                                                          "*": "http://127.0.0.1:8081/v1"},
      "network_gateway_secret": PREVIOUS},
     ["SIMKEEP_NETWORK_PROVISIONING sends subscribers' IMSIs and numbers over plain http to 10.1.2.3: use https:// "
      "(plain http only to this machine)"]),
    ({"secret_key": TEST_SECRET, "network_provisioning": {"*": "osmo-hlr://127.0.0.1:4259?vty=4258"}}, []),
])
def test_production_names_every_missing_weak_or_published_secret(values, expected):
    assert problems(**values) == expected


def test_every_problem_is_named_at_once():
    assert [p.split()[0] for p in problems(admin_token="x", sandbox_enabled=True)] == [
        "SIMKEEP_SECRET_KEY", "SIMKEEP_ADMIN_TOKEN", "SIMKEEP_SANDBOX_WEBHOOK_SECRET"]


def test_create_app_refuses_weak_settings_and_settings_stay_buildable(db):
    partial = Settings(database_url=db.url)  # building never validates: tests and tools may build partial settings
    with pytest.raises(ConfigError, match="SIMKEEP_SECRET_KEY is not set"):
        create_app(partial, db)
    with pytest.raises(ConfigError, match="SIMKEEP_SECRET_KEY is a value published"):
        create_app(partial.model_copy(update={"secret_key": OLD_DEFAULT}), db)


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.startswith("SIMKEEP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SIMKEEP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIMKEEP_ENV", "production")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.parametrize("command", [["serve"], ["worker", "--once"], ["api-key", "create", "--role", "agent"]])
@pytest.mark.parametrize(("env", "named"), [
    ({}, "SIMKEEP_SECRET_KEY is not set"),
    ({"SIMKEEP_SECRET_KEY": OLD_DEFAULT}, "SIMKEEP_SECRET_KEY is a value published in simkeep's source"),
    ({"SIMKEEP_SECRET_KEY": "too-short"}, "SIMKEEP_SECRET_KEY is too short (9 characters; at least 32)"),
    ({"SIMKEEP_SECRET_KEY": TEST_SECRET, "SIMKEEP_SANDBOX_ENABLED": "true",
      "SIMKEEP_SANDBOX_WEBHOOK_SECRET": OLD_SANDBOX_DEFAULT},
     "SIMKEEP_SANDBOX_WEBHOOK_SECRET is a value published in simkeep's source"),
])
def test_production_commands_refuse_to_start_naming_the_secret(production_env, tmp_path, command, env, named):
    from typer.testing import CliRunner

    from simkeep.cli import app

    for name, value in env.items():
        production_env.setenv(name, value)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 78, result.output
    assert named in " ".join(result.output.split())
    assert not (tmp_path / "simkeep.db").exists() and not (tmp_path / "secrets.json").exists()


def test_a_real_serve_process_exits_78_naming_the_missing_secret(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMKEEP_")}
    env.update(SIMKEEP_ENV="production", SIMKEEP_DATA_DIR=str(tmp_path), SIMKEEP_PORT="9", COLUMNS="200")
    done = subprocess.run([sys.executable, "-m", "simkeep", "serve"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 78
    assert "SIMKEEP_SECRET_KEY is not set" in done.stderr and "Traceback" not in done.stderr


# -- demo mode ------------------------------------------------------------------------------------------------------

def _demo_secrets(data_dir: str) -> tuple:
    cfg = with_demo_secrets(Settings(env="demo", data_dir=data_dir))
    return cfg.secret_key, cfg.admin_token, cfg.sandbox_webhook_secret


def test_demo_mode_generates_keeps_and_reuses_its_secrets(tmp_path):
    first = with_demo_secrets(Settings(env="demo", data_dir=tmp_path))
    path = tmp_path / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored == {"secret_key": first.secret_key, "admin_token": first.admin_token,
                      "sandbox_webhook_secret": first.sandbox_webhook_secret, "voucher_pepper": first.voucher_pepper,
                      "voucher_seal_key": first.voucher_seal_key, "voice_platform_secret": first.voice_platform_secret,
                      "voice_vxml_key": first.voice_vxml_key, "esim_seal_key": first.esim_seal_key}
    assert len({first.secret_key, first.voucher_pepper, first.voucher_seal_key, first.voice_platform_secret,
                first.voice_vxml_key}) == 5
    check(first)  # strong enough for the production check too
    assert first.admin_token.startswith("sk_demo_") and first.sandbox_webhook_secret.startswith("whsec_")
    again = with_demo_secrets(Settings(env="demo", data_dir=tmp_path))  # a restart, or the worker beside the server
    assert (again.secret_key, again.admin_token, again.sandbox_webhook_secret) == (
        first.secret_key, first.admin_token, first.sandbox_webhook_secret)
    other = with_demo_secrets(Settings(env="demo", data_dir=tmp_path / "elsewhere"))
    assert other.secret_key != first.secret_key  # random, not a default


def test_demo_processes_starting_together_agree_on_one_set_of_secrets(tmp_path):
    with ProcessPoolExecutor(4) as pool:
        seen = set(pool.map(_demo_secrets, [str(tmp_path)] * 8))
    assert len(seen) == 1 and None not in next(iter(seen))


def test_demo_mode_keeps_configured_secrets_and_adopts_the_old_demo_token(tmp_path):
    (tmp_path / "demo-admin-token").write_text("sk_demo_kept_from_an_earlier_version_0123456789\n")
    cfg = with_demo_secrets(Settings(env="demo", data_dir=tmp_path, secret_key=TEST_SECRET))
    assert cfg.secret_key == TEST_SECRET and cfg.admin_token == "sk_demo_kept_from_an_earlier_version_0123456789"
    assert "secret_key" not in json.loads((tmp_path / "secrets.json").read_text())  # configured: never written


def test_demo_mode_tightens_a_loose_secrets_file(tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"secret_key": "k" * 20 + "0123456789abcdef"}))
    path.chmod(0o644)
    with_demo_secrets(Settings(env="demo", data_dir=tmp_path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_get_settings_fills_secrets_in_demo_mode_only(monkeypatch, tmp_path):
    monkeypatch.delenv("SIMKEEP_SECRET_KEY", raising=False)
    monkeypatch.setenv("SIMKEEP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIMKEEP_ENV", "production")
    get_settings.cache_clear()
    try:
        assert get_settings().secret_key is None and not (tmp_path / "secrets.json").exists()
        monkeypatch.setenv("SIMKEEP_ENV", "demo")
        get_settings.cache_clear()
        demo = get_settings()
        assert demo.secret_key == json.loads((tmp_path / "secrets.json").read_text())["secret_key"]
        assert demo.sandbox_on and available_methods("fr-orange-mobicarte", demo) == METHODS
        assert routes(demo)["*"] == dict.fromkeys(METHODS, "sandbox")
    finally:
        get_settings.cache_clear()


def test_the_admin_token_constant_of_the_tests_is_strong():
    assert problems(secret_key=TEST_SECRET, admin_token=ADMIN_TOKEN) == []
