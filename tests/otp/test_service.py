import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from simkeep.core.ids import new_id
from simkeep.notification.models import OutboxMessage
from simkeep.otp import service as otp
from simkeep.otp.models import OtpChallenge, OtpFailure
from tests.conftest import T0
from tests.factories.lines import make_line
from tests.factories.snapshot import count

SECRET = "test-secret"
OLD_SECRET = "previous-test-secret"
MSISDN = "+33612345678"


def request(db, msisdn=MSISDN, now=T0, policy=otp.DEFAULT_POLICY):
    with db.transaction() as session:
        return otp.request_code(session, msisdn=msisdn, secret=SECRET, now=now, policy=policy)


def verify(db, code, msisdn=MSISDN, now=T0, secrets=(SECRET,)) -> otp.Verdict:
    with db.transaction() as session:
        return otp.verify_code(session, msisdn=msisdn, code=code, secrets=list(secrets), now=now)


def outcome(db, code, **kwargs) -> str:
    return verify(db, code, **kwargs).outcome


def budget(db, msisdn=MSISDN, now=T0) -> otp.Budget:
    with db.transaction(write=False) as session:
        return otp.budget(session, msisdn=msisdn, now=now)


def sent_codes(db) -> list[str]:
    with db.transaction(write=False) as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "otp.code")
                               .order_by(OutboxMessage.created_at, OutboxMessage.id)).all()
    return [m.payload["code"] for m in rows]


def not_(code: str, k: int = 1) -> str:
    return f"{(int(code) + k) % 1_000_000:06d}"


def test_a_known_number_gets_a_code_that_works_once(db):
    make_line(db, now=T0)
    challenge = request(db)
    assert challenge.new and challenge.expires_at == T0 + timedelta(minutes=5)
    [code] = sent_codes(db)
    assert len(code) == 6 and code.isdigit()
    with db.transaction(write=False) as session:
        [row] = session.scalars(select(OtpChallenge)).all()
    assert code not in row.code_hash and row.code_hash == otp.code_hash(SECRET, row.id, code)
    assert verify(db, code) == otp.Verdict(otp.OK, otp.Budget(10, None))
    assert outcome(db, code) == otp.EXPIRED  # consumed
    assert budget(db) == otp.Budget(10, None)  # a right code and a used one cost nothing


def test_a_code_hashed_under_the_previous_key_still_verifies_during_a_rotation(db):
    make_line(db, now=T0)
    with db.transaction() as session:
        otp.request_code(session, msisdn=MSISDN, secret=OLD_SECRET, now=T0)
    [code] = sent_codes(db)
    assert outcome(db, code, secrets=[SECRET]) == otp.WRONG  # the new key alone does not know it
    assert outcome(db, code, secrets=[SECRET, OLD_SECRET]) == otp.OK


def test_an_unknown_number_gets_the_same_answer_and_no_sms(db):
    challenge = request(db, "+33698765432")
    assert challenge.resend_at == T0 + timedelta(seconds=60) and challenge.new
    assert sent_codes(db) == []
    assert verify(db, "123456", "+33698765432") == otp.Verdict(otp.WRONG, otp.Budget(9, None))


def test_five_wrong_codes_lock_the_challenge_even_for_the_right_code(db):
    make_line(db, now=T0)
    request(db)
    [code] = sent_codes(db)
    assert [outcome(db, not_(code, k)) for k in range(1, 6)] == [otp.WRONG] * 4 + [otp.LOCKED]
    assert verify(db, code) == otp.Verdict(otp.LOCKED, otp.Budget(5, None))


def tries(db, now=T0) -> otp.Tries:
    with db.transaction(write=False) as session:
        return otp.tries(session, msisdn=MSISDN, now=now)


