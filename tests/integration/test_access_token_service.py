"""The token rules on the real stores (moto) with a clock that only moves when told."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest

from scim_provisioning.errors import InvalidRequest, NotFound, Unauthenticated
from scim_provisioning.runtime import Runtime
from scim_provisioning.services.access_tokens import (
    EXPIRY_IN_PAST,
    EXPIRY_REQUIRED_FOR_ROTATION,
    NO_EXPIRY_CANNOT_ROTATE,
    ROTATED_WITHIN_HOUR,
)
from scim_provisioning.services.authentication import AdminPrincipal
from scim_provisioning.timestamps import format_timestamp
from tests.integration.helpers import AdminFixture, make_admin


def principal(admin: AdminFixture) -> AdminPrincipal:
    return AdminPrincipal(admin.organization_uuid, admin.user_uuid, "key")


def test_created_token_authenticates_for_its_organization(app_runtime: Runtime, admin: AdminFixture, clock):
    # Given a token minted with an expiry a week ahead
    token, secret = app_runtime.access_tokens.create(principal(admin), "Okta", clock.now() + timedelta(days=7))
    # When it is presented as a bearer token
    scim = app_runtime.authenticator.authenticate_scim(f"Bearer {secret}")
    # Then it acts for the admin's organization, as that token
    assert (scim.organization_uuid, scim.token_uuid) == (admin.organization_uuid, token.uuid)


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=-1), timedelta(days=-365)])
def test_expiry_must_be_in_the_future_on_create(app_runtime: Runtime, admin: AdminFixture, clock, offset):
    with pytest.raises(InvalidRequest, match=EXPIRY_IN_PAST):
        app_runtime.access_tokens.create(principal(admin), "Okta", clock.now() + offset)


def test_token_fails_once_expired_without_waiting(app_runtime: Runtime, admin: AdminFixture, clock):
    # Given a token that expires in one minute
    _, secret = app_runtime.access_tokens.create(principal(admin), "Okta", clock.now() + timedelta(minutes=1))
    app_runtime.authenticator.authenticate_scim(f"Bearer {secret}")
    # When the clock passes its expiry
    clock.advance(minutes=1)
    # Then it is refused as expired
    with pytest.raises(Unauthenticated, match="SCIM token has expired"):
        app_runtime.authenticator.authenticate_scim(f"Bearer {secret}")


def test_new_token_can_be_rotated_at_once_then_not_within_the_hour(app_runtime: Runtime, admin: AdminFixture, clock):
    service = app_runtime.access_tokens
    token, old_secret = service.create(principal(admin), "Okta", clock.now() + timedelta(days=7))
    # When rotated right after creation (only a previous rotation counts)
    rotated, new_secret = service.rotate(principal(admin), token.uuid, clock.now() + timedelta(days=14))
    # Then the old secret fails at once and the new one works
    assert rotated.rotated_at == clock.now()
    assert rotated.expires_at == clock.now() + timedelta(days=14)
    with pytest.raises(Unauthenticated):
        app_runtime.authenticator.authenticate_scim(f"Bearer {old_secret}")
    app_runtime.authenticator.authenticate_scim(f"Bearer {new_secret}")
    # And a second rotation within the hour is refused, 59:59 later too
    clock.advance(minutes=59, seconds=59)
    with pytest.raises(InvalidRequest, match=ROTATED_WITHIN_HOUR):
        service.rotate(principal(admin), token.uuid, clock.now() + timedelta(days=14))
    # But allowed once the hour has passed
    clock.advance(seconds=1)
    service.rotate(principal(admin), token.uuid, clock.now() + timedelta(days=14))


def test_token_without_expiry_cannot_be_rotated(app_runtime: Runtime, admin: AdminFixture, clock):
    token, _ = app_runtime.access_tokens.create(principal(admin), "Entra", None)
    with pytest.raises(InvalidRequest, match=NO_EXPIRY_CANNOT_ROTATE):
        app_runtime.access_tokens.rotate(principal(admin), token.uuid, clock.now() + timedelta(days=1))


def test_rotation_needs_a_future_expiry(app_runtime: Runtime, admin: AdminFixture, clock):
    token, _ = app_runtime.access_tokens.create(principal(admin), "Okta", clock.now() + timedelta(days=7))
    with pytest.raises(InvalidRequest, match="expiresAt is required"):
        app_runtime.access_tokens.rotate(principal(admin), token.uuid, None)
    assert EXPIRY_REQUIRED_FOR_ROTATION.startswith("expiresAt is required")
    with pytest.raises(InvalidRequest, match=EXPIRY_IN_PAST):
        app_runtime.access_tokens.rotate(principal(admin), token.uuid, clock.now() - timedelta(seconds=1))


def test_another_organizations_token_is_not_found(app_runtime: Runtime, admin: AdminFixture, clock):
    # Given a token of the first organization and an admin of a second one
    token, _ = app_runtime.access_tokens.create(principal(admin), "Okta", clock.now() + timedelta(days=7))
    other = make_admin(app_runtime, name="Globex", email="admin@globex.test")
    # Then the second admin can neither see, rotate nor revoke it
    with pytest.raises(NotFound):
        app_runtime.access_tokens.get(principal(other), token.uuid)
    with pytest.raises(NotFound):
        app_runtime.access_tokens.rotate(principal(other), token.uuid, clock.now() + timedelta(days=1))
    with pytest.raises(NotFound):
        app_runtime.access_tokens.revoke(principal(other), token.uuid)
    assert app_runtime.access_tokens.list(principal(other)) == []


def test_revoked_token_fails_at_once_and_is_gone(app_runtime: Runtime, admin: AdminFixture, clock):
    token, secret = app_runtime.access_tokens.create(principal(admin), "Okta", None)
    app_runtime.authenticator.authenticate_scim(f"Bearer {secret}")
    app_runtime.access_tokens.revoke(principal(admin), token.uuid)
    with pytest.raises(Unauthenticated):
        app_runtime.authenticator.authenticate_scim(f"Bearer {secret}")
    with pytest.raises(NotFound):
        app_runtime.access_tokens.get(principal(admin), token.uuid)
    with pytest.raises(NotFound):
        app_runtime.access_tokens.revoke(principal(admin), token.uuid)


def test_concurrent_rotations_have_exactly_one_winner(app_runtime: Runtime, admin: AdminFixture, clock):
    # Given a token and 8 threads released together to rotate it
    token, _ = app_runtime.access_tokens.create(principal(admin), "Okta", clock.now() + timedelta(days=7))
    start = threading.Barrier(8)
    outcomes: list[str] = []
    secrets: list[str] = []

    def rotate() -> None:
        start.wait()
        try:
            _, secret = app_runtime.access_tokens.rotate(principal(admin), token.uuid, clock.now() + timedelta(days=9))
            secrets.append(secret)
            outcomes.append("rotated")
        except InvalidRequest as refused:
            outcomes.append(refused.message)

    threads = [threading.Thread(target=rotate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly one rotation committed, the others were told why, and only its secret works
    possible_at = format_timestamp(clock.now() + timedelta(hours=1))
    assert Counter(outcomes) == Counter(
        {"rotated": 1, f"{ROTATED_WITHIN_HOUR}; next rotation possible after {possible_at}": 7}
    )
    app_runtime.authenticator.authenticate_scim(f"Bearer {secrets[0]}")


def test_an_expired_token_is_rotated_into_a_new_secret_and_the_old_one_stays_dead(
    app_runtime: Runtime, admin: AdminFixture, clock
):
    # Given a token that expired a day ago (its identity provider now gets 401s)
    service = app_runtime.access_tokens
    token, expired_secret = service.create(principal(admin), "Okta", clock.now() + timedelta(days=1))
    clock.advance(days=2)
    with pytest.raises(Unauthenticated, match="expired"):
        app_runtime.authenticator.authenticate_scim(f"Bearer {expired_secret}")

    # When the admin rotates it with a new expiry (the decision in docs/decisions.md: allowed)
    rotated, new_secret = service.rotate(principal(admin), token.uuid, clock.now() + timedelta(days=30))

    # Then the token keeps its identity (uuid, description, history) with a new secret and
    # expiry; the expired secret stays refused, now as a retired credential
    assert (rotated.uuid, rotated.description) == (token.uuid, "Okta")
    assert rotated.expires_at == clock.now() + timedelta(days=30)
    assert app_runtime.authenticator.authenticate_scim(f"Bearer {new_secret}").token_uuid == token.uuid
    with pytest.raises(Unauthenticated):
        app_runtime.authenticator.authenticate_scim(f"Bearer {expired_secret}")
