"""Cold-start cost of each function: import its handler and build its DynamoDB client in a
fresh interpreter, against the floor every Python function on boto3 pays anyway.

Each measurement is a new ``python -c`` process (what a Lambda cold start is), timed twice:
inside the process with ``time.perf_counter`` around each step, so interpreter start-up is
kept apart, and from outside as the whole process's wall time. Wall times depend on this
machine and its load: they are printed for information and never asserted. The numbers and
what was decided from them are in ``docs/cold-start.md``."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from benchmarks import format_table
from devserver.template import PROJECT_ROOT, api_routes, load_template

RUNS = 7
SCIM2_MODELS = "scim2-models"
# The function whose import pulls in everything the layer ships (Powertools' resolver, pydantic,
# boto3): the bytecode comparison runs on it, named rather than picked by a noisy median.
FULL_STACK_FUNCTION = "AccessTokens"

# Runs each (label, code) pair of its arguments in order and prints ``label=ms;…``. It imports
# nothing beyond sys and time (both loaded at start-up), so it preloads nothing a step needs.
_CHILD = """
import sys, time
timings = []
namespace = {}
steps = sys.argv[1:]
for label, code in zip(steps[::2], steps[1::2]):
    started = time.perf_counter()
    exec(code, namespace)
    timings.append(label + "=" + repr((time.perf_counter() - started) * 1000))
print(";".join(timings))
"""

# What the template gives every function, plus fake credentials: with credentials in the
# environment botocore resolves them there and never asks the instance metadata service.
_LAMBDA_LIKE_ENVIRONMENT = {
    "TABLE_NAME": "scim-provisioning-dev",
    "STAGE": "dev",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "benchmark",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
    "AWS_SESSION_TOKEN": "benchmark",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "scim-provisioning",
    "POWERTOOLS_METRICS_NAMESPACE": "ScimProvisioning",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


@dataclass(frozen=True)
class Target:
    """Something to cold-start: ``steps`` are (label, Python code) pairs timed one by one."""

    name: str
    steps: tuple[tuple[str, str], ...]

    def plus(self, name: str, *steps: tuple[str, str]) -> Target:
        return Target(name, self.steps + steps)


BARE_INTERPRETER = Target("bare interpreter", ())
FLOOR = Target(
    "floor: boto3 + client",
    (("import", "import boto3"), ("client", "boto3.client('dynamodb', region_name='us-east-1')")),
)
IMPORT_SCIM2_MODELS = ("scim2_models", "import scim2_models")


def _uses_dynamodb(function_logical_id: str) -> bool:
    """Whether the template grants the function any DynamoDB action: only those build the
    client at run time (Health and ScimDiscovery never call ``runtime.current()``)."""
    policies = load_template()["Resources"][function_logical_id]["Properties"].get("Policies", [])
    actions = [
        action
        for policy in policies
        for statement in policy.get("Statement", [])
        for action in statement.get("Action", [])
    ]
    return any(action.startswith("dynamodb:") for action in actions)


def function_targets() -> list[Target]:
    """One target per function of the template: import the handler as Lambda does (its
    CodeUri first on sys.path), then build the runtime's DynamoDB client if it uses one."""
    targets: dict[str, Target] = {}
    for route in api_routes():
        if route.function_logical_id in targets:
            continue
        module_name = route.handler.rsplit(".", 1)[0]
        steps = [("import", f"import sys; sys.path.insert(0, {str(route.code_uri)!r}); import {module_name}")]
        if _uses_dynamodb(route.function_logical_id):
            steps.append(("client", "from scim_provisioning import runtime; runtime.current()"))
        name = route.function_logical_id.removesuffix("Function")
        targets[route.function_logical_id] = Target(name, tuple(steps))
    template_order = list(load_template()["Resources"])
    return [targets[logical_id] for logical_id in sorted(targets, key=template_order.index)]


