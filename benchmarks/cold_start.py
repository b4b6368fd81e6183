"""Cold start of each function as Lambda pays it, against the floor every Python function on
boto3 pays anyway (docs/cold-start.md has the method's reasons and the figures).

- **The runtime's interpreter**: python3.13 (pyenv's, or on PATH), in a virtual environment
  holding only the layer's requirements (``shared/requirements.txt``): the dev venv is 3.11 and
  has ``awscrt``, which botocore imports when present and which inflates the floor. The venv
  lives in ``.venv/cold-start-python3.13`` (untracked), rebuilt when the requirements change.
- **As ``make build`` ships it**: each function's CodeUri and the layer's package are copied to
  a scratch directory and compiled with ``compileall --invalidation-mode unchecked-hash``, and
  so is the venv's site-packages, as the build output is.
- **Import plus the first invocation**: a fresh interpreter per run puts the CodeUri and the
  layer first on ``sys.path`` (as Lambda does), imports the handler and invokes it once with a
  realistic event from ``events/`` carrying a real credential. Its DynamoDB is the embedded
  one; the time the invocation spends blocked on its sockets (connect, send, receive: timed in
  the child by wrapping ``socket.socket``'s methods) is subtracted, so what remains is the
  function's own work: imports, client creation, building and parsing requests, the answer.
- **With active tracing, as deployed**: the child runs as Lambda runs a traced function
  (``LAMBDA_TASK_ROOT``, a sampled trace header, ``AWS_XRAY_DAEMON_ADDRESS``), so Powertools'
  Tracer is on and the X-Ray SDK sends every subsegment; a UDP socket here stands in for
  Lambda's X-Ray daemon and counts what each run sent.
- **Against the floor, in the same rounds**: ``import boto3; boto3.client("dynamodb")`` in a
  fresh interpreter, measured the same way, interleaved with the functions in every round; a
  function's figure is the median of its per-round ratios to the floor.

Interpreter start-up (≈15-20 ms, the same for all) is outside the figures. Wall times depend on
this machine and its load; nothing here is asserted. ``python3.13 -X importtime`` of the worst
function's cold start gives the imports that cost the most."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import warnings
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from benchmarks import format_table
from devserver.dispatch import Dispatcher
from devserver.embedded_dynamodb import EmbeddedDynamoDB
from devserver.environment import template_environment
from devserver.log_subscription import subscription_event
from devserver.streams import lambda_record, matches
from devserver.template import PROJECT_ROOT, StreamConsumer, create_table, load_template, stream_consumers
from scim_provisioning import activity_records, runtime
from scim_provisioning.repository.dynamodb import dynamodb_stores

ROUNDS = 21
IMPORTTIME_RUNS = 5
TOP_IMPORTS = 15
TABLE_NAME = "scim-provisioning-cold-start"
REQUIREMENTS = PROJECT_ROOT / "shared" / "requirements.txt"
LAYER_PACKAGE = PROJECT_ROOT / "shared" / "scim_provisioning"
VENV = PROJECT_ROOT / ".venv" / "cold-start-python3.13"
EVENTS = PROJECT_ROOT / "events"
# The request each function most likely serves first: what an identity provider or an admin
# sends on its own first contact (a function without one here is reported, not measured).
FIRST_EVENTS = {
    "AccessTokensFunction": "access_tokens_list.json",
    "ScimUsersFunction": "scim_users_list_filter.json",
    "ScimGroupsFunction": "scim_groups_list_filter.json",
    "ScimDiscoveryFunction": "scim_discovery_service_provider_config.json",
    "ScimRequestLogsFunction": "scim_request_logs_list.json",
    "SettingsPageFunction": "settings_page.json",
    "HealthFunction": "health.json",
}
# A function's other first request, when its route imports what the first one's does not: the
# token API's create and rotate read a body, and import pydantic for it (http/token_bodies.py).
OTHER_FIRST_EVENTS = {"AccessTokensFunction": ("access_tokens_create.json", "a create first")}
# The functions no API invokes get their first event made here: the activity ingest (invoked by
# CloudWatch Logs) a delivery of the activity records two real requests emitted (a SCIM filter
# and a token list), as devserver.log_subscription shapes it; each consumer of the table's
# stream the records its filters keep of a user and a group holding it that real requests
# wrote, as Lambda's event source mapping hands them (devserver.streams): the membership
# janitor the membership, the change-event publisher the user, the group and the change of
# members, which it publishes to a bus of the embedded moto server; the token guardian its
# hourly schedule's event.
INGEST_EVENT = "(activity records of 2 requests)"
STREAM_EVENT = "(stream records of a user and a group written)"
SCHEDULE_EVENT = "(hourly schedule)"
MADE_FIRST_EVENTS = {
    "ActivityIngestFunction": INGEST_EVENT,
    "MembershipJanitorFunction": STREAM_EVENT,
    "ChangeEventsFunction": STREAM_EVENT,
    "TokenGuardianFunction": SCHEDULE_EVENT,
}
EVENT_BUS_NAME = "cold-start"
PLACEHOLDER_BEARER = "Bearer scim_0123456789abcdef0123456789abcdef"
PLACEHOLDER_API_KEY = "ApiKey scimadm_0123456789abcdef0123456789abcdef"
INGESTED_SCIM_REQUEST = "/api/v1/scim/v2/Users?filter=userName%20eq%20%22someone%40cold.test%22"
INGESTED_ADMIN_REQUEST = "/api/v1/scim/organization-access-tokens"

# One measurement in a fresh interpreter: argv = task dir, layer dir, module, handler, event
# file, function name ("" for the floor). Until the handler is imported it uses only what the
# interpreter has loaded at start-up (sys, time), so it preloads nothing the handler needs;
# then it imports json and socket (already imported by every handler that talks to DynamoDB)
# to read the event and to time what the invocation spends blocked on its connections.
_CHILD = """
import sys, time
task, layer, module_name, handler_name, event_path, function_name = sys.argv[1:7]
if not module_name:
    started = time.perf_counter()
    import boto3
    boto3.client("dynamodb", region_name="us-east-1")
    print("COLD-START", (time.perf_counter() - started) * 1000, 0.0, 0.0, "-")
    raise SystemExit
