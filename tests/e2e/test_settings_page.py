"""The "SCIM Access Tokens" settings page in a real browser: Debian's headless Chromium driven
by Playwright, against the dev server (``make dev``) in a subprocess.

The journey of the product documentation: sign in with the admin's API key, copy the SCIM
base URL, generate a token and copy it from the dialog that shows it once, use it for a SCIM
request, rotate it (and be refused a second rotation within the hour), see the old token's
request fail in the activity log, revoke the token, and find the admin's own actions (the
refused rotation included) under the log's "Admin actions" filter.

Screenshots of the main states go to the test's temporary directory; with
``UPDATE_SCREENSHOTS=1`` (``make screenshots``) to ``docs/screenshots/``, which the README shows
(the browser, page and screenshot fixtures are in ``conftest.py``)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import PAGE, REQUEST_TIMEOUT_SECONDS, DevServer, sign_in

USERS = "/api/v1/scim/v2/Users"
SCIM_TOKEN = re.compile(r"^scim_[0-9a-f]{32}$")
SOON_MS = 2000  # how long one look at a refreshed table waits before Refresh is clicked again
ROTATION_REFUSED = re.compile(
    r"^Token can only be rotated once per hour; next rotation possible after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
)


def refresh_until(page: Page, *expectations: Callable[[], None], timeout_seconds: float = 20) -> None:
    """Click Refresh until every expectation holds. What the page shows after a SCIM request (its
    activity-log entry, the token's last use) is written beside the request, not necessarily
    before its answer leaves: one refresh may come too early, so the check is repeated, never
    slept on. Each expectation waits briefly for the refreshed tables (``SOON_MS``)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        page.get_by_role("button", name="Refresh").click()
        try:
            for expectation in expectations:
                expectation()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def clipboard(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def scim_get(dev_server: DevServer, token: str) -> int:
    response = requests.get(
        dev_server.url(USERS), headers={"Authorization": f"Bearer {token}"}, timeout=REQUEST_TIMEOUT_SECONDS
    )
    return response.status_code


def scim_create_user(dev_server: DevServer, token: str, user_name: str) -> int:
    response = requests.post(
        dev_server.url(USERS),
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    return response.status_code


def in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d")


def test_page_is_served_with_a_strict_content_security_policy(dev_server: DevServer) -> None:
    response = requests.get(dev_server.url(PAGE), timeout=REQUEST_TIMEOUT_SECONDS)

    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in response.text and "style=" not in response.text  # nothing inline
    assert not re.search(r"scim(adm)?_[0-9a-f]{32}", response.text)  # no secret in the HTML
    for asset in ("settings.js", "settings.css"):
        assert requests.get(dev_server.url(f"{PAGE}/assets/{asset}"), timeout=REQUEST_TIMEOUT_SECONDS).ok
    assert requests.get(dev_server.url(f"{PAGE}/assets/..%2Fhandler.py"), timeout=10).status_code in (403, 404)
    assert requests.get(dev_server.url(f"{PAGE}/assets/handler.py"), timeout=10).status_code == 404


def test_a_wrong_api_key_is_refused(page: Page, dev_server: DevServer) -> None:
    page.goto(dev_server.url(PAGE))
    page.get_by_label("Admin API key").fill("scimadm_" + "0" * 32)
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator("#sign-in-error")).to_have_text("This API key is not valid (or has expired).")
    expect(page.locator("#console")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0


def test_the_admin_journey(page: Page, dev_server: DevServer, screenshots: Path) -> None:
    page.goto(dev_server.url(PAGE))
    page.screenshot(path=screenshots / "01-sign-in.png")
    sign_in(page, dev_server)
    assert page.evaluate("sessionStorage.getItem('scimAdminApiKey')") == dev_server.api_key

    # The SCIM base URL, copied.
    scim_url = f"{dev_server.base_url}/api/v1/scim/v2/"
    expect(page.locator("#scim-url")).to_have_value(scim_url)
    page.locator("#copy-scim-url").click()
    expect(page.locator("#scim-url-status")).to_have_text("Copied to the clipboard.")
    assert clipboard(page) == scim_url

    # Generate a token: name and expiration date, then the dialog that shows it once.
    page.get_by_role("button", name="Generate new token").click()
    dialog = page.locator("#generate-dialog")
    dialog.get_by_label("Name").fill("Okta SCIM token")
    dialog.get_by_label("Expiration date").fill(in_days(90))
    page.screenshot(path=screenshots / "02-generate-dialog.png")
    dialog.get_by_role("button", name="Generate").click()
    secret_dialog = page.locator("#secret-dialog")
    expect(secret_dialog).to_be_visible()
    expect(secret_dialog).to_contain_text("cannot be viewed again")
    token = page.locator("#secret-value").input_value()
    assert SCIM_TOKEN.match(token)
    secret_dialog.get_by_role("button", name="Copy").click()
    expect(page.locator("#secret-status")).to_have_text("Copied to the clipboard.")
    assert clipboard(page) == token
    page.screenshot(path=screenshots / "03-token-shown-once.png")
    secret_dialog.get_by_role("button", name="Done").click()
    expect(secret_dialog).to_be_hidden()
    # The secret leaves the page in the dialog's asynchronous close handler: wait for it.
    expect(page.locator("#secret-value")).to_have_value("")

    row = page.locator("#tokens-table tbody tr", has_text="Okta SCIM token")
    expect(row).to_have_count(1)
    token_uuid = row.get_attribute("data-uuid")
    assert token_uuid and token_uuid in row.inner_text()
    # …minted by the signed-in admin, whose uuid the row names.
    expect(row.locator('td[data-label="Created by"]')).to_have_text(re.compile(r"^[0-9a-f-]{36}$"))
    admin_uuid = row.locator('td[data-label="Created by"]').inner_text()

    # The identity provider uses it.
    assert scim_get(dev_server, token) == 200
    assert scim_create_user(dev_server, token, "jane.doe@example.com") == 201
    assert scim_create_user(dev_server, token, "Jane.Doe@example.com") == 409  # userName is case-insensitive
    newest = page.locator("#activity-table tbody tr").first
    refresh_until(
        page,
        lambda: expect(row.locator('td[data-label="Last used"]')).not_to_have_text("—", timeout=SOON_MS),
        lambda: expect(newest).to_contain_text("409", timeout=SOON_MS),
    )
    expect(newest).to_contain_text("create_user")
    expect(newest).to_contain_text("uniqueness")
    expect(page.locator("#activity-table tbody tr").nth(1)).to_contain_text("jane.doe@example.com")

    # Rotate: a new expiration date; the new secret is shown once again.
    row.get_by_role("button", name="Rotate Okta SCIM token").click()
    rotate_dialog = page.locator("#rotate-dialog")
    expect(rotate_dialog).to_contain_text("at most once per hour")
    rotate_dialog.get_by_label("New expiration date").fill(in_days(120))
    page.screenshot(path=screenshots / "04-rotate-dialog.png")
    rotate_dialog.get_by_role("button", name="Rotate").click()
    expect(secret_dialog).to_be_visible()
    rotated = page.locator("#secret-value").input_value()
    assert SCIM_TOKEN.match(rotated) and rotated != token
    secret_dialog.get_by_role("button", name="Done").click()
    expect(row.locator('td[data-label="Last rotated"]')).not_to_have_text("—")

    # A second rotation within the hour: the API's refusal, shown in the dialog.
    row.get_by_role("button", name="Rotate Okta SCIM token").click()
    rotate_dialog.get_by_label("New expiration date").fill(in_days(150))
    rotate_dialog.get_by_role("button", name="Rotate").click()
    expect(page.locator("#rotate-error")).to_have_text(ROTATION_REFUSED)
    page.screenshot(path=screenshots / "05-rotate-refused.png")
    rotate_dialog.get_by_role("button", name="Cancel").click()

    # The old secret fails, the new one works; the failure is in the activity log.
    assert scim_get(dev_server, token) == 401
    assert scim_get(dev_server, rotated) == 200
    page.get_by_label("Failures only").check()
    failure = page.locator("#activity-table tbody tr").first
    refresh_until(page, lambda: expect(failure).to_contain_text("auth_failure", timeout=SOON_MS))
    expect(failure).to_contain_text("401")
    expect(failure).to_contain_text(token_uuid)
    expect(failure).to_contain_text("rotated or revoked")
    page.screenshot(path=screenshots / "06-activity-failures.png", full_page=True)
    page.get_by_label("Action").select_option("list")
    page.get_by_label("Failures only").uncheck()
    expect(page.locator("#activity-table tbody tr").first).to_contain_text("200")

    # Revoke, after a confirmation.
    row.get_by_role("button", name="Revoke Okta SCIM token").click()
    revoke_dialog = page.locator("#revoke-dialog")
    expect(revoke_dialog).to_contain_text("Okta SCIM token")
    page.screenshot(path=screenshots / "07-revoke-confirm.png")
    revoke_dialog.get_by_role("button", name="Revoke").click()
    expect(row).to_have_count(0)
    expect(page.locator("#tokens-status")).to_have_text('Token "Okta SCIM token" revoked.')
    assert scim_get(dev_server, rotated) == 401
    page.get_by_label("Action").select_option("")
    # The revoked token's request, just made, is the newest of the journey's six SCIM requests
    # and four admin actions (create, rotate, the refused rotation, revoke).
    rows = page.locator("#activity-table tbody tr")
    refresh_until(page, lambda: expect(rows).to_have_count(10, timeout=SOON_MS))
    expect(rows.first).to_contain_text("auth_failure")
    page.screenshot(path=screenshots / "08-after-revoke.png", full_page=True)

    # The admin's own actions, the refused rotation among them, each naming the admin and the token.
    page.get_by_label("Action").select_option(label="Admin actions")
    expect(rows).to_have_count(4)
    actions = [
        (row.get_attribute("data-action"), row.locator('td[data-label="Status"]').inner_text()) for row in rows.all()
    ]
    assert actions == [
        ("revoke_token", "200"),
        ("rotate_token", "400"),
        ("rotate_token", "200"),
        ("create_token", "201"),
    ]
    for admin_action in rows.all():
        expect(admin_action.locator('td[data-label="Target"]')).to_have_text(f"Okta SCIM token · {token_uuid}")
        expect(admin_action.locator('td[data-label="By"]')).to_contain_text(f"admin {admin_uuid} · API key ")
    expect(rows.nth(1)).to_contain_text("Token can only be rotated once per hour")
    page.screenshot(path=screenshots / "10-admin-actions.png", full_page=True)


def test_narrow_screen_and_keyboard(browser: Browser, dev_server: DevServer, screenshots: Path) -> None:
    """On a phone-sized screen the page is usable without horizontal scrolling of the page,
    and sign-in plus opening and escaping a dialog work with the keyboard alone."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(dev_server.url(PAGE))
        page.keyboard.press("Tab")  # the skip link
        page.keyboard.press("Tab")
        expect(page.get_by_label("Admin API key")).to_be_focused()
        page.keyboard.type(dev_server.api_key)
        page.keyboard.press("Enter")
        expect(page.locator("#console")).to_be_visible()
        expect(page.locator("#activity-status")).not_to_be_empty()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=screenshots / "09-narrow-screen.png", full_page=True)
        page.get_by_role("button", name="Generate new token").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#generate-dialog")).to_be_visible()
        expect(page.get_by_label("Name")).to_be_focused()
        page.keyboard.press("Escape")
        expect(page.locator("#generate-dialog")).to_be_hidden()
    finally:
        context.close()
