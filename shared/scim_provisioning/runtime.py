"""The composition root: builds the stores, clock and services once per execution
environment (that is, once per cold start) and hands them to handlers; each service gets
only the stores it uses.

Each service's module is imported by the property that builds it, on first use, and the
DynamoDB stores by the first request that needs them: a function imports only the services it
calls (the token API never loads the SCIM filter grammar or the group rules), which is most of
the difference between a cold start and the floor (docs/cold-start.md).

Tests and the dev server replace the pieces with ``configure``; handlers never construct
anything themselves."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from scim_provisioning.clock import Clock, SystemClock
from scim_provisioning.config import DEFAULT_ACTIVITY_LOG_RETENTION_DAYS, Settings

if TYPE_CHECKING:
    from scim_provisioning.repository.protocols import EventBus, NotificationTopic, Stores
    from scim_provisioning.services.access_tokens import AccessTokenService
    from scim_provisioning.services.activity_ingest import ActivityIngestService
    from scim_provisioning.services.activity_log import ActivityLogService
    from scim_provisioning.services.authentication import Authenticator
    from scim_provisioning.services.change_events import ChangeEventPublisher
    from scim_provisioning.services.groups import GroupService
    from scim_provisioning.services.janitor import MembershipJanitor
    from scim_provisioning.services.memberships import MembershipWriter
    from scim_provisioning.services.organizations import OrganizationService
    from scim_provisioning.services.token_guardian import TokenGuardian
    from scim_provisioning.services.token_health import TokenHealthService
    from scim_provisioning.services.upgrades import UpgradeService
    from scim_provisioning.services.users import UserService


@dataclass
class Runtime:
    stores: Stores
    clock: Clock
    # How long activity entries, and the retired credentials they name, are kept.
    activity_retention: timedelta = timedelta(days=DEFAULT_ACTIVITY_LOG_RETENTION_DAYS)
    settings: Settings = field(default_factory=Settings.from_environment)
    # Where the token guardian and the change events publish; unset, the settings' bus and topic,
    # built on first use (only the functions that publish pay for the clients).
    bus: EventBus | None = None
    topic: NotificationTopic | None = None

    @cached_property
    def authenticator(self) -> Authenticator:
        from scim_provisioning.services.authentication import Authenticator

        return Authenticator(self.stores.credentials, self.stores.people, self.clock)

    @cached_property
    def access_tokens(self) -> AccessTokenService:
        from scim_provisioning.services.access_tokens import AccessTokenService

        return AccessTokenService(self.stores.scim_tokens, self.clock, self.activity_retention)

    @cached_property
    def activity_log(self) -> ActivityLogService:
        from scim_provisioning.services.activity_log import ActivityLogService

        return ActivityLogService(self.stores.activity)

    @cached_property
    def activity_ingest(self) -> ActivityIngestService:
        from scim_provisioning.services.activity_ingest import ActivityIngestService

        return ActivityIngestService(
            self.stores.activity, self.stores.token_health, self.stores.credentials, self.activity_retention
        )

    @cached_property
    def organizations(self) -> OrganizationService:
        from scim_provisioning.services.organizations import OrganizationService

        return OrganizationService(self.stores.organizations, self.stores.people, self.stores.api_keys, self.clock)

    @cached_property
    def upgrades(self) -> UpgradeService:
        from scim_provisioning.services.upgrades import UpgradeService

        stores = self.stores
        return UpgradeService(
            stores.organizations, stores.people, stores.scim_token_indexes, stores.memberships, self.janitor, self.clock
        )

    @cached_property
    def membership_writer(self) -> MembershipWriter:
        from scim_provisioning.services.memberships import MembershipWriter

        return MembershipWriter(self.stores.groups, self.stores.memberships, self.stores.people, self.clock)

    @cached_property
    def janitor(self) -> MembershipJanitor:
        from scim_provisioning.services.janitor import MembershipJanitor

        stores = self.stores
        return MembershipJanitor(stores.groups, stores.memberships, stores.people, self.membership_writer, self.clock)

    @cached_property
    def users(self) -> UserService:
        from scim_provisioning.services.users import UserService

        stores = self.stores
        return UserService(
            stores.people, stores.memberships, stores.groups, stores.page_bookmarks, self.membership_writer, self.clock
        )

    @cached_property
    def groups(self) -> GroupService:
        from scim_provisioning.services.groups import GroupService

        stores = self.stores
        return GroupService(
            stores.groups, stores.memberships, stores.people, stores.page_bookmarks, self.membership_writer, self.clock
        )

    @cached_property
    def token_health(self) -> TokenHealthService:
        from scim_provisioning.services.token_guardian import GuardianPolicy
        from scim_provisioning.services.token_health import TokenHealthService

        return TokenHealthService(
            self.stores.scim_tokens, self.stores.token_health, self.clock, GuardianPolicy.from_settings(self.settings)
        )

    @cached_property
    def change_events(self) -> ChangeEventPublisher:
        """The change-event publisher: the bus alone, no store (its function has no table access)."""
        from scim_provisioning.repository.messaging import event_bus
        from scim_provisioning.services.change_events import ChangeEventPublisher

        return ChangeEventPublisher(self.bus or event_bus(self.settings.event_bus_name, self.settings.region))

    @cached_property
    def token_guardian(self) -> TokenGuardian:
        from scim_provisioning.repository.messaging import event_bus, notification_topic
        from scim_provisioning.services.token_guardian import GuardianPolicy, TokenGuardian

        settings = self.settings
        return TokenGuardian(
            self.stores.scim_tokens,
            self.stores.scim_token_indexes,
            self.stores.token_notices,
            self.bus or event_bus(settings.event_bus_name, settings.region),
            self.topic or notification_topic(settings.token_notices_topic_arn, settings.region),
            self.clock,
            GuardianPolicy.from_settings(settings),
        )


_current: Runtime | None = None


class _StoresOnFirstUse:
    """The settings' DynamoDB stores, built when a service first asks for one: the change-event
    publisher never does, and so never imports the stores nor creates a DynamoDB client
    (≈80 ms of its cold start)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._built: Stores | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._built is None:
                from scim_provisioning.repository.dynamodb import stores_from_settings

                self._built = stores_from_settings(self._settings)
        return getattr(self._built, name)


def current() -> Runtime:
    """The runtime of this execution environment, built from the environment on first use."""
    global _current
    if _current is None:
        settings = Settings.from_environment()
        _current = Runtime(
            stores=cast("Stores", _StoresOnFirstUse(settings)),
            clock=SystemClock(),
            activity_retention=timedelta(days=settings.activity_log_retention_days),
            settings=settings,
        )
    return _current


def configure(
    stores: Stores | None = None,
    clock: Clock | None = None,
    bus: EventBus | None = None,
    topic: NotificationTopic | None = None,
) -> Runtime:
    """Replace the runtime (tests, dev server); unset pieces are built from the environment."""
    from scim_provisioning.repository.dynamodb import stores_from_settings

    global _current
    settings = Settings.from_environment()
    _current = Runtime(
        stores=stores or stores_from_settings(settings),
        clock=clock or SystemClock(),
        activity_retention=timedelta(days=settings.activity_log_retention_days),
        settings=settings,
        bus=bus,
        topic=topic,
    )
    return _current


def reset() -> None:
    global _current
    _current = None
