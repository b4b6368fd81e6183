"""Files of the dev server's state directory (``${SCIM_LOCAL_STATE_DIR:-.local}``).

They may hold a local admin's API key and every item of the local table, so they are written
for the owner only, and atomically: a crash mid-write leaves the previous version intact."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_private_json(path: Path, document: Any, default: Callable[[Any], Any] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, default=default)
    os.replace(temporary, path)


def read_json(path: Path, object_hook: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    """The file's document, or None when there is no such file yet."""
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"), object_hook=object_hook)