sys.path[0:0] = [task, layer]
started = time.perf_counter()
module = __import__(module_name, fromlist=["_"])
imported = time.perf_counter()
import json, socket
with open(event_path, encoding="utf-8") as handle:
    event = json.load(handle)

class Context:
    function_name = function_name
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "cold-start"
    def get_remaining_time_in_millis(self):
        return 28000

# Time blocked on sockets: the invocation's only sockets are its DynamoDB connections.
waited = [0.0]
def timed(method):
    def blocking(self, *args, **kwargs):
        begun = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            waited[0] += time.perf_counter() - begun
    return blocking
for name in ("connect", "sendall", "recv", "recv_into"):
    setattr(socket.socket, name, timed(getattr(socket.socket, name)))
handler = getattr(module, handler_name)
invoked = time.perf_counter()
response = handler(event, Context())
done = time.perf_counter()
sys.stdout.flush()
print("COLD-START", (imported - started) * 1000, (done - invoked) * 1000, waited[0] * 1000,
      response.get("statusCode", "-"))  # the ingest answers its counts, not an HTTP status
"""


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_uri: Path
    module: str
    handler: str
    event: str | None
    variant: str = ""  # what tells a function's other first request apart (OTHER_FIRST_EVENTS)

    @property
    def name(self) -> str:
        name = self.logical_id.removesuffix("Function")
        return f"{name} ({self.variant})" if self.variant else name


def functions() -> list[Function]:
    """Every function of the template, in template order, each followed by its other first
    request if it has one."""
    first_events = {**FIRST_EVENTS, **MADE_FIRST_EVENTS}
    found = []
    for logical_id, resource in load_template()["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        module, handler = properties["Handler"].rsplit(".", 1)
        code_uri = PROJECT_ROOT / properties["CodeUri"]
        function = Function(logical_id, code_uri, module, handler, first_events.get(logical_id))
        found.append(function)
        if logical_id in OTHER_FIRST_EVENTS:
            event, variant = OTHER_FIRST_EVENTS[logical_id]
            found.append(Function(logical_id, code_uri, module, handler, event, variant))
    return found


# ------------------------------------------------------------------------------ the runtime
def python313() -> Path | None:
    """The Lambda runtime's interpreter, as the Makefile finds it for ``sam build``."""
    candidates = sorted(Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"))
    found = shutil.which("python3.13")
    if candidates:
        return candidates[-1]
    return Path(found) if found else None


def layer_venv(interpreter: Path) -> Path:
    """A venv of ``interpreter`` with only the layer's requirements, compiled as ``make build``
    compiles its output; built once per version of ``shared/requirements.txt``."""
    fingerprint = hashlib.sha256(REQUIREMENTS.read_bytes() + str(interpreter).encode()).hexdigest()
    stamp = VENV / ".requirements-sha256"
    python = VENV / "bin" / "python"
    if stamp.exists() and stamp.read_text() == fingerprint and python.exists():
        return python
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([interpreter, "-m", "venv", VENV], check=True)
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS], capture_output=True, text=True
    )
    if installed.returncode:
        raise RuntimeError(f"cannot install {REQUIREMENTS} for {interpreter}:\n{installed.stderr}")
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    _compile(python, Path(site_packages))
    stamp.write_text(fingerprint)
    return python


