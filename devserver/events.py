"""API Gateway REST (v1 proxy) events, shaped as the deployed API sends them.

The dev server turns each HTTP request into one of these; the tests build theirs the same
way, and ``events/`` holds one per route for ``sam local invoke -e``."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from devserver.template import Route

DEFAULT_STAGE = "dev"


def _single_and_multi(
    pairs: Sequence[tuple[str, str]],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """API Gateway's two views of repeated keys: the last value, and all of them."""
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def build_event(
    route: Route,
    method: str,
    path: str,
    *,
    path_parameters: Mapping[str, str] | None = None,
    query_string: str = "",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | str | None = None,
    source_ip: str = "127.0.0.1",
    stage: str = DEFAULT_STAGE,
    base_path: str = "",
    host: str = "127.0.0.1:3000",
) -> dict[str, Any]:
    """The event API Gateway would hand ``route``'s function for this request.

    ``base_path`` is what precedes ``path`` in the URL the client used: ``/<stage>`` on an
    execute-api host, nothing on the dev server or a custom domain. ``query_string`` is the raw
    query (``+`` and ``%20`` both decode to a space, as in API Gateway); a body that is not
    UTF-8 text is base64-encoded with ``isBase64Encoded``."""
    single_headers, multi_headers = _single_and_multi(list(headers))
    single_query, multi_query = _single_and_multi(parse_qsl(query_string, keep_blank_values=True))
    is_base64 = False
    text_body: str | None
    if body is None or body == b"" or body == "":
        text_body = None
    elif isinstance(body, bytes):
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(body).decode("ascii"), True
    else:
        text_body = body
    now = time.time()
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": uuid.uuid4().hex[:6],
            "resourcePath": route.resource,
            "httpMethod": method,
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"{base_path}{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": host.split(".")[0],
            "requestTimeEpoch": int(now * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userAgent": (single_headers or {}).get("User-Agent")},
            "domainName": host,
            "apiId": "local",
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


class LambdaContext:
    """The parts of the Lambda context object that Powertools and our handlers read."""

    def __init__(self, function_name: str, timeout_seconds: int = 28, memory_mb: int = 1024) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
