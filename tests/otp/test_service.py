from datetime import timedelta

import pytest
from sqlalchemy import select

from simkeep.notification.models import OutboxMessage
from simkeep.otp import service as otp
from simkeep.otp.models import OtpChallenge
from tests.conftest import T0
from tests.factories.lines import make_line

SECRET = "test-secret"


def request(db, msisdn="+33612345678", now=T0):
    with db.transaction() as session:
        return otp.request_code(session, msisdn=msisdn, secret=SECRET, now=now)


def verify(db, code, msisdn="+33612345678", now=T0):
    with db.transaction() as session:
        return otp.verify_code(session, msisdn=msisdn, code=code, secret=SECRET, now=now)


def sent_codes(db) -> list[str]:
    with db.transaction(write=False) as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "otp.code")
                               .order_by(OutboxMessage.created_at)).all()
    return [m.payload["code"] for m in rows]


def test_a_known_number_gets_a_code_that_works_once(db):
    make_line(db, now=T0)
    request(db)
    [code] = sent_codes(db)
    assert len(code) == 6 and code.isdigit()
    with db.transaction(write=False) as session:
        [challenge] = session.scalars(select(OtpChallenge)).all()
    assert code not in challenge.code_hash and challenge.code_hash == otp.code_hash(SECRET, challenge.id, code)
    assert verify(db, code) == otp.OK
    assert verify(db, code) == otp.EXPIRED  # consumed


def test_an_unknown_number_gets_the_same_answer_and_no_sms(db):
    challenge = request(db, "+33698765432")
    assert challenge.resend_at == T0 + timedelta(seconds=60)
    assert sent_codes(db) == []
    assert verify(db, "123456", "+33698765432") == otp.WRONG


def test_five_wrong_codes_lock_the_challenge_even_for_the_right_code(db):
    make_line(db, now=T0)
    request(db)
    [code] = sent_codes(db)
    wrong = "000000" if code != "000000" else "111111"
    assert [verify(db, wrong) for _ in range(5)] == [otp.WRONG] * 4 + [otp.LOCKED]
    assert verify(db, code) == otp.LOCKED


def test_codes_expire_after_five_minutes(db):
    make_line(db, now=T0)
    request(db)
    [code] = sent_codes(db)
    assert verify(db, code, now=T0 + timedelta(minutes=5)) == otp.EXPIRED


def test_a_new_code_only_after_sixty_seconds_and_it_replaces_the_old_one(db):
    make_line(db, now=T0)
    request(db)
    with pytest.raises(otp.ResendTooSoon):
        request(db, now=T0 + timedelta(seconds=59))
    request(db, now=T0 + timedelta(seconds=60))
    first, second = sent_codes(db)
    later = T0 + timedelta(seconds=61)
    if first != second:
        assert verify(db, first, now=later) == otp.WRONG
    assert verify(db, second, now=later) == otp.OK
