"""Pure rules of tokens: formats, digests, timestamps and the rotation refusal, on a fixed clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from benchmarks.harness import FixedClock
from scim_provisioning.credentials import digest, is_well_formed_scim_token, new_api_key, new_scim_token
from scim_provisioning.models import ScimTokenMetadata
from scim_provisioning.services.access_tokens import (
    NO_EXPIRY_CANNOT_ROTATE,
    ROTATED_WITHIN_HOUR,
    rotation_refusal,
)
from scim_provisioning.timestamps import format_timestamp, parse_timestamp, truncate_to_millis


def token(clock: FixedClock, *, expires: timedelta | None = timedelta(days=7), rotated_ago: timedelta | None = None):
    now = clock.now()
    return ScimTokenMetadata(
        uuid="t",
        organization_uuid="o",
        description="Okta",
        created_at=now - timedelta(days=1),
        expires_at=None if expires is None else now + expires,
        last_used_at=None,
        rotated_at=None if rotated_ago is None else now - rotated_ago,
    )


def test_scim_tokens_are_scim_and_32_lowercase_hex_and_never_repeat():
    tokens = {new_scim_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(re.fullmatch(r"scim_[0-9a-f]{32}", value) for value in tokens)
    assert all(is_well_formed_scim_token(value) for value in tokens)


def test_api_keys_differ_from_tokens_and_digests_hide_the_secret():
    key = new_api_key()
    assert not is_well_formed_scim_token(key)
    assert digest(key) != key and key not in digest(key)
    assert re.fullmatch(r"[0-9a-f]{64}", digest(key))


def test_timestamps_are_utc_millis_z_and_sort_as_strings():
    moment = datetime(2026, 12, 13, 17, 10, 4, 976543, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-12-13T17:10:04.976Z"
    assert parse_timestamp("2026-12-13T16:10:04.976Z") == truncate_to_millis(moment - timedelta(hours=1))
    earlier, later = format_timestamp(moment), format_timestamp(moment + timedelta(milliseconds=1))
    assert earlier < later


def test_a_never_rotated_token_may_rotate_at_once(clock):
    assert rotation_refusal(token(clock), clock.now()) is None


def test_a_token_without_expiry_may_never_rotate(clock):
    refusal = rotation_refusal(token(clock, expires=None), clock.now())

    assert refusal is not None and refusal.message == NO_EXPIRY_CANNOT_ROTATE
    assert refusal.retry_after_seconds is None  # waiting does not help


@pytest.mark.parametrize(
    ("rotated_ago", "refused"),
    [(timedelta(0), True), (timedelta(minutes=59, seconds=59, milliseconds=999), True), (timedelta(hours=1), False)],
)
def test_rotation_is_allowed_once_an_hour_after_the_previous_one(clock, rotated_ago, refused):
    refusal = rotation_refusal(token(clock, rotated_ago=rotated_ago), clock.now())
    assert (refusal is not None) == refused
    if refusal is not None:
        assert refusal.message.startswith(f"{ROTATED_WITHIN_HOUR}; next rotation possible after ")


def test_a_refused_rotation_says_when_the_next_one_is_possible(clock):
    """Given a token rotated 20 minutes and half a second ago, when it is rotated again, then the
    refusal names the moment the hour is over and Retry-After the seconds until then, rounded up."""
    rotated = token(clock, rotated_ago=timedelta(minutes=20, milliseconds=500))

    refusal = rotation_refusal(rotated, clock.now())

    assert refusal is not None
    possible_at = clock.now() + timedelta(minutes=39, seconds=59, milliseconds=500)
    assert refusal.message == f"{ROTATED_WITHIN_HOUR}; next rotation possible after {format_timestamp(possible_at)}"
    assert refusal.message.endswith("2026-11-28T12:39:59.500Z")
    assert refusal.retry_after_seconds == 40 * 60


def test_the_clock_moves_only_when_told():
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    before = clock.now()
    clock.advance(hours=1)
    assert clock.now() - before == timedelta(hours=1)
