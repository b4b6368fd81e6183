"""What each function loads on a cold start: its handler's import plus the services its routes
use, and nothing a sibling function needs (docs/cold-start.md). A fresh interpreter per
function, with the function's CodeUri and the layer first on ``sys.path`` as Lambda puts them;
the services are built on stand-in stores, so nothing here talks to DynamoDB (the benchmark
measures the real first request)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from devserver.template import PROJECT_ROOT, load_template

# Loaded by no function that serves SCIM or admin clients: the CLI's upgrades, Powertools' other
# resolvers (asyncio comes with AppSync's), the Lambda context's type (annotations only).
NOBODYS = ("asyncio", "scim_provisioning.services.upgrades", "aws_lambda_powertools.utilities.typing")
# The SCIM rules: filters, PATCH, users and groups.
SCIM_RULES = (
    "scim_provisioning.scim.filter",
    "scim_provisioning.scim.patch",
    "scim_provisioning.services.users",
    "scim_provisioning.services.groups",
)
# The token guardian's run (the token API's health route rates tokens by its policy).
GUARDIAN = "scim_provisioning.services.token_guardian"
# function (logical id) -> (the runtime's services its routes use, what it must not load)
EXPECTED = {
    "AccessTokensFunction": (("authenticator", "access_tokens"), (*NOBODYS, *SCIM_RULES, "pydantic")),
    "ScimRequestLogsFunction": (("authenticator", "activity_log"), (*NOBODYS, *SCIM_RULES, GUARDIAN, "pydantic")),
    "ScimUsersFunction": (("authenticator", "users", "groups"), (*NOBODYS, GUARDIAN, "pydantic")),
    "ScimGroupsFunction": (
        ("authenticator", "groups"),
        (*NOBODYS, GUARDIAN, "pydantic", "scim_provisioning.services.users"),
    ),
    "MembershipJanitorFunction": (
        ("janitor",),
        (*NOBODYS, GUARDIAN, "pydantic", "scim_provisioning.scim.filter", "aws_lambda_powertools.event_handler"),
    ),
    # The change-event publisher reads stream records and puts events: no store, and of
    # Powertools only what observability.py sets up for every function (its handler is traced).
    "ChangeEventsFunction": (
        ("change_events",),
        (
            *NOBODYS,
            *SCIM_RULES,
            GUARDIAN,
            "pydantic",
            "aws_lambda_powertools.event_handler",
            "scim_provisioning.repository.dynamodb",
        ),
    ),
    "ActivityIngestFunction": (
        ("activity_ingest",),
        (*NOBODYS, *SCIM_RULES, GUARDIAN, "pydantic", "aws_lambda_powertools.event_handler"),
    ),
}

LAYER = str(PROJECT_ROOT / "shared")
_CHILD = """
import dataclasses, json, sys, types
task, layer, module_name, services, watched = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
sys.path[0:0] = [task, layer]
__import__(module_name)
from scim_provisioning import runtime
from scim_provisioning.clock import SystemClock
from scim_provisioning.repository.protocols import Stores
stores = types.SimpleNamespace(**{store.name: object() for store in dataclasses.fields(Stores)})
built = runtime.Runtime(stores=stores, clock=SystemClock())
for service in json.loads(services):
    getattr(built, service)
print(json.dumps(sorted(name for name in json.loads(watched) if name in sys.modules)))
"""


def _json(*values: object) -> list[str]:
    return [json.dumps(value) for value in values]


def _function(logical_id: str) -> tuple[str, str]:
    """(CodeUri directory, handler module) of a function of the template."""
    properties = load_template()["Resources"][logical_id]["Properties"]
    return str(PROJECT_ROOT / properties["CodeUri"]), properties["Handler"].rsplit(".", 1)[0]


@pytest.mark.parametrize("logical_id", sorted(EXPECTED))
def test_a_function_loads_only_the_services_it_uses(logical_id):
    """Given a fresh interpreter of a function, when its handler is imported and the services
    its routes use are built, then none of the modules only other functions need was loaded."""
    services, never = EXPECTED[logical_id]
    task, module = _function(logical_id)
    loaded = subprocess.run(  # noqa: S603 - this interpreter running the script above
        [sys.executable, "-c", textwrap.dedent(_CHILD), task, LAYER, module, *_json(services, never)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "AWS_REGION": "us-east-1", "POWERTOOLS_METRICS_NAMESPACE": "Tests"},
    )
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) == []


def test_the_runtime_built_from_the_environment_builds_its_stores_only_for_a_service_that_asks():
    """Given a fresh interpreter of the change-event publisher, when the runtime is built from
    the environment (as in Lambda) and the publisher from it, then the DynamoDB stores were not
    built (no DynamoDB client); a store asked for afterwards is built then, from the settings."""
    task, module = _function("ChangeEventsFunction")
    script = f"""
import sys
sys.path[0:0] = [{task!r}, {LAYER!r}]
__import__({module!r})
from scim_provisioning import runtime
built = runtime.current()
built.change_events
before = "scim_provisioning.repository.dynamodb" in sys.modules
table = built.stores.people._table
print(before, table.name, type(table.client).__name__)
"""
    answer = subprocess.run(  # noqa: S603 - this interpreter running the script above
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "AWS_REGION": "us-east-1", "TABLE_NAME": "scim-provisioning-test"},
    )
    assert answer.stdout.split() == ["False", "scim-provisioning-test", "DynamoDB"]