@dataclass(frozen=True)
class Run:
    step_ms: dict[str, float]
    wall_ms: float

    @property
    def in_process_ms(self) -> float:
        return sum(self.step_ms.values())


@dataclass(frozen=True)
class Result:
    target: Target
    runs: list[Run]

    @cached_property
    def median_ms(self) -> float:
        return statistics.median(run.in_process_ms for run in self.runs)

    @cached_property
    def min_ms(self) -> float:
        return min(run.in_process_ms for run in self.runs)

    @cached_property
    def wall_median_ms(self) -> float:
        return statistics.median(run.wall_ms for run in self.runs)

    def step_median_ms(self, label: str) -> float | None:
        if label not in self.runs[0].step_ms:
            return None
        return statistics.median(run.step_ms[label] for run in self.runs)

    def step_min_ms(self, label: str) -> float:
        return min(run.step_ms[label] for run in self.runs)


def _run_once(target: Target, environment: Mapping[str, str]) -> Run:
    arguments = [part for step in target.steps for part in step]
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, *arguments],
        env=dict(environment),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    output = completed.stdout.strip()
    step_ms = {label: float(value) for label, value in (item.split("=", 1) for item in output.split(";") if item)}
    return Run(step_ms, wall_ms)


def measure(targets: list[Target], environment: Mapping[str, str]) -> list[Result]:
    """``RUNS`` fresh processes per target after one discarded warm-up pass that fills the OS
    file cache. Runs are interleaved (one of each target per round), so a burst of load on
    the machine spreads over all targets instead of skewing whichever ran during it."""
    for target in targets:
        _run_once(target, environment)
    rounds = [[_run_once(target, environment) for target in targets] for _ in range(RUNS)]
    return [Result(target, [runs[index] for runs in rounds]) for index, target in enumerate(targets)]


def _environment(**overrides: str) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTHONPATH")
    }
    return {**inherited, **_LAMBDA_LIKE_ENVIRONMENT, **overrides}


@dataclass(frozen=True)
class BytecodeCaches:
    """Two environments that differ only in which modules have .pyc files."""

    everything: dict[str, str]  # as after `make build`, which compiles the build output
    stdlib_only: dict[str, str]  # as after a plain `sam build`: only the runtime's stdlib


