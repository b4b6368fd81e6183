"""The token guardian's run on moto: the real stores and sparse indexes, the real EventBridge
and SNS adapters on moto's bus and topic (each subscribed by a queue the test reads, as a
consumer would), a clock moved instead of slept, and two runs racing on real threads."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest

from benchmarks import guardian_costs
from benchmarks.harness import FixedClock
from devserver.events import LambdaContext
from scim_provisioning import runtime
from scim_provisioning.models import CredentialKind, ScimTokenMetadata
from scim_provisioning.repository.messaging import EVENT_SOURCE, EventBridgeBus, PublishFailed, SnsTopic
from scim_provisioning.repository.protocols import EventBus, Stores
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from scim_provisioning.services.authentication import AdminPrincipal
from scim_provisioning.services.token_guardian import CLAIM_LEASE, GuardianPolicy, TokenGuardian
from scim_provisioning.timestamps import format_timestamp
from tests.integration.helpers import AdminFixture, make_admin, run_in_threads

SETTINGS_PAGE_URL = "https://scim.example.com/settings/scim"


@dataclass
class Outbox:
    """The bus and topic the guardian publishes to, and a queue behind each that receives what
    a subscriber would: every event of the service's source, every notification."""

    bus: EventBridgeBus
    topic: SnsTopic
    events_queue: str
    notifications_queue: str

    def _drain(self, queue_url: str) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name="us-east-1")
        bodies = []
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    def events(self) -> list[dict[str, Any]]:
        """The events delivered since the last call, as an EventBridge rule's target gets them."""
        return self._drain(self.events_queue)

    def notifications(self) -> list[dict[str, Any]]:
        """The SNS notifications delivered since the last call (SNS's JSON envelope)."""
        return self._drain(self.notifications_queue)


