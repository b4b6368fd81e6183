"""The door to Powertools' event handler (``scim_provisioning/http/powertools.py``): the REST
resolver without the package ``__init__``s that import every other resolver and event class.

These tests fail when a Powertools upgrade breaks the trick (an ``__init__`` that starts doing
more than re-exporting, or a resolver that starts importing what we skip), or when our own code
goes around the door; either would silently bring the cost back into every cold start."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from devserver.template import PROJECT_ROOT
from scim_provisioning.http.powertools import LAZY_PACKAGES, reexported_names
from tests.source_imports import deployed_modules, runtime_imports

# What the REST resolver never needs, and which the packages' __init__s would import.
NEVER_LOADED = (
    "asyncio",
    "aws_lambda_powertools.event_handler.appsync",
    "aws_lambda_powertools.event_handler.bedrock_agent",
    "aws_lambda_powertools.event_handler.events_appsync",
    "aws_lambda_powertools.event_handler.http_resolver",
    "aws_lambda_powertools.utilities.data_classes.kafka_event",
    "aws_lambda_powertools.utilities.data_classes.s3_event",
    "aws_lambda_powertools.utilities.data_classes.sqs_event",
)


def _run_fresh(code: str) -> dict:
    """``code`` in a new interpreter with the layer's package importable; its last line of
    output, which it prints as JSON."""
    completed = subprocess.run(  # noqa: S603 - this interpreter running the code above
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "PYTHONPATH": str(PROJECT_ROOT / "shared"), "AWS_REGION": "us-east-1"},
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_the_lazy_packages_init_only_imports_and_reexports(package):
    """Given the installed Powertools, when its package ``__init__`` is read, then it holds
    nothing but a docstring, imports and ``__all__``: skipping it until a name is asked for
    skips no side effect."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for statement in tree.body:
        docstring = isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
        names_exported = isinstance(statement, ast.Assign) and [
            target.id for target in statement.targets if isinstance(target, ast.Name)
        ] == ["__all__"]
        assert docstring or names_exported or isinstance(statement, ast.Import | ast.ImportFrom), ast.dump(statement)


def test_a_request_is_resolved_without_any_other_resolver_or_event_class():
    """Given a fresh interpreter, when the door is imported and a REST resolver serves a
    request, then no other resolver, no other event class and no asyncio was loaded, while
    both packages still answer every name they export (completing on first use), with the
    very objects the resolver uses."""
    loaded = _run_fresh(
        f"""
        import json, sys
        from scim_provisioning.http.powertools import APIGatewayRestResolver, Response
        app = APIGatewayRestResolver()

        @app.get("/ping")
        def ping():
            return Response(200, "text/plain", "pong")

        event = {{"httpMethod": "GET", "path": "/ping", "headers": {{}}, "requestContext": {{}}}}
        answer = app.resolve(event, None)
        before = sorted(name for name in {NEVER_LOADED!r} if name in sys.modules)
        import aws_lambda_powertools.event_handler as event_handler
        from aws_lambda_powertools.event_handler import AppSyncResolver
        from aws_lambda_powertools.utilities.data_classes import SQSEvent
        print(json.dumps({{
            "status": answer["statusCode"],
            "body": answer["body"],
            "loaded_before": before,
            "same_resolver": event_handler.APIGatewayRestResolver is APIGatewayRestResolver,
            "completed": [AppSyncResolver.__name__, SQSEvent.__name__, "AppSyncResolver" in event_handler.__all__],
        }}))
        """
    )
    assert (loaded["status"], loaded["body"]) == (200, "pong")
    assert loaded["loaded_before"] == []
    assert loaded["same_resolver"] is True
    assert loaded["completed"] == ["AppSyncResolver", "SQSEvent", True]


def test_threads_completing_the_package_at_once_get_one_package():
    """Given the lazily registered package, when eight threads ask it at the same moment for a
    name only its full ``__init__`` defines, then the ``__init__`` runs once and every thread
    gets the same class."""
    answers = _run_fresh(
        """
        import json, threading
        import scim_provisioning.http.powertools
        import aws_lambda_powertools.event_handler as event_handler
        start, found = threading.Barrier(8), []

        def ask():
            start.wait()
            found.append(id(getattr(event_handler, "VPCLatticeV2Resolver")))

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(json.dumps({"answers": len(found), "distinct": len(set(found))}))
        """
    )
    assert answers == {"answers": 8, "distinct": 1}


def test_reexported_names_reads_relative_and_absolute_imports_of_submodules():
    source = textwrap.dedent(
        """
        '''doc'''
        from .alb_event import ALBEvent
        from .api_gateway_proxy_event import APIGatewayProxyEvent, APIGatewayProxyEventV2 as V2
        from pkg.sub.request import Request
        from other.place import Elsewhere
        import json
        __all__ = ["ALBEvent"]
        """
    )
    assert reexported_names(source, "pkg.sub") == {
        "ALBEvent": "pkg.sub.alb_event",
        "APIGatewayProxyEvent": "pkg.sub.api_gateway_proxy_event",
        "V2": "pkg.sub.api_gateway_proxy_event",
        "Request": "pkg.sub.request",
    }


def test_no_module_of_the_service_goes_around_the_door():
    """Given every module of the layer and the functions, when their imports are read, then
    only the door imports ``aws_lambda_powertools.event_handler`` or its event classes at run
    time: an ordinary import of either elsewhere, made before the door, would load them whole."""
    door = PROJECT_ROOT / "shared" / "scim_provisioning" / "http" / "powertools.py"
    offenders = []
    for path in deployed_modules():
        if path == door:
            continue
        for module in runtime_imports(path):
            if any(module == package or module.startswith(f"{package}.") for package in LAZY_PACKAGES):
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}: {module}")
    assert offenders == []