def _compile(python: Path, directory: Path) -> None:
    subprocess.run(
        [python, "-m", "compileall", "-q", "-f", "--invalidation-mode", "unchecked-hash", directory],
        check=True,
        stdout=subprocess.DEVNULL,
    )


@dataclass(frozen=True)
class Build:
    """What ``make build`` would deploy, laid out as Lambda mounts it."""

    tasks: dict[str, Path]  # logical id -> /var/task
    layer: Path  # the layer's own package; its requirements are the venv's site-packages


@contextmanager
def built(python: Path, targets: list[Function]) -> Iterator[Build]:
    with tempfile.TemporaryDirectory(prefix="cold-start-build-") as scratch:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        tasks: dict[str, Path] = {}
        for function in targets:
            if function.logical_id in tasks:
                continue
            task = Path(scratch, "task", function.logical_id)
            shutil.copytree(function.code_uri, task, ignore=ignore)
            tasks[function.logical_id] = task
        layer = Path(scratch, "layer")
        shutil.copytree(LAYER_PACKAGE, layer / LAYER_PACKAGE.name, ignore=ignore)
        _compile(python, Path(scratch))
        yield Build(tasks, layer)


# ------------------------------------------------------------------------------ DynamoDB
@dataclass
class _LocalDynamoDB:
    """The embedded DynamoDB, with an organization whose SCIM token and API key the events carry."""

    environment: dict[str, str]
    made_events: dict[str, dict[str, Any]]  # INGEST_EVENT, SCHEDULE_EVENT -> the event
    stream_events: dict[str, dict[str, Any]]  # a stream consumer's logical id -> its records
    credentials: dict[str, str]  # placeholder header value -> real one