def test_the_tries_a_code_has_left_are_its_own_within_the_numbers_budget(db):
    make_line(db, now=T0)
    assert tries(db) == otp.Tries(0, otp.EXPIRED)  # no code asked for yet
    request(db)
    [code] = sent_codes(db)
    assert tries(db) == otp.Tries(5, None)
    left = []
    for k in range(1, 6):
        verify(db, not_(code, k))
        left.append(tries(db))
    assert left == [otp.Tries(n, None) for n in (4, 3, 2, 1)] + [otp.Tries(0, otp.LOCKED)]
    # A new code a minute later: five tries of its own, but only five wrong codes are left for the number...
    later = T0 + timedelta(seconds=61)
    request(db, now=later)
    assert tries(db, now=later) == otp.Tries(5, None)
    for k in range(1, 3):
        verify(db, not_(sent_codes(db)[-1], k), now=later)
    # ... and after two more wrong codes and a third code, the number's budget (3) is what bounds it.
    third = later + timedelta(minutes=5)
    request(db, now=third)
    assert tries(db, now=third) == otp.Tries(3, None)
    assert tries(db, now=third + timedelta(minutes=5)) == otp.Tries(0, otp.EXPIRED)
    verify(db, sent_codes(db)[-1], now=third)
    assert tries(db, now=third) == otp.Tries(0, otp.EXPIRED)  # used
    with db.transaction() as session:
        session.add_all([OtpFailure(id=new_id(), msisdn=MSISDN, at=third) for _ in range(3)])
    assert tries(db, now=third) == otp.Tries(0, otp.SPENT)


def test_codes_expire_after_five_minutes(db):
    make_line(db, now=T0)
    request(db)
    [code] = sent_codes(db)
    assert outcome(db, code, now=T0 + timedelta(minutes=5)) == otp.EXPIRED


def test_sixty_one_guesses_in_an_hour_stop_at_the_budget_across_codes(db):
    """The attack of the issue: guess until the code locks, ask for a new one a minute later, again and again."""
    make_line(db, now=T0)
    now, verdicts = T0, []
    first_failure = None
    while len(verdicts) < 61:
        try:
            request(db, now=now)
        except otp.BudgetSpent as exc:
            assert exc.resets_at == first_failure + timedelta(hours=24)
        code = sent_codes(db)[-1]
        for k in range(1, 6):
            if len(verdicts) == 61:
                break
            verdicts.append(verify(db, not_(code, k), now=now))
            first_failure = first_failure or now
        now += timedelta(seconds=60)
    assert now < T0 + timedelta(hours=1)
    outcomes = [v.outcome for v in verdicts]
    assert outcomes[:10] == [otp.WRONG] * 4 + [otp.LOCKED] + [otp.WRONG] * 4 + [otp.SPENT]
    assert outcomes[10:] == [otp.SPENT] * 51
    assert [v.budget.remaining for v in verdicts[:10]] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert count(db, OtpFailure) == 10  # spent guesses are not even compared, nor counted
    assert len(sent_codes(db)) == 2  # no code is sent while none could be checked
    # Even the right code is refused while the budget is spent.
    assert outcome(db, sent_codes(db)[-1], now=now) == otp.SPENT
    with pytest.raises(otp.BudgetSpent):
        request(db, now=now)


def test_the_budget_is_a_rolling_window(db):
    make_line(db, now=T0)
    for hour in range(10):  # one wrong code an hour, each on a fresh code
        at = T0 + timedelta(hours=hour)
        request(db, now=at)
        assert outcome(db, not_(sent_codes(db)[-1]), now=at) == (otp.SPENT if hour == 9 else otp.WRONG)
    later = T0 + timedelta(hours=23, minutes=59)
    assert budget(db, now=later) == otp.Budget(0, T0 + timedelta(hours=24))
    assert budget(db, now=T0 + timedelta(hours=24)) == otp.Budget(1, None)  # the first guess stopped counting
    assert budget(db, now=T0 + timedelta(hours=26)) == otp.Budget(3, None)
    request(db, now=T0 + timedelta(hours=26))
    assert outcome(db, sent_codes(db)[-1], now=T0 + timedelta(hours=26)) == otp.OK


