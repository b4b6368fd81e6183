"""Token health on the settings page, in a real browser (Debian's Chromium through Playwright)
against the dev server: four tokens as the field knows them, a healthy one, one expiring in five
days, one whose identity provider still sends the secret it had before a rotation (401s) and one
whose identity provider sends an attribute the service refuses (400s). The page must show each
one's status in the health column, and the banner above everything with what to do about the
three that need it. Screenshots of both go to docs/screenshots/ with ``UPDATE_SCREENSHOTS=1``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from scim_provisioning.timestamps import format_timestamp
from tests.e2e.helpers import REQUEST_TIMEOUT_SECONDS, TOKEN_API_PATH, DevServer, Scim, sign_in
from tests.polling import eventually
from tests.scim_samples import USER_SCHEMA

# The ingest counts a request a moment after its answer; the page reads the counts once it is
# signed in, so the test first waits for the counts through the API (never for a fixed time).
COUNTED_DEADLINE_SECONDS = 20


@dataclass(frozen=True)
class Connection:
    """A token as an identity provider holds it: its uuid, and the secret it sends."""

    uuid: str
    description: str
    bearer: str


def mint(server: DevServer, description: str, expires_in: timedelta) -> Connection:
    answer = requests.post(
        server.url(TOKEN_API_PATH),
        json={"description": description, "expiresAt": format_timestamp(datetime.now(UTC) + expires_in)},
        headers=server.admin_headers,
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    assert answer.status_code == 201, answer.text
    token = answer.json()["results"]
    return Connection(token["uuid"], description, token["token"])


def rotate(server: DevServer, connection: Connection) -> None:
    """The admin rotates the token in the page; the identity provider is never told."""
    answer = requests.patch(
        server.url(f"{TOKEN_API_PATH}/{connection.uuid}/rotate"),
        json={"expiresAt": format_timestamp(datetime.now(UTC) + timedelta(days=90))},
        headers=server.admin_headers,
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    assert answer.status_code == 200, answer.text


def health(server: DevServer, connection: Connection) -> dict[str, Any]:
    answer = requests.get(
        server.url(f"{TOKEN_API_PATH}/{connection.uuid}/health"),
        headers=server.admin_headers,
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]


def counted(server: DevServer, connection: Connection, status: str, requests_24h: int) -> dict[str, Any]:
    """The token's health once the ingest has counted its requests and it has ``status``."""
    found = eventually(
        lambda: health(server, connection),
        lambda found: found["requests24h"] >= requests_24h and found["status"] == status,
        timeout=COUNTED_DEADLINE_SECONDS,
    )
    assert (found["status"], found["requests24h"]) == (status, requests_24h), found
    return found


@pytest.fixture(scope="module")
def connections(dev_server: DevServer) -> dict[str, Connection]:
    """The four identity providers of the scenario, each having made its requests."""
    healthy = mint(dev_server, "Okta (production)", timedelta(days=120))
    expiring = mint(dev_server, "Entra ID (staging)", timedelta(days=5))
    rotated = mint(dev_server, "Okta (sandbox)", timedelta(days=120))
    bad_mapping = mint(dev_server, "Entra ID (HR import)", timedelta(days=120))
    for connection in (healthy, expiring, rotated, bad_mapping):
        assert Scim(dev_server, connection.bearer).request("GET", "/Users?count=1").status_code == 200
    Scim(dev_server, healthy.bearer).ok(
        "POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "ada@example.test"}, 201
    )
    rotate(dev_server, rotated)
    for _ in range(2):
        assert Scim(dev_server, rotated.bearer).request("GET", "/Users?count=1").status_code == 401
        refused = Scim(dev_server, bad_mapping.bearer).request(
            "POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "grace@example.test", "active": "maybe"}
        )
        assert refused.status_code == 400, refused.text
    counted(dev_server, healthy, "healthy", 2)
    counted(dev_server, expiring, "expiring", 1)
    counted(dev_server, rotated, "failing", 3)
    counted(dev_server, bad_mapping, "failing", 3)
    return {"healthy": healthy, "expiring": expiring, "rotated": rotated, "bad_mapping": bad_mapping}


def row(page: Page, connection: Connection) -> Any:
    return page.locator(f'#tokens-table tr[data-uuid="{connection.uuid}"]')


def test_the_banner_names_each_token_that_needs_attention_with_what_to_do(
    page: Page, dev_server: DevServer, connections: dict[str, Connection], screenshots: Path
) -> None:
    """Given the four connections, when the admin signs in, then a banner above everything lists
    the expiring token (rotate before its date), the one sent with its old secret (paste a
    current token) and the one refused for its mapping (fix the attribute it names), and not
    the healthy one."""
    sign_in(page, dev_server)
    banner = page.locator("#health-banner")

    expect(banner).to_be_visible()
    expect(banner.locator("li")).to_have_count(3)
    expect(banner).to_contain_text("Provisioning needs your attention")
    expect(banner.locator("li", has_text=connections["expiring"].description)).to_contain_text(
        "Rotate this token before"
    )
    expect(banner.locator("li", has_text=connections["rotated"].description)).to_contain_text("no longer valid")
    bad_mapping = banner.locator("li", has_text=connections["bad_mapping"].description)
    expect(bad_mapping).to_contain_text("Fix the attribute mapping")
    expect(bad_mapping).to_contain_text("active")
    expect(banner).not_to_contain_text(connections["healthy"].description)
    assert page.evaluate("document.querySelector('#health-banner').getBoundingClientRect().top") < page.evaluate(
        "document.querySelector('#scim-url-title').getBoundingClientRect().top"
    )
    page.screenshot(path=screenshots / "11-health-banner.png")


def test_the_health_column_shows_each_tokens_status_traffic_and_last_error(
    page: Page, dev_server: DevServer, connections: dict[str, Connection], screenshots: Path
) -> None:
    """Given the four connections, when the admin signs in, then the tokens table's health
    column says Healthy with its requests and last success, Expiring, and Failing twice with
    the failures of the last 24 hours (the identity provider's) and the last error: 401 for the
    old secret, 400 invalidValue for the mapping."""
    sign_in(page, dev_server)

    healthy = row(page, connections["healthy"]).locator('td[data-label="Health"]')
    expect(healthy).to_contain_text("Healthy")
    expect(healthy).to_contain_text("2 requests in 24 h, none failed")
    expect(healthy).to_contain_text("Last success")
    expect(row(page, connections["expiring"]).locator('td[data-label="Health"]')).to_contain_text("Expiring")
    rotated = row(page, connections["rotated"]).locator('td[data-label="Health"]')
    expect(rotated).to_contain_text("Failing")
    expect(rotated).to_contain_text("2 failed (identity provider)")
    expect(rotated).to_contain_text("401")
    bad_mapping = row(page, connections["bad_mapping"]).locator('td[data-label="Health"]')
    expect(bad_mapping).to_contain_text("Failing")
    expect(bad_mapping).to_contain_text("400 invalidValue")
    page.locator("#tokens-table").screenshot(path=screenshots / "12-health-column.png")
