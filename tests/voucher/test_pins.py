import pytest

from simkeep.config import ConfigError, Settings, check
from simkeep.core.errors import VouchersNotConfigured
from simkeep.voucher import pins
from tests.conftest import TEST_SECRET
from tests.factories.vouchers import KEYS


def test_a_new_pin_is_fifteen_digits_whose_last_is_the_luhn_check_digit():
    drawn = {pins.new_pin() for _ in range(2_000)}
    assert len(drawn) == 2_000  # from a CSPRNG: no repeats in a small sample
    for pin in drawn:
        assert len(pin) == 15 and pin.isdigit() and pins.normalize(pin) == pin


def test_the_check_digit_is_luhn():
    # 7992739871 is the textbook Luhn example: its check digit is 3.
    assert pins.check_digit("7992739871") == "3"
    assert pins.check_digit("0" * 14) == "0"


@pytest.mark.parametrize("typed", ["1234 5678 9012 347", "1234-5678-9012-347", " 123456789012347 ", "1234\u00a05678\u202f9012347"])
def test_spaces_and_dashes_are_accepted(typed):
    assert pins.check_digit("12345678901234") == "7"
    assert pins.normalize(typed) == "123456789012347"


@pytest.mark.parametrize("typed", ["123456789012345",  # one digit off: the check digit catches it
                                   "12345678901234", "1234567890123474", "12345678901234a", "١٢٣٤٥٦٧٨٩٠١٢٣٤٧", ""])
def test_a_typo_or_a_non_pin_is_refused_before_any_lookup(typed):
    assert pins.normalize(typed) is None


def test_a_swap_of_two_neighbouring_digits_is_caught():
    pin = "123456789012347"
    swapped = pin[:3] + pin[4] + pin[3] + pin[5:]
    assert pins.normalize(swapped) is None


def test_pins_are_grouped_by_four_for_print_and_the_qr_link_keeps_the_pin_in_the_fragment():
    assert pins.grouped("123456789012347") == "1234 5678 9012 347"
    assert pins.redeem_url("https://renew.example/", "123456789012347") == \
        "https://renew.example/renew/card#pin=123456789012347"


def test_the_hash_is_keyed_by_the_pepper():
    other = pins.keys(Settings(voucher_pepper="another-pepper-0123456789abcdefghijklmnop",
                               voucher_seal_key="x" * 40))
    assert KEYS.hash("123456789012347") != other.hash("123456789012347")
    assert len(KEYS.hash("123456789012347")) == 32


def test_without_a_pepper_the_voucher_features_refuse_to_run():
    with pytest.raises(VouchersNotConfigured):
        pins.keys(Settings(voucher_seal_key="x" * 40))
    with pytest.raises(VouchersNotConfigured):
        pins.keys(Settings(voucher_pepper="x" * 40))


def test_production_refuses_a_weak_pepper_but_starts_without_one():
    check(Settings(secret_key=TEST_SECRET))  # no voucher settings: starts, vouchers answer 503
    with pytest.raises(ConfigError) as refused:
        check(Settings(secret_key=TEST_SECRET, voucher_pepper="short", voucher_seal_key="aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))
    assert refused.value.problems == [
        "SIMKEEP_VOUCHER_PEPPER is too short (5 characters; at least 32)",
        "SIMKEEP_VOUCHER_SEAL_KEY is too easy to guess (fewer than 8 different characters)"]
