"""One chaos run: the dev server (``python -m devserver``, what ``make dev`` runs) with its
DynamoDB behind the fault proxy, the Okta- and Entra-shaped workloads over HTTP at once, then
(faults off, the janitor and the activity ingest drained) the whole table read and checked.

    embedded DynamoDB (moto) ← fault proxy ← dev server (handlers, activity ingest, janitor)
                                                 ↑ HTTP
                                   Okta workload, Entra workload (their admins too)

The proxy faults the data-plane requests of everything in the dev server, the activity ingest
and the membership janitor included (they meet the same DynamoDB in AWS); the dev server's
reading of the table's stream is left alone, as it stands for Lambda's event source mapping,
not for the service's code. Which requests fail is a pure function of the seed and each
operation's occurrence (``FaultPolicy``), and the workloads' operations of the seed; the threads'
interleaving is the machine's, so two runs of a seed fault the same share of requests, not
always the same ones.

Draining: after the last answer, the run waits until the proxy has seen no request for
``QUIET_SECONDS`` and the janitor's wait for GSI1 after a user's deletion (``GSI_CATCH_UP``)
has passed, and until no large change is unfinished (the janitor completes one once stale:
``STALE_AFTER``); then it stops the dev server, which delivers the activity records still queued."""

from __future__ import annotations

import re
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from chaos.checker import Inconsistency, TableContents, table_inconsistencies
from chaos.client import Client, Exchanges
from chaos.ledger import ActivityTally, Ledger, activity_tally
from chaos.workload import Admin, EntraWorkload, Sizes, Workload, mint_token
from devserver.dynamodb_proxy import DATA_OPERATIONS, DynamoDBProxy, Fault, FaultPolicy
from devserver.embedded_dynamodb import EmbeddedDynamoDB
from devserver.environment import provide_aws_defaults
from devserver.template import create_table
from scim_provisioning.clock import SystemClock
from scim_provisioning.config import LOCAL_TABLE_NAME
from scim_provisioning.repository.dynamodb import dynamodb_stores
from scim_provisioning.runtime import Runtime
from scim_provisioning.services.janitor import GSI_CATCH_UP
from scim_provisioning.services.memberships import STALE_AFTER
from tests.e2e.helpers import DevServer, start_dev_server

QUIET_SECONDS = 2.0
DRAIN_LIMIT_SECONDS = STALE_AFTER.total_seconds() + 60  # a stale large change, then its completion
# What the dev server's stderr says when a background consumer gave up on a batch (in AWS the
# batch goes to an alarmed queue for an operator to replay). A failed attempt's traceback is
# not one (Lambda invokes the batch again), nor a warning's (a degraded answer, as designed);
# a handler that crashed answers 500, which the answers' check reports.
_BACKGROUND_FAILURES = re.compile(r"gave up")

FULL = Sizes(users=40, groups=6, members=6, large_group=50, churn=3, threads=4)
SLICE = Sizes(users=3, groups=2, members=2, large_group=0, churn=0, threads=3)


@dataclass
class RunReport:
    rate: float
    seed: int
    seconds: float
    phases: dict[str, float]  # seconds of setup (servers, organizations, tokens), workload, drain
    requests: int
    statuses: Counter[int | None]
    dynamodb_requests: int
    faults: Counter[str]
    activity: ActivityTally
    inconsistencies: list[Inconsistency]
    background_failures: list[str] = field(default_factory=list)

    @property
    def orphans(self) -> int:
        return sum(1 for found in self.inconsistencies if found.rule == "orphaned membership")

    @property
    def lost_entries(self) -> int:
        return sum(1 for found in self.inconsistencies if found.rule == "lost activity entry")

    @property
    def clean(self) -> bool:
        return not self.inconsistencies and not self.background_failures

    def lines(self) -> list[str]:
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items(), key=str))
        faults = ", ".join(f"{kind} {count}" for kind, count in sorted(self.faults.items())) or "none"
        refused = ", ".join(f"{status}: {n}" for status, n in sorted(self.activity.refused_without_entry.items()))
        lines = [
            f"fault rate {self.rate:.0%}, seed {self.seed}: {self.seconds:.0f} s ("
            + ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in self.phases.items())
            + ")",
            f"  requests {self.requests} ({statuses})",
            f"  DynamoDB requests {self.dynamodb_requests}, faults injected {sum(self.faults.values())}: {faults}",
            f"  activity entries: {self.activity.found} of {self.activity.expected} logged requests"
            + (f"; refused before their organization was known or not sampled: {refused}" if refused else ""),
            f"  inconsistencies {len(self.inconsistencies)}, orphaned memberships {self.orphans}, "
            f"lost activity entries {self.lost_entries}, background failures {len(self.background_failures)}",
        ]
        lines += [f"    {found}" for found in self.inconsistencies[:50]]
        lines += [f"    {failure}" for failure in self.background_failures[:20]]
        return lines


@contextmanager
def _faulty_dynamodb() -> Iterator[tuple[EmbeddedDynamoDB, DynamoDBProxy, Any]]:
    region = provide_aws_defaults()  # dummy credentials unless the shell has some: never used
    embedded = EmbeddedDynamoDB("127.0.0.1", 0).start()
    proxy = DynamoDBProxy(embedded.endpoint_url).start()
    direct = boto3.client("dynamodb", endpoint_url=embedded.endpoint_url, region_name=region)
    create_table(direct, LOCAL_TABLE_NAME)
    try:
        yield embedded, proxy, direct
    finally:
        proxy.stop()
        # moto's tables live in the process, not in the server: the next run makes its own
        direct.delete_table(TableName=LOCAL_TABLE_NAME)
        embedded.stop()


