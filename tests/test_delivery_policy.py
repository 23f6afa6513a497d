"""Push-delivery policy as pure code: backoff, retry budget, HTTP classification, Retry-After, leases."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from hub.core.delivery_outcome import Verdict, classify_http, parse_retry_after
from hub.core.retry import RetryPolicy

NOW = datetime(2026, 5, 19, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


class FixedRandom(random.Random):
    """A random source that always draws the same number: the extremes of the jitter."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


# -- backoff ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("failures", range(1, 16))
def test_backoff_lies_between_half_and_all_of_the_capped_exponential(failures: int) -> None:
    policy = RetryPolicy(base=2 * SECOND, cap=timedelta(minutes=10))
    ceiling = min(policy.cap, policy.base * 2 ** (failures - 1))
    rng = random.Random(failures)
    for _ in range(200):
        wait = policy.backoff(failures, rng)
        assert ceiling / 2 <= wait <= ceiling
    assert policy.backoff(failures, FixedRandom(0.0)) == ceiling / 2
    assert policy.backoff(failures, FixedRandom(0.999999)) <= ceiling


def test_backoff_doubles_until_the_cap_then_stays_there() -> None:
    policy = RetryPolicy(base=SECOND, cap=timedelta(seconds=60))
    low = [policy.backoff(n, FixedRandom(0.0)) for n in range(1, 10)]
    assert low == [timedelta(seconds=s) / 2 for s in (1, 2, 4, 8, 16, 32, 60, 60, 60)]
    for failures in (7, 8, 20, 40, 41, 100, 10_000):
        assert timedelta(seconds=30) <= policy.backoff(failures, random.Random(failures)) <= policy.cap


def test_backoff_after_no_failure_is_no_wait() -> None:
    policy = RetryPolicy()
    assert policy.backoff(0) == timedelta(0)
    assert policy.backoff(-3) == timedelta(0)


def test_jitter_comes_from_the_injected_random_source() -> None:
    policy = RetryPolicy(base=SECOND, cap=timedelta(hours=1))
    draws = {policy.backoff(8, random.Random(seed)) for seed in range(20)}
    assert len(draws) > 10  # spread out, not in lock-step
    assert policy.backoff(8, random.Random(7)) == policy.backoff(8, random.Random(7))


def test_backoff_with_a_long_base_stays_capped_after_many_failures() -> None:
    policy = RetryPolicy(base=timedelta(seconds=3600), cap=timedelta(seconds=7200))
    for failures in (36, 41, 1000):
        assert timedelta(seconds=3600) <= policy.backoff(failures, random.Random(1)) <= policy.cap


# -- Retry-After in the wait --------------------------------------------------------------------------
def test_retry_after_wins_over_the_backoff() -> None:
    policy = RetryPolicy(base=2 * SECOND, cap=timedelta(minutes=10))
    assert policy.wait(1, timedelta(seconds=120), FixedRandom(0.5)) == timedelta(seconds=120)
    assert policy.wait(9, timedelta(seconds=5), FixedRandom(0.5)) == timedelta(seconds=5)


def test_retry_after_is_capped_and_never_below_base() -> None:
    """A destination's Retry-After wins, within [base, cap]: "Retry-After: 0" from a receiver that always
    says so must not burn the whole retry budget in a burst."""
    policy = RetryPolicy(base=2 * SECOND, cap=timedelta(minutes=10))
    assert policy.wait(1, timedelta(days=3), FixedRandom(0.5)) == timedelta(minutes=10)
    assert policy.wait(1, timedelta(seconds=-30), FixedRandom(0.5)) == 2 * SECOND
    assert policy.wait(1, timedelta(0), FixedRandom(0.5)) == 2 * SECOND


def test_without_retry_after_the_wait_is_the_backoff() -> None:
    policy = RetryPolicy(base=2 * SECOND, cap=timedelta(minutes=10))
    assert policy.wait(3, None, FixedRandom(0.25)) == policy.backoff(3, FixedRandom(0.25))


# -- retry budget -------------------------------------------------------------------------------------
def test_exhausted_by_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, max_age=timedelta(hours=1))
    assert not policy.exhausted(1, NOW, NOW)
    assert not policy.exhausted(2, NOW, NOW + SECOND)
    assert policy.exhausted(3, NOW, NOW + SECOND)
    assert policy.exhausted(4, NOW, NOW)


def test_exhausted_by_age() -> None:
    policy = RetryPolicy(max_attempts=100, max_age=timedelta(hours=1))
    assert not policy.exhausted(1, NOW, NOW + timedelta(minutes=59, seconds=59))
    assert policy.exhausted(1, NOW, NOW + timedelta(hours=1))
    assert policy.exhausted(1, NOW, NOW + timedelta(days=2))


def test_exhausted_by_whichever_comes_first() -> None:
    policy = RetryPolicy(max_attempts=5, max_age=timedelta(minutes=10))
    assert policy.exhausted(5, NOW, NOW + SECOND)
    assert policy.exhausted(2, NOW, NOW + timedelta(minutes=11))
    assert not policy.exhausted(4, NOW, NOW + timedelta(minutes=9))


