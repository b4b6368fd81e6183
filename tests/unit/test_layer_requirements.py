"""What the functions import is what the Lambda layer installs. The dev venv holds far more
than the layer (pydantic, moto, the SCIM oracles…), so a module of the layer or of a function
that imported one of those would pass every test here and fail in Lambda on its first import."""

from __future__ import annotations

import re
import sys
from importlib.metadata import packages_distributions

from devserver.template import PROJECT_ROOT
from tests.source_imports import deployed_modules, runtime_imports

REQUIREMENTS = PROJECT_ROOT / "shared" / "requirements.txt"
FIRST_PARTY = {"scim_provisioning", "functions"}


def _canonical(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def test_every_package_the_functions_import_is_in_the_layer():
    """Given every module of the layer and of the functions, when their run-time imports are
    read, then each one that is neither the standard library nor ours comes from a
    distribution pinned in shared/requirements.txt."""
    pinned = {
        _canonical(line.split("==")[0])
        for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    local = {path.parent.name for path in PROJECT_ROOT.joinpath("functions").glob("*/handler.py")}
    distributions = packages_distributions()
    missing = {}
    for path in deployed_modules():
        for module in {name.split(".")[0] for name in runtime_imports(path)}:
            if module in sys.stdlib_module_names or module in FIRST_PARTY or module in local or module == "handler":
                continue
            providers = {_canonical(name) for name in distributions.get(module, [module])}
            if not providers & pinned:
                missing[f"{path.relative_to(PROJECT_ROOT)}: {module}"] = sorted(providers)
    assert missing == {}
