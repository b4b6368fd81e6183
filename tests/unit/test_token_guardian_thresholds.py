"""The token guardian's threshold rule on its own, with the clock standing just before, at and
just after each horizon: which warning is due, and how many days the message says are left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scim_provisioning.config import Settings
from scim_provisioning.services.token_guardian import GuardianPolicy, days_left, expiry_threshold

EXPIRES_AT = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)
HORIZONS = (14, 7, 1)
TICK = timedelta(milliseconds=1)


def at(days_before_expiry: float, plus: timedelta = timedelta(0)) -> datetime:
    return EXPIRES_AT - timedelta(days=days_before_expiry) + plus


@pytest.mark.parametrize("horizon", HORIZONS)
def test_a_horizon_is_crossed_at_the_instant_that_many_days_remain(horizon: int) -> None:
    """Given a token expiring at EXPIRES_AT, when the clock is one millisecond before, exactly at,
    and one millisecond after `horizon` days before it, then the horizon's warning is not yet
    due, due, and still due."""
    before = expiry_threshold(EXPIRES_AT, at(horizon, -TICK), HORIZONS)
    exactly = expiry_threshold(EXPIRES_AT, at(horizon), HORIZONS)
    after = expiry_threshold(EXPIRES_AT, at(horizon, TICK), HORIZONS)

    assert before != horizon
    assert (exactly, after) == (horizon, horizon)


def test_before_the_earliest_horizon_nothing_is_due() -> None:
    """Given a token with 14 days and a millisecond left, then no warning is due."""
    assert expiry_threshold(EXPIRES_AT, at(14, -TICK), HORIZONS) is None


def test_only_the_most_urgent_crossed_horizon_is_due() -> None:
    """Given a token created 3 days before its expiry, when the guardian first sees it, then the
    7-day warning is due and the 14-day one never will be (it is less urgent)."""
    assert expiry_threshold(EXPIRES_AT, at(3), HORIZONS) == 7
    assert expiry_threshold(EXPIRES_AT, at(0.5), HORIZONS) == 1


def test_a_token_is_expired_from_its_expiry_instant_on() -> None:
    """Given the clock a millisecond before, at and after the expiry, then the 1-day warning is
    due, then expiry (0) at the instant itself, as authentication refuses the token then."""
    assert expiry_threshold(EXPIRES_AT, EXPIRES_AT - TICK, HORIZONS) == 1
    assert expiry_threshold(EXPIRES_AT, EXPIRES_AT, HORIZONS) == 0
    assert expiry_threshold(EXPIRES_AT, EXPIRES_AT + timedelta(days=1), HORIZONS) == 0


def test_a_rotated_token_starts_its_horizons_again_from_the_new_expiry() -> None:
    """Given a token warned at 7 days, when it is rotated to expire 30 days later, then at the
    same moment nothing is due for the new expiry, and its 14-day warning comes 16 days on."""
    now = at(7)
    rotated_expiry = now + timedelta(days=30)

    assert expiry_threshold(EXPIRES_AT, now, HORIZONS) == 7
    assert expiry_threshold(rotated_expiry, now, HORIZONS) is None
    assert expiry_threshold(rotated_expiry, now + timedelta(days=16), HORIZONS) == 14


def test_horizons_may_be_given_in_any_order() -> None:
    """Given the horizons as an operator may type them (1,14,7), then the same warnings are due."""
    for days in (13.5, 6, 0.2):
        assert expiry_threshold(EXPIRES_AT, at(days), (1, 14, 7)) == expiry_threshold(EXPIRES_AT, at(days), HORIZONS)


@pytest.mark.parametrize(
    ("left", "expected"),
    [(timedelta(days=10), 10), (timedelta(days=9, hours=1), 10), (timedelta(minutes=1), 1), (timedelta(0), 0)],
)
def test_days_left_are_whole_days_rounded_up(left: timedelta, expected: int) -> None:
    """Given time left before the expiry, then the days said are rounded up ("within 10 days"),
    and 0 once expired."""
    assert days_left(EXPIRES_AT, EXPIRES_AT - left) == expected
    assert days_left(EXPIRES_AT, EXPIRES_AT + timedelta(days=3)) == 0


def test_the_policy_reads_the_templates_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given the environment the template sets (TOKEN_EXPIRY_WARNING_DAYS "30,7", TOKEN_IDLE_DAYS
    21), then the policy warns 30 and 7 days ahead and calls a token idle after 21 days; unset,
    the defaults are 14, 7 and 1 days and 14 days."""
    for name in ("TOKEN_EXPIRY_WARNING_DAYS", "TOKEN_IDLE_DAYS", "SETTINGS_PAGE_URL"):
        monkeypatch.delenv(name, raising=False)
    default = GuardianPolicy.from_settings(Settings.from_environment())
    monkeypatch.setenv("TOKEN_EXPIRY_WARNING_DAYS", "30,7")
    monkeypatch.setenv("TOKEN_IDLE_DAYS", "21")
    monkeypatch.setenv("SETTINGS_PAGE_URL", "https://scim.example.com/settings/scim")

    policy = GuardianPolicy.from_settings(Settings.from_environment())

    assert (default.warning_days, default.idle_after) == ((14, 7, 1), timedelta(days=14))
    assert policy.warning_days == (30, 7) and policy.earliest_warning == timedelta(days=30)
    assert policy.idle_after == timedelta(days=21)
    assert policy.settings_page_url == "https://scim.example.com/settings/scim"