def test_too_soon_taps_and_taps_while_a_code_is_valid_cost_nothing(db):
    make_line(db, now=T0)
    first = request(db)
    # Taps while the code is valid: the same code, nothing new sent, nothing spent.
    for seconds in (1, 30, 59, 60, 299):
        again = request(db, now=T0 + timedelta(seconds=seconds))
        assert (again.id, again.new, again.expires_at) == (first.id, False, T0 + timedelta(minutes=5))
    assert len(sent_codes(db)) == 1 and count(db, OtpChallenge) == 1
    # Lock the code, then tap "new code" within the minute: too soon, and still nothing spent beyond the guesses.
    code = sent_codes(db)[0]
    for k in range(1, 6):
        verify(db, not_(code, k), now=T0 + timedelta(seconds=10))
    for seconds in (11, 30, 59):
        with pytest.raises(otp.ResendTooSoon):
            request(db, now=T0 + timedelta(seconds=seconds))
    assert budget(db, now=T0 + timedelta(seconds=59)) == otp.Budget(5, None)
    assert count(db, OtpFailure) == 5 and count(db, OtpChallenge) == 1
    assert request(db, now=T0 + timedelta(seconds=60)).new
    assert outcome(db, sent_codes(db)[-1], now=T0 + timedelta(seconds=61)) == otp.OK


def test_a_stranger_asking_all_hour_never_keeps_the_holder_from_a_code(db):
    """Codes go to the holder's phone only, and a valid one is never replaced: a stranger tapping every ten
    seconds makes at most 12 codes an hour, under the per-number limit of 20, and the holder always has one."""
    make_line(db, now=T0)
    for tick in range(360):
        request(db, now=T0 + timedelta(seconds=10 * tick))  # never refused
    assert len(sent_codes(db)) == 12
    holder = request(db, now=T0 + timedelta(minutes=60))
    assert holder.new
    assert outcome(db, sent_codes(db)[-1], now=T0 + timedelta(minutes=60, seconds=5)) == otp.OK


def test_the_per_number_code_limit_counts_only_new_codes(db):
    make_line(db, now=T0)
    tight = otp.Policy(codes_per_number=2, codes_window=timedelta(hours=1))
    request(db, policy=tight)
    request(db, now=T0 + timedelta(minutes=5), policy=tight)
    request(db, now=T0 + timedelta(minutes=6), policy=tight)  # the code is still valid: free
    with pytest.raises(otp.TooManyCodes) as refused:
        request(db, now=T0 + timedelta(minutes=10), policy=tight)
    assert refused.value.retry_at == T0 + timedelta(hours=1)
    assert len(sent_codes(db)) == 2
    assert request(db, now=T0 + timedelta(hours=1), policy=tight).new


def race(db, n: int, work) -> list:
    """`work(session)` in n threads, each on its own connection and transaction, released at once."""
    start = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait(timeout=10)
            with db.transaction() as session:
                results[i] = work(session)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def test_racing_wrong_guesses_all_count(db):
    make_line(db, now=T0)
    request(db)
    code = sent_codes(db)[0]
    verdicts = race(db, 4, lambda session: otp.verify_code(
        session, msisdn=MSISDN, code=not_(code), secrets=[SECRET], now=T0 + timedelta(seconds=5)))
    assert sorted(v.budget.remaining for v in verdicts) == [6, 7, 8, 9]  # each saw the ones before it
    assert count(db, OtpFailure) == 4
    with db.transaction(write=False) as session:
        assert session.scalars(select(OtpChallenge.attempts)).one() == 4


def test_racing_guesses_on_the_last_try_get_one_guess_between_them(db):
    make_line(db, now=T0)
    for k in range(9):  # nine wrong codes over two codes
        if k % 5 == 0:
            request(db, now=T0 + timedelta(minutes=k))
        verify(db, not_(sent_codes(db)[-1]), now=T0 + timedelta(minutes=k))
    request(db, now=T0 + timedelta(minutes=10))
    code = sent_codes(db)[-1]
    guesses = [not_(code, k) for k in range(1, 7)]
    verdicts = race(db, 6, lambda session: otp.verify_code(
        session, msisdn=MSISDN, code=guesses.pop(), secrets=[SECRET], now=T0 + timedelta(minutes=11)))
    assert [v.outcome for v in verdicts] == [otp.SPENT] * 6
    assert count(db, OtpFailure) == 10  # exactly one of the six was compared and counted
    assert outcome(db, code, now=T0 + timedelta(minutes=11)) == otp.SPENT
