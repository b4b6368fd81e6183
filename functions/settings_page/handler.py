"""GET /settings/scim: the "SCIM Access Tokens" settings page; /settings/scim/assets/{file}:
its script and style sheet. Served by the service itself, so it works in AWS and in
``make dev`` without a CDN or a separate bucket.

The page holds no secret and touches no data: the admin signs in in the browser with an API
key (kept in the tab's sessionStorage) and the page's script calls the token and
request-logs APIs. The only value put into the HTML is the stage prefix (``/prod`` on an
execute-api host), so the page finds its assets and APIs under any stage. A strict
Content-Security-Policy forbids inline script and style: everything comes from this origin."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from aws_lambda_powertools.logging import correlation_paths

from scim_provisioning.http.powertools import Response
from scim_provisioning.http.requests import RestResolver, method_not_allowed_detail, stage_prefix
from scim_provisioning.observability import logger, tracer

if TYPE_CHECKING:  # typing only: the class costs a cold start nothing then
    from aws_lambda_powertools.utilities.typing import LambdaContext

PAGE = "/settings/scim"
STATIC = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# The only files served: a fixed list, so no path from the URL ever reaches the file system.
ASSETS = {
    "settings.js": "text/javascript; charset=utf-8",
    "settings.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
# Read once per cold start (a few kilobytes, all text).
_PAGE_TEMPLATE = (STATIC / "settings.html").read_text(encoding="utf-8")
_ASSET_BODIES = {name: (STATIC / name).read_text(encoding="utf-8") for name in ASSETS}

app = RestResolver()


def _text(status_code: int, content_type: str, body: str, cache: str) -> Response:
    return Response(
        status_code=status_code,
        content_type=content_type,
        body=body,
        headers={**_SECURITY_HEADERS, "Cache-Control": cache},
    )


@app.get(PAGE)
def page() -> Response:
    body = _PAGE_TEMPLATE.replace("{{BASE_PATH}}", html.escape(stage_prefix(app), quote=True))
    return _text(200, "text/html; charset=utf-8", body, "no-store")


@app.get(f"{PAGE}/assets/<name>")
def asset(name: str) -> Response:
    if name not in ASSETS:
        return _text(404, "text/plain; charset=utf-8", "Not found", "no-store")
    return _text(200, ASSETS[name], _ASSET_BODIES[name], "public, max-age=300")


@app.not_found
def not_found(_: Exception) -> Response:
    allowed = app.allowed_methods()
    if not allowed:
        return _text(404, "text/plain; charset=utf-8", "Not found", "no-store")
    refusal = _text(405, "text/plain; charset=utf-8", method_not_allowed_detail(app, allowed), "no-store")
    refusal.headers["Allow"] = ", ".join(allowed)
    return refusal


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