def _queue(name: str) -> tuple[str, str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


@pytest.fixture
def outbox(aws_mock: None, table_name: str) -> Outbox:
    events = boto3.client("events", region_name="us-east-1")
    sns = boto3.client("sns", region_name="us-east-1")
    events.create_event_bus(Name=table_name)
    events_url, events_arn = _queue(f"{table_name}-events")
    events.put_rule(Name="everything", EventBusName=table_name, EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
    events.put_targets(Rule="everything", EventBusName=table_name, Targets=[{"Id": "queue", "Arn": events_arn}])
    topic_arn = sns.create_topic(Name=table_name)["TopicArn"]
    notifications_url, notifications_arn = _queue(f"{table_name}-notices")
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=notifications_arn)
    return Outbox(EventBridgeBus(events, table_name), SnsTopic(sns, topic_arn), events_url, notifications_url)


@pytest.fixture
def guardian_runtime(
    stores: Stores, clock: FixedClock, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    """The runtime on this test's table and clock, its guardian publishing to ``outbox``."""
    monkeypatch.setenv("SETTINGS_PAGE_URL", SETTINGS_PAGE_URL)
    yield runtime.configure(stores=stores, clock=clock, bus=outbox.bus, topic=outbox.topic)
    runtime.reset()


def guardian(app_runtime: Runtime, outbox: Outbox, clock: FixedClock, bus: EventBus | None = None) -> TokenGuardian:
    """Another run's guardian (another invocation) on the same table and outbox, with its own
    clock, and its own bus when given."""
    return TokenGuardian(
        app_runtime.stores.scim_tokens,
        app_runtime.stores.scim_token_indexes,
        app_runtime.stores.token_notices,
        bus or outbox.bus,
        outbox.topic,
        clock,
        GuardianPolicy.from_settings(app_runtime.settings),
    )


@pytest.fixture
def owner(guardian_runtime: Runtime) -> AdminFixture:
    return make_admin(guardian_runtime)


def principal(admin: AdminFixture) -> AdminPrincipal:
    return AdminPrincipal(admin.organization_uuid, admin.user_uuid, "key")


def mint(
    app_runtime: Runtime, admin: AdminFixture, expires_in: timedelta | None, name: str = "Okta"
) -> ScimTokenMetadata:
    expires_at = None if expires_in is None else app_runtime.clock.now() + expires_in
    token, _ = app_runtime.access_tokens.create(principal(admin), name, expires_at)
    return token


def use(app_runtime: Runtime, token: ScimTokenMetadata) -> None:
    """The identity provider called with the token now: its lastUsedAt is stamped, as the
    activity ingest stamps it from the request's record."""
    now = app_runtime.clock.now()
    stamped = app_runtime.stores.credentials.stamp_last_used(
        token.organization_uuid, CredentialKind.SCIM_TOKEN, token.uuid, now, now
    )
    assert stamped


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(event["detail-type"], event["detail"].get("thresholdDays")) for event in events]


# ------------------------------------------------------------------------ expiry
def test_a_token_expiring_in_10_days_is_warned_once_per_threshold_until_it_expires(
    guardian_runtime: Runtime, owner: AdminFixture, outbox: Outbox, clock: FixedClock
) -> None:
    """Given a token created with an expiry 10 days away, when the guardian runs three times,
    then exactly one 14-day warning event and one e-mail went out; when the clock reaches 7 days,
    1 day and the expiry (several runs each), then one 7-day and one 1-day warning follow, then
    ScimTokenExpired, and nothing more."""
    token = mint(guardian_runtime, owner, timedelta(days=10))
    use(guardian_runtime, token)
    sent: list[tuple[str, int | None]] = []

    for _ in range(3):
        guardian_runtime.token_guardian.run()
    first = outbox.events()
    (mail,) = outbox.notifications()
    sent += kinds(first)
    for days_before in (7, 1, 0):
        clock.current = token.expires_at - timedelta(days=days_before)  # type: ignore[operator]
        for _ in range(2):
            guardian_runtime.token_guardian.run()
        sent += kinds(outbox.events())
        assert len(outbox.notifications()) == 1
    clock.advance(days=1)
    guardian_runtime.token_guardian.run()

    assert kinds(first) == [("ScimTokenExpiring", 14)]
    assert sent == [
        ("ScimTokenExpiring", 14),
        ("ScimTokenExpiring", 7),
        ("ScimTokenExpiring", 1),
        ("ScimTokenExpired", None),
    ]
    assert outbox.events() == [] and outbox.notifications() == []
    detail = first[0]["detail"]
    assert detail["organizationUuid"] == owner.organization_uuid and detail["tokenUuid"] == token.uuid
    assert (detail["description"], detail["daysLeft"]) == ("Okta", 10)
    assert detail["lastUsedAt"] == format_timestamp(token.created_at)
    assert detail["expiresAt"] == format_timestamp(token.expires_at) == "2026-12-08T12:00:00.000Z"
    assert mail["Subject"] == "SCIM token expires within 10 days"
    assert '"Okta"' in mail["Message"] and SETTINGS_PAGE_URL in mail["Message"] and "Rotate" in mail["Message"]
    assert mail["MessageAttributes"]["organizationUuid"]["Value"] == owner.organization_uuid


def test_rotating_a_warned_token_stops_its_warnings_and_starts_them_again_for_the_new_expiry(
    guardian_runtime: Runtime, owner: AdminFixture, outbox: Outbox, clock: FixedClock
) -> None:
    """Given a token warned 10 days before its expiry, when the admin rotates it to expire in 60
    days, then no warning follows for the old date (not at 7 days, not at expiry), and the new
    expiry gets its own 14-day warning 46 days later."""
    token = mint(guardian_runtime, owner, timedelta(days=10))
    use(guardian_runtime, token)
    guardian_runtime.token_guardian.run()
    assert kinds(outbox.events()) == [("ScimTokenExpiring", 14)]

    rotated, _ = guardian_runtime.access_tokens.rotate(principal(owner), token.uuid, clock.now() + timedelta(days=60))
    for days in (3, 10, 45):
        clock.current = token.created_at + timedelta(days=days)
        guardian_runtime.token_guardian.run()
    silent = outbox.events()
    clock.current = rotated.expires_at - timedelta(days=14)  # type: ignore[operator]
    guardian_runtime.token_guardian.run()

    assert silent == []
    (event,) = outbox.events()
    assert kinds([event]) == [("ScimTokenExpiring", 14)]
    assert event["detail"]["expiresAt"] != token.expires_at and event["detail"]["daysLeft"] == 14


def test_tokens_without_expiry_and_revoked_tokens_are_never_warned(
    guardian_runtime: Runtime, owner: AdminFixture, outbox: Outbox, clock: FixedClock
) -> None:
    """Given a token without expiry (in use) and one revoked 5 days before its expiry, when the
    guardian runs before, at and after that expiry, then nothing is published about either."""
    use(guardian_runtime, mint(guardian_runtime, owner, None, "No expiry"))
    revoked = mint(guardian_runtime, owner, timedelta(days=20), "Revoked")
    clock.advance(days=15)
    guardian_runtime.access_tokens.revoke(principal(owner), revoked.uuid)

    for days in (0, 5, 6):
        clock.advance(days=days)
        guardian_runtime.token_guardian.run()

    assert outbox.events() == [] and outbox.notifications() == []


def test_two_runs_racing_send_each_warning_exactly_once(
    guardian_runtime: Runtime, owner: AdminFixture, outbox: Outbox, clock: FixedClock
) -> None:
    """Given ten tokens of two organizations expiring within a week, when two guardian runs
    (two invocations, as a retried schedule would make) start at the same instant on two
    threads, five times over, then each token got exactly one warning event and one e-mail, and
    the two runs split the work between them."""
    other = make_admin(guardian_runtime, "Globex", "admin@globex.test")
    tokens = [
        mint(guardian_runtime, admin, timedelta(days=6, hours=index)) for index in range(5) for admin in (owner, other)
    ]
    runs = [guardian(guardian_runtime, outbox, FixedClock(clock.now())) for _ in range(2)]

    results = []
    for _ in range(5):
        results += run_in_threads([run.run for run in runs])

    events = outbox.events()
    assert Counter(event["detail"]["tokenUuid"] for event in events) == Counter({token.uuid: 1 for token in tokens})
    assert {event["detail"]["thresholdDays"] for event in events} == {7}
    assert len(outbox.notifications()) == len(tokens)
    assert sum(len(result.events) for result in results) == len(tokens)
    assert sum(result.already_told for result in results) == 10 * len(tokens) - len(tokens)


class _FailingBus:
    def publish(self, events: list[Any]) -> None:
        raise PublishFailed("EventBridge refused 1 events")


def test_a_run_that_died_before_publishing_is_taken_over_once_its_claims_are_stale(
    guardian_runtime: Runtime, owner: AdminFixture, outbox: Outbox, clock: FixedClock
) -> None:
    """Given a run that claimed a warning and then failed to publish it, when another run comes
    while the claim is fresh, then it leaves the warning alone; when one comes after the lease,
    then it sends the warning, once."""
    mint(guardian_runtime, owner, timedelta(days=5))
    dying = guardian(guardian_runtime, outbox, clock, bus=_FailingBus())

    with pytest.raises(PublishFailed):
        dying.run()
    clock.current += CLAIM_LEASE - timedelta(seconds=1)
    during_lease = guardian_runtime.token_guardian.run()
    clock.advance(seconds=2)
    after_lease = guardian_runtime.token_guardian.run()
    again = guardian_runtime.token_guardian.run()

    assert (len(during_lease.events), during_lease.already_told) == (0, 1)
    assert len(after_lease.events) == 1 and again.events == []
    assert kinds(outbox.events()) == [("ScimTokenExpiring", 7)]
    assert len(outbox.notifications()) == 1


def test_the_run_reports_each_organizations_days_to_its_earliest_expiry(
    guardian_runtime: Runtime, owner: AdminFixture, clock: FixedClock
) -> None:
    """Given an organization with tokens expiring in 3.5 and 9 days and one expiring in 90, and
    another organization with a token expired a day ago, then the run reports 3.5 days for the
    first and 0 for the second, and nothing for an organization whose tokens are far off."""
    other = make_admin(guardian_runtime, "Globex", "admin@globex.test")
    calm = make_admin(guardian_runtime, "Initech", "admin@initech.test")
    mint(guardian_runtime, owner, timedelta(days=3, hours=12))
    mint(guardian_runtime, owner, timedelta(days=9))
    mint(guardian_runtime, owner, timedelta(days=90))
    mint(guardian_runtime, other, timedelta(days=1))
    mint(guardian_runtime, calm, timedelta(days=90))
    clock.advance(days=2)

    run = guardian_runtime.token_guardian.run()

    assert run.earliest_expiry_days == {owner.organization_uuid: 1.5, other.organization_uuid: 0.0}


# ------------------------------------------------------------ stale and unused
def test_a_token_never_used_in_its_first_week_is_flagged_once(
    guardian_runtime: Runtime, owner: AdminFixture, outbox: Outbox, clock: FixedClock
) -> None:
    """Given two tokens created at the same time, one used by its identity provider and one not,
    when the guardian runs just before, at and after 7 days, then only the unused one is flagged
    (ScimTokenNeverUsed, no e-mail), at 7 days, once."""
    unused = mint(guardian_runtime, owner, None, "Entra (never set up)")
    used = mint(guardian_runtime, owner, None, "Okta")
    clock.advance(days=1)
    use(guardian_runtime, used)

    clock.current = unused.created_at + timedelta(days=7) - timedelta(milliseconds=1)
    guardian_runtime.token_guardian.run()
    before = outbox.events()
    for _ in range(2):
        clock.advance(milliseconds=1)
        guardian_runtime.token_guardian.run()
    clock.advance(days=3)
    guardian_runtime.token_guardian.run()

    assert before == []
    (event,) = outbox.events()
    assert (event["detail-type"], event["detail"]["tokenUuid"]) == ("ScimTokenNeverUsed", unused.uuid)
    assert event["detail"]["lastUsedAt"] is None
    assert event["detail"]["createdAt"] == format_timestamp(unused.created_at)
    assert outbox.notifications() == []


def test_a_token_quiet_while_its_organization_keeps_provisioning_is_flagged_idle(
    guardian_runtime: Runtime, owner: AdminFixture, outbox: Outbox, clock: FixedClock
) -> None:
    """Given an organization whose old token was last used 14 days ago while its new token is
    used every day, and another organization whose only token was last used 14 days ago, when
    the guardian runs, then the old token is flagged idle (once), the lone quiet one is not."""
    quiet_alone = make_admin(guardian_runtime, "Globex", "admin@globex.test")
    old = mint(guardian_runtime, owner, None, "Okta (old)")
    new = mint(guardian_runtime, owner, None, "Okta")
    lone = mint(guardian_runtime, quiet_alone, None, "Entra")
    use(guardian_runtime, old)
    use(guardian_runtime, lone)
    for _ in range(14):
        clock.advance(days=1)
        use(guardian_runtime, new)

    clock.advance(hours=1)
    guardian_runtime.token_guardian.run()
    guardian_runtime.token_guardian.run()

    idle = [event for event in outbox.events() if event["detail-type"] == "ScimTokenIdle"]
    (event,) = idle
    assert event["detail"]["tokenUuid"] == old.uuid
    assert event["detail"]["idleDays"] == 14
    assert event["detail"]["organizationLastUsedAt"] > event["detail"]["lastUsedAt"]


# ------------------------------------------------------------ scheduled function
def scheduled_event(clock: FixedClock) -> dict[str, Any]:
    """What EventBridge Scheduler hands the function (its payload is not read)."""
    return {"source": "aws.scheduler", "time": format_timestamp(clock.now())}


def test_the_scheduled_function_publishes_and_emits_each_organizations_earliest_expiry_metric(
    guardian_runtime: Runtime,
    owner: AdminFixture,
    outbox: Outbox,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given a token 36 hours from its expiry, when the scheduled function runs with metrics on,
    then it publishes the 7-day warning and prints one CloudWatch EMF line: the metric
    DaysToEarliestTokenExpiry = 1.5 for the organization and the stage, which the token-expiry
    alarm reads; its answer counts what it did."""
    from functions.token_guardian import handler

    mint(guardian_runtime, owner, timedelta(hours=36))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("STAGE", "prod")
    capsys.readouterr()

    summary = handler.lambda_handler(scheduled_event(clock), LambdaContext("TokenGuardianFunction"))

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (metric,) = [line for line in lines if handler.EARLIEST_EXPIRY_METRIC in line]
    (directive,) = metric["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "ScimProvisioning"
    # The alarm's Metrics Insights query names exactly these dimensions (template.yaml).
    assert directive["Dimensions"] == [["Stage", "OrganizationUuid", "service"]]
    assert (metric["Stage"], metric["OrganizationUuid"], metric["service"]) == (
        "prod",
        owner.organization_uuid,
        "scim-provisioning",
    )
    assert metric[handler.EARLIEST_EXPIRY_METRIC] == [1.5]
    assert summary == {"events": 1, "notifications": 1, "alreadyTold": 0, "organizationsExpiringSoon": 1}
    assert kinds(outbox.events()) == [("ScimTokenExpiring", 7)]


# ------------------------------------------------------------------------- cost
def test_a_runs_requests_do_not_grow_with_organizations_that_have_nothing_to_report(
    dynamodb_client: Any, table_name: str
) -> None:
    """Given the benchmark's foreground (two tokens expiring, one unused after its first week,
    one idle) beside 10 and beside 300 organizations with healthy tokens (make bench: 10,000),
    when the guardian runs, and again at the same instant, then both runs make the same requests
    at both sizes, the first reports the four tokens, and the second writes nothing."""
    small = guardian_costs.measure_on(dynamodb_client, f"{table_name}-10", 10)
    large = guardian_costs.measure_on(dynamodb_client, f"{table_name}-300", 300)

    assert guardian_costs.failures([small, large]) == []
    assert small.first.requests == large.first.requests and small.again.requests == large.again.requests
    assert (small.events, small.notifications) == (guardian_costs.EXPECTED_EVENTS, 2)
    assert small.again.writes == 0


# ---------------------------------------------------------------------- upgrade
def test_the_upgrade_indexes_tokens_an_earlier_release_wrote_so_they_are_warned_too(
    guardian_runtime: Runtime, owner: AdminFixture, outbox: Outbox, clock: FixedClock, table: Table
) -> None:
    """Given two tokens as releases before 2026-12-01 stored them (no guardian index entries), one
    expiring in 5 days and used, when the guardian runs it finds neither; when `scim-admin upgrade`
    has run, then the expiring one is warned, the used one's last use is indexed, and a second
    upgrade writes nothing."""
    expiring = mint(guardian_runtime, owner, timedelta(days=5))
    used = mint(guardian_runtime, owner, None, "Entra")
    for token in (expiring, used):
        use(guardian_runtime, token)
    for item in table.scan({}):
        if item.get("ownerUuid") in (expiring.uuid, used.uuid) or item.get("uuid") in (expiring.uuid, used.uuid):
            table.update_item(item["PK"], item["SK"], UpdateExpression="REMOVE GSI1PK, GSI1SK, GSI2PK")

    before = guardian_runtime.token_guardian.run()
    first = guardian_runtime.upgrades.upgrade_all()
    second = guardian_runtime.upgrades.upgrade_all()
    after = guardian_runtime.token_guardian.run()

    assert before.events == []
    assert first.scim_tokens_indexed == 3  # the expiring token's credential, both metadata items
    assert second.scim_tokens_indexed == 0
    assert kinds(outbox.events()) == [("ScimTokenExpiring", 7)]
    assert [event.detail["tokenUuid"] for event in after.events] == [expiring.uuid]
    last_used = guardian_runtime.stores.scim_token_indexes.scim_tokens_last_used_between(clock.now(), clock.now())
    assert sorted(last_used) == sorted([(owner.organization_uuid, expiring.uuid), (owner.organization_uuid, used.uuid)])
