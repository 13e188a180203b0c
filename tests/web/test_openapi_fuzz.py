"""Schemathesis over the whole OpenAPI document: every operation gets generated requests (values that fit each
documented parameter and body, and values that do not), sent in-process to create_app with an admin token and a
database with lines, and every answer is checked with schemathesis' checks: no 5xx, a status the route documents,
a body matching the documented schema (the error shape included), the documented headers and content type, and
non-conforming input refused with a 4xx.

Reproducible and bounded: derandomized Hypothesis (the same examples on every run), a fixed number per operation
and mode. Operations are read from the document itself, so a new route is fuzzed without editing this file.
(Schemathesis' own pytest loader needs pytest's private Item._nodeid, gone in pytest 9, hence the explicit loop.)
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks

from simkeep.config import Settings
from simkeep.main import create_app
from tests.conftest import ADMIN_TOKEN, T0, TEST_SECRET
from tests.factories.lines import make_line, top_up
from tests.factories.vouchers import make_reseller
from tests.network.test_inventory import iccid, stock
from tests.voucher import api_key

EXAMPLES = {"positive": 15, "negative": 10, "known": 15}
MODES = {"positive": GenerationMode.POSITIVE, "negative": GenerationMode.NEGATIVE, "known": GenerationMode.POSITIVE}
# "known": generated queries, headers and bodies on resources that exist (random path values are mostly 404/422,
# which would leave the deeper code unvisited). Then schemathesis' deterministic boundary cases (each bound, one
# past it, wrong types, missing and unknown fields), on random and on existing resources.
KNOWN_PATHS = {"msisdn": "+33612345678", "provider": "sandbox", "call_id": "CA1", "iccid": iccid(1)}
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# The reseller's own routes answer only its keys (anything else is 403): they are fuzzed with one.
RESELLER_AUTH: dict[str, str] = {}
# Every check but positive_data_acceptance: a request can fit the schema and still be refused with 422 for what
# no schema says (a number that is not a mobile number, an offer of another operator), and that is correct.
CHECKS = [not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_headers_conformance, checks.response_schema_conformance, checks.negative_data_rejection,
          checks.missing_required_header, checks.unsupported_method, checks.allow_header_conformance,
          checks.ignored_auth]


def operation_labels() -> list[str]:
    """Every operation in the document ("POST /api/v1/topups", ...), from an app that never opens its database."""
    app = create_app(Settings(secret_key=TEST_SECRET, database_url="sqlite://"))
    document = app.openapi()
    return [f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item]


@pytest.fixture
def api_schema(settings, db, monkeypatch):
    monkeypatch.setattr("simkeep.core.clock.now", lambda: T0)
    make_line(db, now=T0)
    make_line(db, msisdn="+33698765432", operator_id="fr-sfr-la-carte", now=T0)
    stock(db, 1, 2)  # the known ICCID, and a card in stock to assign or swap to
    topup = top_up(db, now=T0).topup
    monkeypatch.setitem(KNOWN_PATHS, "topup_id", str(topup.id))
    reseller = make_reseller(db, now=T0)
    monkeypatch.setitem(RESELLER_AUTH, "Authorization", api_key(db, settings, reseller_id=reseller.id)["Authorization"])
    # Generated requests carry the right token; nothing here is guessing, so the throttle stays out of the way.
    app = create_app(settings.model_copy(update={"bearer_failures_per_ip": "1000000 per hour"}), db)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_the_document_has_every_api_operation():
    assert sorted(operation_labels()) == [
        "GET /api/v1/lines/{msisdn}", "GET /api/v1/lines/{msisdn}/history", "GET /api/v1/network/sims",
        "GET /api/v1/network/sims/{iccid}", "GET /api/v1/operators",
        "GET /api/v1/reseller", "GET /api/v1/reseller/purchases", "GET /api/v1/reseller/statement",
        "GET /api/v1/reseller/statement.csv", "GET /api/v1/stores", "GET /api/v1/topups/{topup_id}", "GET /healthz",
        "POST /api/v1/charges", "POST /api/v1/lines", "POST /api/v1/lines/{msisdn}/sim",
        "POST /api/v1/lines/{msisdn}/sim/lost", "POST /api/v1/lines/{msisdn}/sim/swap", "POST /api/v1/plans",
        "POST /api/v1/quotes",
        "POST /api/v1/reseller/epins", "POST /api/v1/reseller/quotes", "POST /api/v1/reseller/topups", "POST /api/v1/topups",
        "POST /api/v1/voice/calls", "POST /api/v1/voice/calls/{call_id}/events", "POST /api/v1/vouchers/redeem",
        "POST /webhooks/{provider}"]


@pytest.mark.parametrize("label", operation_labels())
def test_every_operation_answers_as_documented(api_schema, label):
    operation = api_schema.find_operation_by_label(label)
    auth = RESELLER_AUTH if label.split()[1].startswith("/api/v1/reseller") else AUTH
    assert operation is not None
    for mode, examples in EXAMPLES.items():
        if (mode == "negative" and label == "GET /healthz") or (mode == "known" and "{" not in label):
            continue  # nothing to get wrong; no resource to know
        known = {p.name: KNOWN_PATHS[p.name] for p in operation.path_parameters} if mode == "known" else None
        strategy = operation.as_strategy(generation_mode=MODES[mode], path_parameters=known)

        @hypothesis.settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                             suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate])
        @hypothesis.given(case=strategy)
        def run(case):
            case.call_and_validate(headers=auth, checks=CHECKS)

        run()
    # Schemathesis' deterministic boundary cases, on random and on existing resources.
    config = api_schema.config.generation_for(operation=operation)
    cases = list(api_schema.iter_coverage_cases(
        operation, generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], generation_config=config))
    assert 5 <= len(cases) <= 100  # bounded, and not silently empty
    for case in cases:
        case.call_and_validate(headers=auth, checks=CHECKS)
        if case.path_parameters and set(case.path_parameters) <= set(KNOWN_PATHS):
            case.path_parameters = {name: KNOWN_PATHS[name] for name in case.path_parameters}
            case.call_and_validate(headers=auth, checks=CHECKS)
