"""What promotions cost the pricing path: quotes per second (`topup.service.quote`, one transaction each: lock the
line, read the live campaigns, price, store the quote) and top-ups priced as they are made (`topup.service.top_up`
without a quote: the same rule, then each applied campaign's budget taken in one conditional UPDATE and its use
recorded) with three active campaigns, against the same calls at plain list price (every campaign paused)
measured in the same run. The three campaigns ask for every costly fact: 15 % off with a per-line limit (a count of
the line's uses), €1 bonus credit that stacks, and +7 days for a first renewal only (a look for earlier top-ups).
Rounds alternate between the two, so load from anything else on the machine falls on both alike; the pure pricing
function is timed on its own as well. One process, one call at a time. PostgreSQL and SQLite.

    python -m bench.run --only promotions_pg,promotions_sqlite [--quick]
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta

from bench.common import OUT, Sizes, drop_database, note, pg_url, recreate_database, report
from simkeep.db import Database

OPERATOR, OFFER = "fr-orange-mobicarte", "fr-orange-mobicarte-5"  # 7 days a top-up: far from the 730-day cap
PG_DB = "simkeep_bench_promotions"
ROUNDS = 4


def bench_promotions_pg(sizes: Sizes) -> None:
    recreate_database(PG_DB)
    try:
        _run(pg_url(PG_DB), sizes, "promotions_pg")
    finally:
        drop_database(PG_DB)


def bench_promotions_sqlite(sizes: Sizes) -> None:
    folder = OUT / "promotions"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        _run(f"sqlite:///{folder / 'promotions.db'}", sizes, "promotions_sqlite")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(url: str, sizes: Sizes, name: str) -> None:
    from simkeep.catalog import service as catalog
    from simkeep.line import service as lines
    from simkeep.migrate import upgrade
    from simkeep.promotion import service as promotions
    from simkeep.promotion.service import CampaignSpec
    from simkeep.topup import service as topups

    quotes = 250 if sizes.label == "quick" else 1000  # per round and kind
    renewals = 100 if sizes.label == "quick" else 400
    now = datetime.now(UTC).replace(microsecond=0)
    upgrade(url)
    db = Database(url)
    quoted = [f"+3361{i:07d}" for i in range(200)]  # quoted again and again (a quote changes nothing on the line)
    renewed = {kind: [[f"+3362{kind}{r}{i:05d}" for i in range(renewals)] for r in range(ROUNDS)]
               for kind in (0, 1)}  # each top-up on a line of its own, never renewed before
    with db.transaction() as session:
        catalog.load_catalog(session, catalog.read_catalog(), now=now)
        for number in quoted + [n for rounds in renewed.values() for r in rounds for n in r]:
            lines.create_line(session, msisdn=number, operator_id=OPERATOR, now=now - timedelta(days=1))
    specs = [
        CampaignSpec(name="15 % off", benefit="percent_off", benefit_value=15, per_line_limit=1_000_000,
                     starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30), operator_id=OPERATOR),
        CampaignSpec(name="+€1", benefit="bonus_credit", benefit_value=100, currency="EUR", stackable=True,
                     starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30)),
        CampaignSpec(name="Welcome +7 days", benefit="bonus_days", benefit_value=7, first_renewal_only=True,
                     stackable=True, starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30)),
    ]
    with db.transaction() as session:
        ids = [promotions.create(session, spec, actor="bench", reason="bench", now=now).id for spec in specs]
        for promotion_id in ids:
            promotions.change_state(session, promotion_id, "start", actor="bench", reason="bench", now=now)

    def switch(on: bool) -> None:
        with db.transaction() as session:
            for promotion_id in ids:
                if (promotions.get(session, promotion_id).state == "active") != on:
                    promotions.change_state(session, promotion_id, "resume" if on else "pause", actor="bench",
                                            reason="bench", now=now)

    def quote(number: str) -> int:
        with db.transaction() as session:
            return topups.quote(session, msisdn=number, offer_id=OFFER, channel="portal", now=now).price_minor

    def top_up(number: str) -> int:
        with db.transaction() as session:
            return topups.top_up(session, principal="bench", idempotency_key=f"bench-{number}", msisdn=number,
                                 offer_id=OFFER, channel="portal", now=now).topup.price_minor

    for on in (False, True):  # warm up both paths
        switch(on)
        for number in quoted[:20]:
            quote(number)
    elapsed = {"quotes": {False: 0.0, True: 0.0}, "topups": {False: 0.0, True: 0.0}}
    prices: dict[bool, set[int]] = {False: set(), True: set()}
    for r in range(ROUNDS):
        for on in (False, True):
            switch(on)
            started = time.perf_counter()
            for i in range(quotes):
                prices[on].add(quote(quoted[i % len(quoted)]))
            elapsed["quotes"][on] += time.perf_counter() - started
            started = time.perf_counter()
            for number in renewed[int(on)][r]:
                prices[on].add(top_up(number))
            elapsed["topups"][on] += time.perf_counter() - started
    assert prices == {False: {500}, True: {425}}, prices  # €5 at list price, €4.25 with 15 % off
    with db.transaction(write=False) as session:
        used = promotions.get(session, ids[0]).uses
    assert used == ROUNDS * renewals, used  # every discounted top-up took its use, no quote did
    db.dispose()
    for kind, per_round in (("quotes", quotes), ("topups", renewals)):
        n = ROUNDS * per_round
        plain, with_campaigns = n / elapsed[kind][False], n / elapsed[kind][True]
        report(f"{name}_{kind}_list_price", round(plain), "/s")
        report(f"{name}_{kind}_3_campaigns", round(with_campaigns), "/s")
        report(f"{name}_{kind}_ratio", round(with_campaigns / plain, 2), "x (3 campaigns / list price)")
    if name.endswith("sqlite"):
        _pure(now)
    note(f"{name}: {ROUNDS} rounds of {quotes} quotes and {renewals} top-ups of each kind")


def _pure(now: datetime) -> None:
    """The pricing rule alone, in memory: three campaigns against none."""
    from simkeep.promotion import pricing
    from simkeep.promotion.pricing import Campaign, Facts

    def campaign(i: int, benefit: str, value: int, **extra) -> Campaign:
        fields = dict(id=f"c{i}", name=f"c{i}", code=None, starts_at=now - timedelta(days=1),
                      ends_at=now + timedelta(days=30), operator_id=None, offer_ids=None, channels=None,
                      line_states=None, languages=None, first_renewal_only=False, per_line_limit=None,
                      benefit=benefit, benefit_value=value, currency="EUR", stackable=False)
        return Campaign(**{**fields, **extra})

    three = [campaign(0, "percent_off", 15, per_line_limit=5), campaign(1, "bonus_credit", 100, stackable=True),
             campaign(2, "bonus_days", 7, first_renewal_only=True, stackable=True)]
    facts = Facts(operator_id=OPERATOR, state="active", language="fr", first_renewal=lambda: True,
                  uses_of=lambda _id: 0)
    n = 50_000
    rates = {}
    for label, campaigns in (("list_price", []), ("3_campaigns", three)):
        started = time.perf_counter()
        for _ in range(n):
            pricing.price(list_minor=500, offer_bonus_minor=0, validity_days=7, currency="EUR", offer_id=OFFER,
                          channel="portal", now=now, facts=facts, campaigns=campaigns)
        rates[label] = n / (time.perf_counter() - started)
        report(f"promotions_pricing_pure_{label}", round(rates[label]), "/s")
    report("promotions_pricing_pure_ratio", round(rates["3_campaigns"] / rates["list_price"], 2),
           "x (3 campaigns / list price)")
