"""Signed renewal links: they verify for the number they name until their expiry, and for nothing else."""

from datetime import timedelta

import pytest

from simkeep.line import links
from simkeep.line.links import RenewalLinks
from tests.conftest import T0

KEY, OLD_KEY = "current-renewal-key", "previous-renewal-key"
MSISDN = "+33612345678"
UNTIL = T0 + timedelta(days=30)


def link_of(url: str) -> str:
    return url.split("&link=", 1)[1]


def test_a_link_names_its_number_and_verifies_until_its_expiry():
    url = RenewalLinks("https://portal.example", KEY).url(MSISDN, until=UNTIL)
    assert url.startswith("https://portal.example/recharge?msisdn=%2B33612345678&link=")
    token = link_of(url)
    assert len(token) <= 24  # it travels in an SMS
    assert links.valid_until([KEY], MSISDN, token, now=T0) == UNTIL
    assert links.valid_until([KEY], MSISDN, token, now=UNTIL - timedelta(seconds=1)) == UNTIL
    assert links.valid_until([KEY], MSISDN, token, now=UNTIL) is None  # expired


def test_without_a_key_a_link_only_names_the_number():
    assert RenewalLinks("").url(MSISDN, until=UNTIL) == "/recharge?msisdn=%2B33612345678"


def test_a_link_rotated_out_verifies_while_its_key_is_listed():
    token = links.token(OLD_KEY, MSISDN, UNTIL)
    assert links.valid_until([KEY, OLD_KEY], MSISDN, token, now=T0) == UNTIL
    assert links.valid_until([KEY], MSISDN, token, now=T0) is None


@pytest.mark.parametrize("change", ["other number", "later expiry", "flipped mac", "garbage", "empty", "huge expiry"])
def test_a_changed_or_forged_link_verifies_for_nothing(change):
    token = links.token(KEY, MSISDN, UNTIL)
    expiry, mac = token.split(".")
    number, forged = MSISDN, token
    if change == "other number":
        number = "+33612345679"
    elif change == "later expiry":
        forged = f"{links.token(KEY, MSISDN, UNTIL + timedelta(days=365)).split('.')[0]}.{mac}"
    elif change == "flipped mac":
        forged = f"{expiry}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}"
    elif change == "garbage":
        forged = "not a link at all"
    elif change == "empty":
        forged = ""
    else:
        forged = f"{'z' * 13}.{mac}"
    assert links.valid_until([KEY], number, forged, now=T0) is None
