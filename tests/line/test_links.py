"""Signed renewal links: they verify for the number they name until the end of their day, and for nothing else."""

from datetime import UTC, datetime, timedelta

import pytest

from simkeep.line import links
from simkeep.line.links import Reading, RenewalLinks

KEY, OLD_KEY = "current-renewal-key", "previous-renewal-key"
MSISDN = "+33612345678"
LOSS = datetime(2027, 3, 12, 23, 0, tzinfo=UTC)  # midnight in Paris, as number-loss dates are
END_OF_DAY = datetime(2027, 3, 13, tzinfo=UTC)  # the link works to the end of that UTC day
BEFORE = LOSS - timedelta(days=30)


def test_a_link_is_as_short_as_the_plain_one_and_verifies_until_the_end_of_its_day():
    url = RenewalLinks("https://portal.example", KEY).url(MSISDN, until=LOSS)
    plain = RenewalLinks("https://portal.example").url(MSISDN, until=LOSS)
    assert plain == "https://portal.example/recharge?msisdn=%2B33612345678"
    assert url.startswith("https://portal.example/r/33612345678.") and len(url) == len(plain)
    link = url.rsplit("/", 1)[1]
    assert links.read([KEY], link, now=BEFORE) == Reading(MSISDN, END_OF_DAY)
    assert links.read([KEY], link, now=END_OF_DAY - timedelta(microseconds=1)) == Reading(MSISDN, END_OF_DAY)
    assert links.read([KEY], link, now=END_OF_DAY) == Reading(MSISDN, None)  # expired: the number, unproven


def test_a_link_rotated_out_verifies_while_its_key_is_listed():
    link = links.token(OLD_KEY, MSISDN, LOSS)
    assert links.read([KEY, OLD_KEY], link, now=BEFORE) == Reading(MSISDN, END_OF_DAY)
    assert links.read([KEY], link, now=BEFORE) == Reading(MSISDN, None)


@pytest.mark.parametrize(("change", "number"), [
    ("other number", "+33612345679"), ("later day", MSISDN), ("flipped mac", MSISDN), ("cut short", MSISDN),
    ("number only", MSISDN), ("garbage", None), ("empty", None),
])
def test_a_changed_or_forged_link_proves_nothing_but_may_name_its_number(change, number):
    digits, day, mac = links.token(KEY, MSISDN, LOSS).split(".")
    forged = {
        "other number": f"33612345679.{day}.{mac}",
        "later day": f"{digits}.{links.token(KEY, MSISDN, LOSS + timedelta(days=365)).split('.')[1]}.{mac}",
        "flipped mac": f"{digits}.{day}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
        "cut short": f"{digits}.{day}.{mac[:5]}",
        "number only": digits,
        "garbage": "not-a-link<script>",
        "empty": "",
    }[change]
    assert links.read([KEY], forged, now=BEFORE) == Reading(number, None)