@contextmanager
def bytecode_caches(targets: list[Target]) -> Iterator[BytecodeCaches]:
    """Private bytecode caches, so a measurement never depends on which __pycache__ folders
    happen to exist (this machine sets PYTHONDONTWRITEBYTECODE) and never writes any.

    ``PYTHONPYCACHEPREFIX`` makes Python read and write .pyc files only under that directory.
    One run of each target with writing allowed fills the first cache; the second holds a copy
    of its standard-library part alone. ``PYTHONDONTWRITEBYTECODE`` then keeps both as they are."""
    with tempfile.TemporaryDirectory(prefix="cold-start-pyc-") as scratch:
        everything, stdlib_only = Path(scratch, "everything"), Path(scratch, "stdlib-only")
        for target in targets:
            _run_once(target, _environment(PYTHONPYCACHEPREFIX=str(everything)))
        stdlib = Path(sysconfig.get_paths()["stdlib"]).relative_to("/")
        shutil.copytree(everything / stdlib, stdlib_only / stdlib)
        yield BytecodeCaches(
            everything=_environment(PYTHONPYCACHEPREFIX=str(everything), PYTHONDONTWRITEBYTECODE="1"),
            stdlib_only=_environment(PYTHONPYCACHEPREFIX=str(stdlib_only), PYTHONDONTWRITEBYTECODE="1"),
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _ratio(result: Result, floor: Result) -> str:
    return f"{result.median_ms / floor.median_ms:.2f}x" if result.target.steps else "-"


def _functions_table(bare: Result, floor: Result, functions: list[Result]) -> str:
    return format_table(
        ["function", "import", "client", "median", "min", "process wall", "ratio to floor"],
        [
            [
                result.target.name,
                _ms(result.step_median_ms("import")),
                _ms(result.step_median_ms("client")),
                _ms(result.median_ms),
                _ms(result.min_ms),
                _ms(result.wall_median_ms),
                _ratio(result, floor),
            ]
            for result in (bare, floor, *functions)
        ],
    )


def _bytecode_table(cached: list[Result], uncached: list[Result]) -> str:
    return format_table(
        ["target", ".pyc cached: median (min)", "no .pyc outside stdlib: median (min)", "slowdown"],
        [
            [
                warm.target.name,
                f"{_ms(warm.median_ms)} ({_ms(warm.min_ms)})",
                f"{_ms(cold.median_ms)} ({_ms(cold.min_ms)})",
                f"{cold.median_ms / warm.median_ms:.2f}x",
            ]
            for warm, cold in zip(cached, uncached, strict=True)
        ],
    )


def _scim2_models_report(floor: Result, results: list[Result], version: str | None) -> str:
    if version is None:
        return (
            f"{SCIM2_MODELS}: not installed, not measured "
            f"(`.venv/bin/pip install {SCIM2_MODELS}==0.12.3` to measure it)."
        )
    table = format_table(
        ["context", "import scim2_models: median (min)", "total median", "ratio to floor"],
        [
            [
                result.target.name,
                f"{_ms(result.step_median_ms('scim2_models'))} ({_ms(result.step_min_ms('scim2_models'))})",
                _ms(result.median_ms),
                _ratio(result, floor),
            ]
            for result in results
        ],
    )
    return f"{SCIM2_MODELS} {version} (installed), imported on top of each context:\n{table}"


def _scim2_models_targets(users: Target) -> list[Target]:
    return [
        Target("scim2_models alone", (IMPORT_SCIM2_MODELS,)),
        FLOOR.plus("floor + scim2_models", IMPORT_SCIM2_MODELS),
        users.plus(f"{users.name} + scim2_models", IMPORT_SCIM2_MODELS),
    ]


def _scim2_models_version() -> str | None:
    try:
        return importlib.metadata.version(SCIM2_MODELS)
    except importlib.metadata.PackageNotFoundError:
        return None


def report() -> str:
    """Measure everything and return the three tables with their caveats."""
    targets = function_targets()
    by_name = {target.name: target for target in targets}
    users, full_stack = by_name["ScimUsers"], by_name[FULL_STACK_FUNCTION]
    scim2_version = _scim2_models_version()
    scim2_targets = _scim2_models_targets(users) if scim2_version else []
    measured = [BARE_INTERPRETER, FLOOR, *targets, *scim2_targets]
    with bytecode_caches(measured) as caches:
        results = dict(zip(measured, measure(measured, caches.everything), strict=True))
        uncompiled = measure([FLOOR, full_stack], caches.stdlib_only)
    bare, floor = results[BARE_INTERPRETER], results[FLOOR]
    functions = [results[target] for target in targets]
    compiled = [floor, results[full_stack]]
    scim2 = [results[target] for target in scim2_targets]

    python = f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    return "\n\n".join(
        [
            f"Cold start per function, ms ({python}; {RUNS} fresh processes each, all .pyc cached).\n"
            "import/client/median/min are measured inside the process (interpreter start-up "
            "excluded);\nprocess wall includes it. Wall time on this machine, informational "
            "only: nothing is asserted.\n"
            "Lambda runs python3.13 on arm64: see docs/cold-start.md.\n" + _functions_table(bare, floor, functions),
            "Bytecode: the same imports with .pyc files for everything vs for the stdlib only "
            "(a plain `sam build`,\nwhich ships no .pyc; `make build` compiles them), in-process ms:\n"
            + _bytecode_table(compiled, uncompiled),
            _scim2_models_report(floor, scim2, scim2_version),
        ]
    )