def _organization(direct: Any, name: str, email: str) -> tuple[str, str]:
    """An operator's organization with its admin's API key (what ``scim-admin`` does), written
    straight to the table before the run: (organization uuid, API key)."""
    service = Runtime(stores=dynamodb_stores(direct, LOCAL_TABLE_NAME), clock=SystemClock()).organizations
    organization, admin = service.create_organization(name, email, "Ada", "Admin")
    _, secret = service.create_api_key(organization.uuid, admin.uuid, "chaos")
    return organization.uuid, secret


def _drain(proxy: DynamoDBProxy, direct: Any, answered_at: float) -> None:
    deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
    settle = max(answered_at + GSI_CATCH_UP.total_seconds() + QUIET_SECONDS, 0.0)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        last = max((e.ended for e in proxy.exchanges() if e.operation in DATA_OPERATIONS), default=0.0)
        now = time.monotonic()
        if now < settle or now - last < QUIET_SECONDS:
            continue
        contents = TableContents.read(direct, LOCAL_TABLE_NAME)
        if not any(found.rule == "pending change" for found in table_inconsistencies(contents)):
            return


def chaos_run(
    rate: float, seed: int, sizes: Sizes = FULL, kinds: tuple[Fault, ...] = tuple(Fault), state_dir: Path | None = None
) -> RunReport:
    """One run at ``rate`` (the share of DynamoDB requests faulted, each with one of ``kinds``
    alike); the dev server's state and log in ``state_dir`` (a temporary folder if None)."""
    started = time.monotonic()
    phases: dict[str, float] = {}
    with _faulty_dynamodb() as (_, proxy, direct), tempfile.TemporaryDirectory() as scratch:
        directory = state_dir or Path(scratch)
        okta_org, okta_key = _organization(direct, "Okta Corp", "admin@okta-corp.test")
        entra_org, entra_key = _organization(direct, "Entra Corp", "admin@entra-corp.test")
        server = start_dev_server(
            directory / "state", directory / "dev-server.log", environment={"DYNAMODB_ENDPOINT_URL": proxy.endpoint_url}
        )
        try:
            exchanges, ledger = Exchanges(), Ledger()
            workloads = [
                _workload(Workload, server, okta_org, okta_key, exchanges, ledger, sizes, seed),
                _workload(EntraWorkload, server, entra_org, entra_key, exchanges, ledger, sizes, seed),
            ]
            for organization, items in TableContents.read(direct, LOCAL_TABLE_NAME).organizations.items():
                ledger.organization(organization).baseline_users = set(items.users)
            proxy.clear()
            proxy.faults = FaultPolicy(rate, kinds, seed, DATA_OPERATIONS)
            phases["setup"] = time.monotonic() - started
            _run_all(workloads)
            proxy.faults = None
            phases["workload"] = time.monotonic() - started - phases["setup"]
            _drain(proxy, direct, time.monotonic())
            phases["drain"] = time.monotonic() - started - phases["setup"] - phases["workload"]
        finally:
            stopped = server.stop(signal.SIGTERM)
        log = server.log()
        contents = TableContents.read(direct, LOCAL_TABLE_NAME)
        sent = exchanges.all()
        tally, _ = activity_tally(contents, sent)
        found = table_inconsistencies(contents) + ledger.inconsistencies(contents, sent)
        failures = [line for line in log.splitlines() if _BACKGROUND_FAILURES.search(line)]
        if stopped != 0:
            failures.append(f"the dev server exited with {stopped}")
        recorded = [exchange for exchange in proxy.exchanges() if exchange.operation in DATA_OPERATIONS]
        return RunReport(
            rate=rate,
            seed=seed,
            seconds=time.monotonic() - started,
            phases=phases,
            requests=len(sent),
            statuses=Counter(exchange.status for exchange in sent),
            dynamodb_requests=len(recorded),
            faults=Counter(exchange.fault.name for exchange in recorded if exchange.fault is not None),
            activity=tally,
            inconsistencies=found,
            background_failures=failures,
        )


def _workload(
    kind: type[Workload],
    server: DevServer,
    organization: str,
    api_key: str,
    exchanges: Exchanges,
    ledger: Ledger,
    sizes: Sizes,
    seed: int,
) -> Workload:
    ledger.organization(organization)
    admin_client = Client(server.base_url, organization, lambda: f"ApiKey {api_key}", exchanges, "application/json")
    admin: Admin = mint_token(admin_client, f"{kind.style} SCIM")
    client = Client(server.base_url, organization, lambda: admin.authorization, exchanges)
    return kind(client, admin, ledger, sizes, seed)


def _run_all(workloads: list[Workload]) -> None:
    """Each workload on its own thread, at once; an exception in one fails the run."""
    errors: list[BaseException] = []

    def run(workload: Workload) -> None:
        try:
            workload.run()
        except BaseException as error:
            errors.append(error)
            raise

    threads = [threading.Thread(target=run, args=(workload,), name=workload.style) for workload in workloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
