"""The one door to Powertools' event handler: its REST resolver and the names our HTTP code
uses, without the rest of ``aws_lambda_powertools.event_handler``.

Importing ``aws_lambda_powertools.event_handler.api_gateway`` the ordinary way runs two package
``__init__``s that import far more than a REST API uses: ``event_handler``'s imports every
resolver Powertools has (AppSync, which brings ``asyncio``, AppSync events, Bedrock agents,
function URLs, VPC Lattice, the HTTP resolver), and ``utilities.data_classes``' imports the
classes of some thirty event sources (Kafka, S3, SES…) of which the resolver reads seven. Both
cost together about as much as the REST resolver itself (docs/cold-start.md).

So those two packages are registered in ``sys.modules`` *lazily*, before the resolver is
imported: a module made from the package's own spec (with its ``__path__``, so that submodules
import as usual) whose ``__init__`` has not run. A name it lacks is resolved on first use
(PEP 562's module ``__getattr__``): a submodule is imported; a name the ``__init__`` re-exports
(``from .alb_event import ALBEvent``, read from the ``__init__``'s own source) is taken from the
submodule that defines it, and only that one is imported; anything else (``__all__``, a name
added some other way) completes the package by running its real ``__init__`` once, after which
it is exactly the package Powertools ships. The objects are the same either way, so every
Powertools name still works from anywhere; only what is never used is never loaded.

This is sound only while those ``__init__``s do nothing but import and re-export:
``tests/unit/test_powertools_door.py`` checks that on the installed Powertools, and in a fresh
interpreter that the resolver serves a request with no other resolver or event class loaded,
so an upgrade that breaks the trick fails a test instead of silently costing the cold start.
If a package was imported before this module (a test, a tool), it is left as it is. Every
module of the service imports Powertools' event handler from here, never directly."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import threading
from pathlib import Path

# The packages whose ``__init__`` the REST resolver does not need.
LAZY_PACKAGES = ("aws_lambda_powertools.event_handler", "aws_lambda_powertools.utilities.data_classes")
_completing = threading.Lock()


def reexported_names(init_source: str, package: str) -> dict[str, str]:
    """Each name a package's ``__init__`` imports from one of its submodules (relative
    ``from .sub import name`` or absolute ``from package.sub import name``), with that
    submodule's full name."""
    names = {}
    for statement in ast.parse(init_source).body:
        if not isinstance(statement, ast.ImportFrom):
            continue
        if statement.level == 1 and statement.module:
            submodule = f"{package}.{statement.module}"
        elif statement.level == 0 and (statement.module or "").startswith(f"{package}."):
            submodule = str(statement.module)
        else:
            continue
        for alias in statement.names:
            names[alias.asname or alias.name] = submodule
    return names


def register_lazily(name: str) -> None:
    """Put package ``name`` in ``sys.modules`` without running its ``__init__`` (see the
    module doc); nothing when it is already imported or its source cannot be read."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.origin is None or spec.submodule_search_locations is None:
        return
    try:
        source = Path(spec.origin).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return  # no source to read the re-exports from: import it the ordinary way
    reexports = reexported_names(source, name)
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def resolve(attribute: str) -> object:
        """A name the package lacks: its submodule, a re-export, or what the full ``__init__`` defines."""
        submodule = f"{name}.{attribute}"
        if importlib.util.find_spec(submodule) is not None:
            return importlib.import_module(submodule)
        if attribute in reexports:
            value = getattr(importlib.import_module(reexports[attribute]), attribute)
            setattr(package, attribute, value)
            return value
        with _completing:
            if package.__dict__.get("__getattr__") is resolve:  # not completed by another thread
                delattr(package, "__getattr__")
                loader.exec_module(package)
        return getattr(package, attribute)

    package.__getattr__ = resolve  # type: ignore[method-assign]  # PEP 562: asked for the names it lacks
    sys.modules[name] = package
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, package)


for _package in LAZY_PACKAGES:
    register_lazily(_package)

# Imported once the packages are registered: the resolver's module and what it imports, no more.
from aws_lambda_powertools.event_handler.api_gateway import (  # noqa: E402
    APIGatewayRestResolver,
    BaseProxyEvent,
    BaseRouter,
    Response,
    ResponseBuilder,
)
from aws_lambda_powertools.event_handler.exceptions import NotFoundError  # noqa: E402

__all__ = [
    "APIGatewayRestResolver",
    "BaseProxyEvent",
    "BaseRouter",
    "NotFoundError",
    "Response",
    "ResponseBuilder",
]
