from __future__ import annotations

import pytest

from simkeep.config import ConfigError, check


@pytest.mark.parametrize("code", ["*100#", "*123*4#", "*1#"])
def test_a_ussd_code_is_digits_and_stars_ending_in_a_hash(settings, code):
    check(settings.model_copy(update={"ussd_code": code}))


@pytest.mark.parametrize("code", ["100", "*100", "*#", "*10a#", "**100#"])
def test_anything_else_is_refused_at_start(settings, code):
    with pytest.raises(ConfigError, match="SIMKEEP_USSD_CODE"):
        check(settings.model_copy(update={"ussd_code": code}))


def test_a_session_lasts_some_time(settings):
    with pytest.raises(ConfigError, match="SIMKEEP_USSD_TIMEOUT_SECONDS must be positive"):
        check(settings.model_copy(update={"ussd_timeout_seconds": 0}))
