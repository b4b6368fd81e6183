"""The local organization and its admin, created on the first start of ``make dev``.

A developer needs an admin's API key before anything else works (every token API call is
``Authorization: ApiKey …``), so the dev server makes one organization with one admin and
remembers them in the state directory: a restart finds them again instead of creating a second
organization."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devserver.state_files import read_json, write_private_json
from scim_provisioning.credentials import digest
from scim_provisioning.models import CredentialKind
from scim_provisioning.repository.protocols import CredentialStore
from scim_provisioning.runtime import Runtime

LOCAL_ORGANIZATION_NAME = "Local organization"
LOCAL_ADMIN_EMAIL = "admin@localhost.test"
LOCAL_ADMIN_GIVEN_NAME = "Ada"
LOCAL_ADMIN_FAMILY_NAME = "Lovelace"


@dataclass(frozen=True)
class LocalAdmin:
    organization_uuid: str
    admin_uuid: str
    api_key: str


@dataclass(frozen=True)
class _BootstrapRecord:
    organization_uuid: str
    admin_uuid: str
    # The service stores API keys only as digests, so a key it generated could be shown on the
    # first start only. Keeping it here (the state directory is git-ignored and local, and this
    # file is readable by its owner only) lets every start print it again.
    generated_api_key: str | None


def _load_record(path: Path) -> _BootstrapRecord | None:
    document = read_json(path)
    if document is None:
        return None
    return _BootstrapRecord(
        organization_uuid=document["organizationUuid"],
        admin_uuid=document["adminUuid"],
        generated_api_key=document.get("generatedApiKey"),
    )


def _store_record(path: Path, record: _BootstrapRecord) -> None:
    write_private_json(
        path,
        {
            "organizationUuid": record.organization_uuid,
            "adminUuid": record.admin_uuid,
            "generatedApiKey": record.generated_api_key,
        },
    )


def _api_key_owner(credentials: CredentialStore, api_key: str) -> tuple[str, str] | None:
    """(organization, admin) of an existing API key, or None when no such key is stored."""
    credential = credentials.get_credential(digest(api_key))
    if credential is None or credential.kind is not CredentialKind.API_KEY or credential.user_uuid is None:
        return None
    return credential.organization_uuid, credential.user_uuid


def ensure_local_admin(app: Runtime, record_path: Path, requested_api_key: str | None) -> LocalAdmin:
    """Find or create the local organization's admin and an API key for it.

    ``requested_api_key`` (``SCIM_LOCAL_API_KEY``) is the key to use: if it exists, its owner is
    the local admin; if not, it is added to the admin. Without it, the key generated on the
    first start is used, or a new one when that key was revoked.

    The record is checked against the table, not trusted: when the table no longer holds its
    admin (a deleted snapshot, another ``DYNAMODB_ENDPOINT_URL``), a new organization is made."""
    record = _load_record(record_path)
    requested_key_owner = _api_key_owner(app.stores.credentials, requested_api_key) if requested_api_key else None
    owner = requested_key_owner
    recorded_admin = (
        None if record is None else app.stores.people.get_person(record.organization_uuid, record.admin_uuid)
    )
    if owner is None and recorded_admin is not None:
        owner = recorded_admin.organization_uuid, recorded_admin.uuid
        # A state directory from an earlier release may hold the admin in its old shape.
        app.upgrades.upgrade_person(recorded_admin)
    if owner is None:
        organization, admin = app.organizations.create_organization(
            LOCAL_ORGANIZATION_NAME, LOCAL_ADMIN_EMAIL, LOCAL_ADMIN_GIVEN_NAME, LOCAL_ADMIN_FAMILY_NAME
        )
        owner = organization.uuid, admin.uuid
    organization_uuid, admin_uuid = owner
    if app.stores.organizations.active_admin_count(organization_uuid) is None:
        # An organization from an earlier release's state directory: count its active admins,
        # which keep the last one from being demoted, deactivated or deleted through SCIM.
        app.upgrades.count_active_admins(organization_uuid)

    generated_api_key = None
    if record is not None and (record.organization_uuid, record.admin_uuid) == owner:
        generated_api_key = record.generated_api_key
    if generated_api_key is not None and _api_key_owner(app.stores.credentials, generated_api_key) != owner:
        generated_api_key = None  # revoked since

    if requested_api_key:
        if requested_key_owner is None:
            app.organizations.create_api_key(
                organization_uuid,
                admin_uuid,
                "Local admin key (SCIM_LOCAL_API_KEY)",
                secret=requested_api_key,
            )
        api_key = requested_api_key
    else:
        if generated_api_key is None:
            _, generated_api_key = app.organizations.create_api_key(
                organization_uuid, admin_uuid, "Local admin key (generated by make dev)"
            )
        api_key = generated_api_key

    _store_record(record_path, _BootstrapRecord(organization_uuid, admin_uuid, generated_api_key))
    return LocalAdmin(organization_uuid, admin_uuid, api_key)