@contextmanager
def local_dynamodb() -> Iterator[_LocalDynamoDB]:
    credentials = {"AWS_ACCESS_KEY_ID": "cold", "AWS_SECRET_ACCESS_KEY": "cold", "AWS_DEFAULT_REGION": "us-east-1"}
    # The requests made here log nothing then, nor print their metrics.
    quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    saved = {name: os.environ.get(name) for name in {**credentials, **quiet}}
    os.environ.update({**credentials, **quiet})
    database = EmbeddedDynamoDB("127.0.0.1", 0).start()
    client = boto3.client("dynamodb", endpoint_url=database.endpoint_url, region_name="us-east-1")
    try:
        create_table(client, TABLE_NAME)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No application metrics to publish")
            current = runtime.configure(stores=dynamodb_stores(client, TABLE_NAME))
            organization, admin = current.organizations.create_organization("Cold", "admin@cold.test", "Cold", "Start")
            _, api_key = current.organizations.create_api_key(organization.uuid, admin.uuid, "cold start")
            principal = current.authenticator.authenticate_admin(f"ApiKey {api_key}")
            _, token = current.access_tokens.create(principal, "cold start", None)
            records: list[str] = []
            activity_records.install_sink(records.append)
            try:
                api = Dispatcher()
                api.handle("GET", INGESTED_SCIM_REQUEST, [("Authorization", f"Bearer {token}")], None)
                api.handle("GET", INGESTED_ADMIN_REQUEST, [("Authorization", f"ApiKey {api_key}")], None)
                stream_events = _user_and_group_written(client, api, f"Bearer {token}")
            finally:
                activity_records.install_sink(None)
                runtime.reset()
        environment = {
            **template_environment(TABLE_NAME),
            **credentials,
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "TABLE_NAME": TABLE_NAME,
            "DYNAMODB_ENDPOINT_URL": database.endpoint_url,
            # The change-event publisher's bus, on the same moto server (botocore reads the
            # service's endpoint from AWS_ENDPOINT_URL_EVENTBRIDGE).
            "EVENT_BUS_NAME": EVENT_BUS_NAME,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": database.endpoint_url,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", ""),
        }
        yield _LocalDynamoDB(
            environment,
            {
                INGEST_EVENT: subscription_event(records),
                SCHEDULE_EVENT: {"source": "aws.scheduler", "detail-type": "Scheduled Event"},
            },
            stream_events,
            {PLACEHOLDER_BEARER: f"Bearer {token}", PLACEHOLDER_API_KEY: f"ApiKey {api_key}"},
        )
    finally:
        client.delete_table(TableName=TABLE_NAME)  # moto's tables outlive the server in this process
        database.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _user_and_group_written(client: Any, api: Dispatcher, bearer: str) -> dict[str, dict[str, Any]]:
    """Each stream consumer's first event: a user and a group holding it are created through
    the API, and the table's stream records each consumer's filters keep are handed over as
    Lambda's event source mapping would hand them. The bus the publisher puts on is made."""
    boto3.client("events", endpoint_url=client.meta.endpoint_url, region_name="us-east-1").create_event_bus(
        Name=EVENT_BUS_NAME
    )
    headers = [("Authorization", bearer), ("Content-Type", "application/scim+json")]
    user = api.handle("POST", "/api/v1/scim/v2/Users", headers, json.dumps({"userName": "member@cold.test"}))
    member = json.loads(user.body)["id"]
    api.handle(
        "POST", "/api/v1/scim/v2/Groups", headers, json.dumps({"displayName": "Cold", "members": [{"value": member}]})
    )
    stream_arn = client.describe_table(TableName=TABLE_NAME)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", endpoint_url=client.meta.endpoint_url, region_name="us-east-1")
    delivered: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )
        records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
        delivered.extend(lambda_record(record, stream_arn) for record in records)
    return {
        consumer.code.logical_id: {"Records": [record for record in delivered if _kept(consumer, record)]}
        for consumer in stream_consumers()
    }


def _kept(consumer: StreamConsumer, record: dict[str, Any]) -> bool:
    """Whether the consumer's FilterCriteria let the record through to its function."""
    return any(matches(pattern, record) for pattern in consumer.patterns)


# ------------------------------------------------------------------------------ tracing
# What Lambda sets for a traced invocation: a sampled trace header (Lambda samples the first
# request each second, which a cold start of a quiet function usually is), and what the SDK
# does when it finds no segment (log, not raise).
TRACE_HEADER = "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1"


