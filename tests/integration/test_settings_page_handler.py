"""The settings page function: the stage prefix in the HTML, a fixed list of assets, strict headers."""

from __future__ import annotations

import json
from typing import Any

from devserver.events import LambdaContext
from devserver.template import PROJECT_ROOT
from functions.settings_page import handler


def invoke(file_name: str, **changes: Any) -> dict[str, Any]:
    event = json.loads((PROJECT_ROOT / "events" / file_name).read_text(encoding="utf-8"))
    event.update(changes)
    return handler.lambda_handler(event, LambdaContext("SettingsPageFunction"))


def header(response: dict[str, Any], name: str) -> str:
    headers = {key.lower(): values[0] for key, values in (response.get("multiValueHeaders") or {}).items()}
    headers.update({key.lower(): value for key, value in (response.get("headers") or {}).items()})
    return headers[name.lower()]


def test_the_page_finds_its_assets_and_apis_under_the_stage():
    """On an execute-api host the URL is /dev/settings/scim: assets and APIs live under /dev."""
    response = invoke("settings_page.json")

    assert response["statusCode"] == 200
    assert '<meta name="base-path" content="/dev">' in response["body"]
    assert 'src="/dev/settings/scim/assets/settings.js"' in response["body"]
    assert header(response, "Content-Security-Policy").startswith("default-src 'self'")
    assert header(response, "Cache-Control") == "no-store"
    assert header(response, "X-Content-Type-Options") == "nosniff"


def test_assets_are_a_fixed_list():
    script = invoke("settings_page_asset.json")
    assert script["statusCode"] == 200
    assert header(script, "Content-Type").startswith("text/javascript")

    for name in ("handler.py", "settings.html", "..", "%2e%2e%2fhandler.py"):
        path = f"/settings/scim/assets/{name}"
        refused = invoke("settings_page_asset.json", path=path, pathParameters={"file": name})
        assert refused["statusCode"] == 404, name


def test_a_method_other_than_get_is_405_with_allow():
    """Given the page and an asset, when another method arrives, then 405 with Allow: GET."""
    for file_name in ("settings_page.json", "settings_page_asset.json"):
        for method in ("POST", "HEAD", "get"):
            refused = invoke(file_name, httpMethod=method)

            assert refused["statusCode"] == 405, (file_name, method)
            assert header(refused, "Allow") == "GET"
            assert header(refused, "Content-Type").startswith("text/plain")
