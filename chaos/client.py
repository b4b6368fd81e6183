"""An identity provider's (or an admin's) HTTP connection to the service, as Okta and Entra ID
behave: a 503 or 429 is sent again after the ``Retry-After`` it carries, a bounded number of
times; a 401 after the admin replaced the token is sent again with the new one (the admin
pasted it); anything else is the answer. Every exchange is recorded for the checker: its
status, its ``Retry-After``, and the request id API Gateway's ``x-amzn-RequestId`` names (the
activity entry's ``requestId``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

SCIM_JSON = "application/scim+json"
RETRIED = (429, 503)
# Okta and Entra retry a refused request a few times, then report it and move on: the
# operation's outcome is then unknown to them (and to the checker).
ATTEMPTS = 8
# A request the service needs longer than this for is reported as unanswered (API Gateway
# would have cut it at 29 s; the dev server does not, so a hung request shows).
TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its answer (``status`` None: no answer)."""

    organization: str
    method: str
    path: str  # without the query string, as the activity log keeps it
    status: int | None
    retry_after: str | None
    request_id: str | None
    logged: bool  # whether the service keeps an activity entry of it (for a known organization)
    seconds: float


@dataclass
class Outcome:
    """What a client finally got for one operation, after its retries."""

    status: int | None
    body: Any
    gave_up: bool  # still refused (503/429) or unanswered after ATTEMPTS

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Exchanges:
    """Every exchange of a run, from every client's threads."""

    _all: list[Exchange] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self._all.append(exchange)

    def all(self) -> list[Exchange]:
        with self._lock:
            return list(self._all)


def logged_by_the_service(method: str, path: str) -> bool:
    """Whether a request of an organization has an activity entry: every SCIM request, and the
    token API's create, rotate and revoke (reads of the admin APIs are not logged)."""
    if path.startswith("/api/v1/scim/v2/"):
        return True
    if path.startswith("/api/v1/scim/organization-access-tokens"):
        return method in ("POST", "DELETE") or (method == "PATCH" and path.endswith("/rotate"))
    return False


class Client:
    """One credential's connection; ``credential()`` gives the Authorization header's current
    value (it changes when the admin rotates a token). Thread-safe: a session per thread."""

    def __init__(
        self,
        base_url: str,
        organization: str,
        credential: Callable[[], str],
        exchanges: Exchanges,
        content_type: str = SCIM_JSON,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._base_url = base_url
        self.organization = organization
        self._credential = credential
        self._exchanges = exchanges
        self._content_type = content_type
        self._sleep = sleep
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send(self, method: str, target: str, body: Any = None) -> Outcome:
        """``target`` is the path with its query string."""
        path = urlsplit(target).path
        status: int | None = None
        document: Any = None
        for _ in range(ATTEMPTS):
            credential = self._credential()
            status, document, retry_after = self._once(method, target, path, body, credential)
            if status == 401 and self._credential() != credential:
                continue  # the admin pasted the rotated token meanwhile
            if status not in RETRIED and status is not None:
                return Outcome(status, document, gave_up=False)
            self._sleep(_seconds(retry_after))
        return Outcome(status, document, gave_up=True)

    def _once(
        self, method: str, target: str, path: str, body: Any, credential: str
    ) -> tuple[int | None, Any, str | None]:
        headers = {"Authorization": credential, "Accept": self._content_type}
        data = None
        if body is not None:
            headers["Content-Type"] = self._content_type
            data = json.dumps(body)
        started = time.monotonic()
        try:
            response = self._session().request(
                method, self._base_url + target, data=data, headers=headers, timeout=TIMEOUT_SECONDS
            )
        except requests.RequestException:
            self._record(method, path, None, None, None, started)
            return None, None, None
        retry_after = response.headers.get("Retry-After")
        self._record(method, path, response.status_code, retry_after, response.headers.get("x-amzn-RequestId"), started)
        try:
            document = response.json() if response.content else None
        except ValueError:
            document = response.text
        return response.status_code, document, retry_after

    def _record(
        self,
        method: str,
        path: str,
        status: int | None,
        retry_after: str | None,
        request_id: str | None,
        started: float,
    ) -> None:
        self._exchanges.add(
            Exchange(
                self.organization,
                method,
                path,
                status,
                retry_after,
                request_id,
                logged_by_the_service(method, path),
                time.monotonic() - started,
            )
        )


def _seconds(retry_after: str | None) -> float:
    """How long to wait before sending again: the Retry-After seconds (1 s when missing or not
    a number of seconds: the checker reports the missing header)."""
    try:
        return max(0.0, float(retry_after or 1))
    except ValueError:
        return 1.0