@pytest.mark.parametrize(
    "changes",
    [
        {"base": timedelta(0)},
        {"base": -SECOND},
        {"base": timedelta(minutes=5), "cap": timedelta(minutes=1)},
        {"max_attempts": 0},
        {"max_attempts": -1},
        {"max_age": timedelta(0)},
        {"max_age": -SECOND},
    ],
)
def test_an_invalid_policy_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="retry policy"):
        RetryPolicy(**changes)  # type: ignore[arg-type]


def test_the_smallest_valid_policy_is_accepted() -> None:
    policy = RetryPolicy(base=SECOND, cap=SECOND, max_attempts=1, max_age=SECOND)
    assert policy.exhausted(1, NOW, NOW)
    assert SECOND / 2 <= policy.backoff(5, random.Random(3)) <= SECOND


def test_waits_are_the_policy_s_wait_for_every_count_until_it_stops_growing() -> None:
    """What a statement that learns the failure count itself is given (hub_finish_failures)."""
    policy = RetryPolicy()  # 2 s doubling to a 10 min cap: capped from the 10th failure on
    waits = policy.waits(None, FixedRandom(0.5))
    assert waits == tuple(policy.backoff(n, FixedRandom(0.5)) for n in range(1, 11))
    assert waits[-1] == policy.backoff(40, FixedRandom(0.5))  # the last holds for any higher count
    assert waits[-2] < waits[-1]
    assert policy.waits(timedelta(seconds=120), FixedRandom(0.5)) == (timedelta(seconds=120),)
    small = RetryPolicy(base=SECOND, cap=SECOND, max_attempts=1, max_age=SECOND)
    assert len(small.waits(None, FixedRandom(0.0))) == 1


def test_parking_is_parks_for_every_refusal_count_up_to_the_first_that_parks() -> None:
    policy = RetryPolicy(park_after=3)
    assert policy.parking() == (False, False, True)
    assert policy.parking()[-1] == policy.parks(7)
    assert RetryPolicy(park_after=1).parking() == (True,)


# -- classifying an HTTP answer -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (201, Verdict.DELIVERED),
        (202, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (299, Verdict.DELIVERED),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
        (504, Verdict.RETRY),
        (599, Verdict.RETRY),
        (408, Verdict.RETRY),
        (425, Verdict.RETRY),
        (429, Verdict.RETRY),
        (401, Verdict.ATTENTION),
        (403, Verdict.ATTENTION),
        (400, Verdict.PERMANENT),
        (404, Verdict.PERMANENT),
        (405, Verdict.PERMANENT),
        (409, Verdict.PERMANENT),
        (410, Verdict.PERMANENT),
        (413, Verdict.PERMANENT),
        (422, Verdict.PERMANENT),
        (451, Verdict.PERMANENT),
        (301, Verdict.RETRY),
        (302, Verdict.RETRY),
        (100, Verdict.RETRY),
    ],
)
def test_classify_http(status: int, verdict: Verdict) -> None:
    assert classify_http(status)[0] is verdict


def test_retry_after_is_read_only_for_retryable_answers() -> None:
    assert classify_http(429, "120", NOW) == (Verdict.RETRY, timedelta(seconds=120))
    assert classify_http(503, "7", NOW) == (Verdict.RETRY, timedelta(seconds=7))
    assert classify_http(503, None, NOW) == (Verdict.RETRY, None)
    assert classify_http(200, "120", NOW) == (Verdict.DELIVERED, None)
    assert classify_http(401, "120", NOW) == (Verdict.ATTENTION, None)
    assert classify_http(404, "120", NOW) == (Verdict.PERMANENT, None)


# -- Retry-After --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0),
        ("1", 1),
        ("120", 120),
        (" 120 ", 120),
        ("86400", 86400),
        ("99999999999", 10**7),
        ("9" * 5000, 10**7),
    ],
)
def test_retry_after_in_seconds(value: str, seconds: int) -> None:
    assert parse_retry_after(value, NOW) == timedelta(seconds=seconds)


def test_retry_after_as_an_http_date() -> None:
    later = "Tue, 19 May 2026 12:02:00 GMT"
    assert parse_retry_after(later, NOW) == timedelta(minutes=2)
    earlier = "Tue, 19 May 2026 11:00:00 GMT"
    assert parse_retry_after(earlier, NOW) == timedelta(0)
    # The obsolete RFC 850 form is still an HTTP-date.
    assert parse_retry_after("Tuesday, 19-May-26 12:00:30 GMT", NOW) == timedelta(seconds=30)


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "soon", "-5", "1.5", "12s", "0x10", "Tue, 99 Foo 2026", "19 May 2026 12:00:00"],
)
def test_unreadable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


@pytest.mark.parametrize(
    "value",
    ["\u00b2", "\u0661\u0662\u0660"],
    ids=["superscript-2", "arabic-indic"],
)
def test_retry_after_that_is_not_ascii_delay_seconds_is_ignored(value: str) -> None:
    assert parse_retry_after(value, NOW) is None