class XRayDaemon:
    """Stands in for the X-Ray daemon Lambda runs beside a traced function: a UDP socket on the
    loopback address receiving the segment documents the SDK sends (``{"format": "json", …}``
    then the document, one per datagram), so that every run is measured with tracing on and
    what it sent is counted."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.setblocking(False)

    @property
    def address(self) -> str:
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    def subsegments(self) -> int:
        """The subsegments received since the last call (a finished run's: localhost delivers a
        datagram into the socket's buffer before ``sendto`` returns)."""
        received = 0
        while True:
            try:
                datagram = self._socket.recv(1 << 16)
            except BlockingIOError:
                return received
            document = json.loads(datagram.split(b"\n", 1)[1])
            received += document.get("type") == "subsegment"

    def close(self) -> None:
        self._socket.close()


def lambda_environment(local: _LocalDynamoDB, daemon: XRayDaemon, function: Function, task: Path) -> dict[str, str]:
    """The environment Lambda gives ``function`` with active tracing, on the local DynamoDB."""
    return {
        **local.environment,
        "LAMBDA_TASK_ROOT": str(task),
        "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
        "_X_AMZN_TRACE_ID": TRACE_HEADER,
        "AWS_XRAY_DAEMON_ADDRESS": daemon.address,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }


# ------------------------------------------------------------------------------ measuring
@dataclass(frozen=True)
class Run:
    import_ms: float
    invoke_ms: float  # the first invocation, DynamoDB's time taken out
    waited_ms: float  # taken out
    status: str  # the answer's HTTP status, "-" for an invocation that has none
    subsegments: int = 0  # what the run sent to the X-Ray daemon

    @property
    def total_ms(self) -> float:
        return self.import_ms + self.invoke_ms


@dataclass
class Measured:
    name: str
    runs: list[Run] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in self.runs)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def _run(python: Path, arguments: list[str], environment: dict[str, str], daemon: XRayDaemon) -> Run:
    completed = subprocess.run(
        [python, "-c", _CHILD, *arguments],
        env=environment,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode:
        raise RuntimeError(f"a cold start of {arguments[-1] or 'the floor'} failed:\n{completed.stderr}")
    line = next(line for line in completed.stdout.splitlines() if line.startswith("COLD-START"))
    _, import_ms, invoke_ms, waited_ms, status = line.split()
    waited = float(waited_ms)
    return Run(float(import_ms), float(invoke_ms) - waited, waited, status, daemon.subsegments())


def _first_event(function: Function, scratch: Path, local: _LocalDynamoDB) -> Path:
    """The function's first event in a file: an ``events/`` file with real credentials in
    place of its placeholders, or the ingest's delivery."""
    if function.event == STREAM_EVENT:
        text = json.dumps(local.stream_events[function.logical_id], default=str)
    elif function.event in local.made_events:
        text = json.dumps(local.made_events[function.event], default=str)
    else:
        text = (EVENTS / str(function.event)).read_text(encoding="utf-8")
    for placeholder, real in local.credentials.items():
        text = text.replace(placeholder, real)
    path = scratch / f"{function.name}.json"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Results:
    python: str
    floor: Measured
    functions: list[Measured]
    unmeasured: list[str]
    worst: str | None = None
    imports: list[tuple[str, float, float]] = field(default_factory=list)  # module, self ms, cumulative ms
    packages: list[tuple[str, float]] = field(default_factory=list)  # top-level package, self ms


def measure() -> Results | None:
    """None when python3.13 is not installed."""
    interpreter = python313()
    if interpreter is None:
        return None
    python = layer_venv(interpreter)
    version = subprocess.run([python, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    targets = [function for function in functions() if function.event]
    unmeasured = [function.name for function in functions() if not function.event]
    floor = Measured("floor: import boto3 + client")
    measured = {function.name: Measured(function.name) for function in targets}
    daemon = XRayDaemon()
    with built(python, targets) as build, local_dynamodb() as local, tempfile.TemporaryDirectory() as scratch:
        events = {function.name: _first_event(function, Path(scratch), local) for function in targets}

        def arguments(function: Function) -> list[str]:
            task = str(build.tasks[function.logical_id])
            return [
                task,
                str(build.layer),
                function.module,
                function.handler,
                str(events[function.name]),
                function.logical_id,
            ]

        def environment(function: Function) -> dict[str, str]:
            return lambda_environment(local, daemon, function, build.tasks[function.logical_id])

        for function in targets:  # one discarded pass: the OS file cache, the table's first reads
            _run(python, arguments(function), environment(function), daemon)
        for _ in range(ROUNDS):
            floor_run = _run(python, ["", "", "", "", "", ""], local.environment, daemon)
            floor.runs.append(floor_run)
            for function in targets:
                run = _run(python, arguments(function), environment(function), daemon)
                measured[function.name].runs.append(run)
                measured[function.name].ratios.append(run.total_ms / floor_run.total_ms)
        results = Results(version, floor, list(measured.values()), unmeasured)
        worst = max(targets, key=lambda function: measured[function.name].ratio)
        results.worst = worst.name
        results.imports, results.packages = _import_times(python, arguments(worst), environment(worst))
    daemon.close()
    return results


def _import_times(
    python: Path, arguments: list[str], environment: dict[str, str]
) -> tuple[list[tuple[str, float, float]], list[tuple[str, float]]]:
    """``-X importtime`` of a function's cold start (its handler's import and the imports its
    first invocation makes), medians over a few runs: the top modules by cumulative time, and
    the self time summed per top-level package."""
    self_times: dict[str, list[float]] = defaultdict(list)
    cumulative: dict[str, list[float]] = defaultdict(list)
    for _ in range(IMPORTTIME_RUNS):
        completed = subprocess.run(
            [python, "-X", "importtime", "-c", _CHILD, *arguments],
            env=environment,
            cwd=tempfile.gettempdir(),
            capture_output=True,
            text=True,
            check=True,
        )
        for line in completed.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            own, total, module = (part.strip() for part in line.removeprefix("import time:").split("|"))
            self_times[module].append(int(own) / 1000)
            cumulative[module].append(int(total) / 1000)
    top = sorted(cumulative, key=lambda module: statistics.median(cumulative[module]), reverse=True)[:TOP_IMPORTS]
    imports = [(module, statistics.median(self_times[module]), statistics.median(cumulative[module])) for module in top]
    by_package: dict[str, float] = defaultdict(float)
    for module, times in self_times.items():
        by_package[module.split(".")[0]] += statistics.median(times)
    packages = sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:10]
    return imports, packages


# ------------------------------------------------------------------------------ report
def report(results: Results | None = None) -> str:
    results = results if results is not None else measure()
    if results is None:
        return "Cold start: not measured, python3.13 is not installed (pyenv or PATH)."
    floor = results.floor
    rows = [
        [
            floor.name,
            f"{floor.median('import_ms'):.0f}",
            "-",
            "-",
            f"{floor.median('total_ms'):.0f}",
            "1.00x",
            "-",
            "-",
        ]
    ]
    for function in results.functions:
        statuses = sorted({run.status for run in function.runs})
        rows.append(
            [
                function.name,
                f"{function.median('import_ms'):.0f}",
                f"{function.median('invoke_ms'):.0f}",
                f"{function.median('waited_ms'):.0f}",
                f"{function.median('total_ms'):.0f}",
                f"{function.ratio:.2f}x ({min(function.ratios):.2f}-{max(function.ratios):.2f})",
                f"{function.median('subsegments'):.0f}",
                "/".join(statuses),
            ]
        )
    table = format_table(
        [
            "function",
            "import ms",
            "1st invocation ms",
            "DynamoDB wait taken out ms",
            "total ms",
            "ratio to floor",
            "X-Ray subsegments",
            "status",
        ],
        rows,
    )
    imports = format_table(
        ["module", "self ms", "cumulative ms"],
        [[module, f"{own:.1f}", f"{total:.1f}"] for module, own, total in results.imports],
    )
    packages = format_table(
        ["top-level package", "self ms, summed"], [[package, f"{own:.1f}"] for package, own in results.packages]
    )
    unmeasured = (
        f"\nNot measured (no first event chosen in FIRST_EVENTS): {', '.join(results.unmeasured)}."
        if (results.unmeasured)
        else ""
    )
    return (
        f"Cold start per function on {results.python} with only shared/requirements.txt installed, .pyc as\n"
        f"`make build` ships them; import of the handler + its first invocation with an event from events/,\n"
        f"the time its requests spent at DynamoDB taken out; medians of {ROUNDS} rounds, each a fresh\n"
        "interpreter per target with the floor in the same round; ratio = median of per-round ratios\n"
        "(range). Each function runs as a traced Lambda function does (active tracing: the X-Ray SDK sends\n"
        "its subsegments, counted here by a stand-in daemon). Wall time on this machine, informational only.\n"
        f"{table}{unmeasured}\n\n"
        f"`python -X importtime` of {results.worst}'s cold start (worst ratio: the handler's import and what\n"
        f"its first invocation imports), medians of {IMPORTTIME_RUNS} runs, top {TOP_IMPORTS} by cumulative time:\n"
        f"{imports}\n\n"
        f"The same imports' self time, summed by top-level package:\n{packages}"
    )


if __name__ == "__main__":  # python -m benchmarks.cold_start: this table alone
    print(report(), flush=True)
