"""The per-organization token bucket (shared/scim_provisioning/rate_limit.py), on a clock that
moves only when told."""

from __future__ import annotations

from scim_provisioning.rate_limit import OrganizationRateLimiter


class Clock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def test_a_burst_is_admitted_then_the_next_is_refused_with_when_to_retry():
    # Given a limit of 5 a second in bursts of 10
    clock = Clock()
    limiter = OrganizationRateLimiter(5, 10, now=clock)

    # When the organization sends 11 requests at once
    answers = [limiter.admit("acme") for _ in range(11)]

    # Then 10 pass and the 11th is refused, to be retried after a second (a token takes 0.2 s)
    assert answers[:10] == [None] * 10
    refusal = answers[10]
    assert refusal is not None and refusal.retry_after_seconds == 1


def test_tokens_come_back_at_the_rate():
    # Given an organization that spent its burst at 4 a second
    clock = Clock()
    limiter = OrganizationRateLimiter(4, 10, now=clock)
    for _ in range(10):
        limiter.admit("acme")
    assert limiter.admit("acme") is not None

    # When half a second passes, two tokens are back (and no more)
    clock.seconds += 0.5
    assert limiter.admit("acme") is None
    assert limiter.admit("acme") is None
    assert limiter.admit("acme") is not None

    # And after a long pause the bucket is full again, never fuller
    clock.seconds += 3600
    assert [limiter.admit("acme") for _ in range(11)].count(None) == 10


def test_organizations_have_buckets_of_their_own():
    clock = Clock()
    limiter = OrganizationRateLimiter(1, 2, now=clock)
    assert [limiter.admit("flooding") for _ in range(5)].count(None) == 2

    # Then another organization is untouched by the first one's flood
    assert limiter.admit("quiet") is None
    assert limiter.admit("quiet") is None


def test_a_slow_rate_says_to_retry_later():
    clock = Clock()
    limiter = OrganizationRateLimiter(0.1, 1, now=clock)
    limiter.admit("acme")
    refusal = limiter.admit("acme")
    assert refusal is not None and refusal.retry_after_seconds == 10


def test_one_refusal_a_second_is_logged_with_the_count_of_those_left_out():
    # Given an organization over its limit
    clock = Clock()
    limiter = OrganizationRateLimiter(1, 1, now=clock)
    limiter.admit("acme")

    # When it keeps sending within one second, then in the next
    first, second, third = (limiter.admit("acme") for _ in range(3))
    clock.seconds += 1.0
    limiter.admit("acme")  # the token of that second
    next_second = limiter.admit("acme")

    # Then the first refusal of each second is logged, the next one says how many were left out
    assert first is not None and first.logged and first.unlogged_before == 0
    assert second is not None and not second.logged
    assert third is not None and not third.logged
    assert next_second is not None and next_second.logged and next_second.unlogged_before == 2


def test_the_least_recently_seen_organization_is_forgotten_beyond_the_bound():
    clock = Clock()
    limiter = OrganizationRateLimiter(1, 1, now=clock, max_organizations=2)
    limiter.admit("a")
    limiter.admit("b")
    limiter.admit("c")  # "a" is forgotten: it starts with a full bucket again

    assert limiter.admit("a") is None
    assert limiter.admit("c") is not None


def test_a_rate_of_zero_turns_limiting_off():
    limiter = OrganizationRateLimiter(0, 1, now=Clock())
    assert all(limiter.admit("acme") is None for _ in range(1000))
