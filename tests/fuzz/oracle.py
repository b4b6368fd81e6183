"""What every answer must be, whatever was sent (issue 14.3): no 5xx (a 503 or 429 only with
``Retry-After``), errors in the route's own dialect (a SCIM error body on SCIM routes, the
``{"status": "error"}`` envelope on the admin APIs), no internal detail (a traceback, a Python
class or module name, DynamoDB's or boto's words), and a bounded CPU time per request.

``problems`` returns what is wrong with one answer (empty: nothing); the fuzz tests over the
handlers and over HTTP share it."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SCIM_BASE = "/api/v1/scim/v2"
ADMIN_APIS = ("/api/v1/scim/organization-access-tokens", "/api/v1/scim/request-logs")
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
# Thread CPU seconds one request may take through the handlers (moto's in-process work
# included). The largest accepted request (a 1 MB body, 10,000 members) takes a fraction of it.
CPU_SECONDS_PER_REQUEST = 2.0

# Words that only an internal failure would put in an answer. The fuzzed strings never contain
# them (strategies.HOSTILE_STRINGS and short random text), so an answer that does leaked them.
INTERNAL_DETAIL = re.compile(
    r"Traceback|File \"|\.py\b|botocore|boto3|dynamodb|DynamoDB|ClientError|ValidationException"
    r"|ConditionalCheck|TransactionCanceled|\bmoto\b|object at 0x|scim_provisioning|pydantic|Decimal\("
    r"|\b(?:Key|Type|Value|Attribute|Index|Recursion|Overflow|UnicodeEncode|UnicodeDecode|JSONDecode)Error\b",
)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name.lower():
            return value
    return None


def dialect(path: str) -> str:
    """Whose dialect a path's errors speak: ``scim``, ``admin`` or ``other`` (the settings page,
    the health probe, API Gateway's own answers to unrouted paths)."""
    collapsed = re.sub("/{2,}", "/", path)
    if collapsed == SCIM_BASE or collapsed.startswith(SCIM_BASE + "/"):
        return "scim"
    if any(collapsed == api or collapsed.startswith(api + "/") for api in ADMIN_APIS):
        return "admin"
    return "other"


def problems(
    method: str,
    path: str,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    cpu_seconds: float,
    over_http: bool = False,
) -> list[str]:
    """What is wrong with one answer. ``over_http``: it came through a server, which must send
    no body with a HEAD answer (a handler's answer to HEAD may have one: the server drops it)."""
    found: list[str] = []
    if status >= 500 and status != 503 and not (status == 501 and _is_root_search(path)):
        found.append(f"status {status}")
    if status in (429, 503) and not _header(headers, "Retry-After"):
        found.append(f"{status} without Retry-After")
    if cpu_seconds > CPU_SECONDS_PER_REQUEST:
        found.append(f"{cpu_seconds:.2f} s of CPU")
    text = body.decode("utf-8", errors="replace")
    leaked = INTERNAL_DETAIL.search(text)
    if leaked and not (dialect(path) == "other" and status < 400):  # the settings page's own script
        found.append(f"internal detail {leaked.group(0)!r} in the answer")
    if over_http and method == "HEAD" and body:
        found.append("a body in the answer to HEAD")
    if status >= 400 and not (over_http and method == "HEAD"):
        found.extend(_dialect_problems(path, status, headers, body))
    return found


def _is_root_search(path: str) -> bool:
    """``POST /.search`` at the SCIM root: RFC 7644 §3.12's 501 for an operation the service
    provider does not support (docs/decisions.md, "No search across resource types")."""
    return re.sub("/{2,}", "/", path).rstrip("/") == f"{SCIM_BASE}/.search"


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _dialect_problems(path: str, status: int, headers: list[tuple[str, str]], body: bytes) -> list[str]:
    content_type = _header(headers, "Content-Type") or ""
    document = _json(body)
    kind = dialect(path)
    if kind == "scim":
        if not content_type.startswith("application/scim+json"):
            # API Gateway's own 403 for a path no route declares cannot happen under the SCIM
            # base: the greedy route takes every path there.
            return [f"SCIM error with Content-Type {content_type!r}"]
        if not (
            isinstance(document, dict)
            and document.get("schemas") == [SCIM_ERROR]
            and document.get("status") == str(status)
            and isinstance(document.get("detail"), str)
        ):
            return [f"SCIM error body not in the SCIM dialect: {body[:200]!r}"]
    elif kind == "admin":
        error = document.get("error") if isinstance(document, dict) else None
        if not (
            content_type.startswith("application/json")
            and document.get("status") == "error"
            and isinstance(error, dict)
            and error.get("statusCode") == status
            and isinstance(error.get("name"), str)
            and isinstance(error.get("message"), str)
        ):
            return [f"admin API error not in its envelope: {body[:200]!r}"]
    return []


@dataclass
class Tally:
    """What a fuzz run sent and got, for its report."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    routes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    max_cpu_seconds: float = 0.0

    def count(self, path: str, status: int, cpu_seconds: float) -> None:
        self.requests += 1
        self.statuses[status] += 1
        self.routes[dialect(path)] += 1
        self.max_cpu_seconds = max(self.max_cpu_seconds, cpu_seconds)

    def summary(self, name: str) -> str:
        server_errors = sum(count for status, count in self.statuses.items() if status >= 500)
        return (
            f"{name}: {self.requests} requests ({dict(sorted(self.routes.items()))}), "
            f"{server_errors} answered 5xx, {len(self.failures)} with a problem, "
            f"max CPU {self.max_cpu_seconds:.3f} s; statuses {dict(sorted(self.statuses.items()))}"
        )


# The tallies of this run's fuzz tests, by name: the root conftest prints them at the end.
TALLIES: dict[str, Tally] = {}
