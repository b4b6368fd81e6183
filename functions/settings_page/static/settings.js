// The "SCIM Access Tokens" settings page: calls the token API (tokens and each token's health)
// and the request-logs API of this same origin with the admin's API key. The key lives in sessionStorage only (gone with
// the tab), never in the page, a cookie or a URL. Every value from the API is written with
// textContent / value, never as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "scimAdminApiKey";
  const ACTIVITY_PAGE_SIZE = 20;
  const basePath = document.querySelector('meta[name="base-path"]').content;
  const tokensApi = `${basePath}/api/v1/scim/organization-access-tokens`;
  const logsApi = `${basePath}/api/v1/scim/request-logs`;
  const $ = (id) => document.getElementById(id);

  let activityCursor = ""; // the page shown
  let activityNext = null; // the page after it

  // ------------------------------------------------------------------ API
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, url, body) {
    const headers = { Authorization: `ApiKey ${sessionStorage.getItem(KEY_STORAGE) || ""}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      throw new ApiError(0, "The service cannot be reached. Check your connection and try again.");
    }
    let document = null;
    try {
      document = await response.json();
    } catch (error) {
      document = null;
    }
    if (!response.ok || !document || document.status !== "ok") {
      const message = document && document.error && document.error.message;
      throw new ApiError(response.status, message || `The request failed (HTTP ${response.status}).`);
    }
    return document.results;
  }

  // ------------------------------------------------------------ formatting
  function when(iso) {
    return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : "—";
  }

  function dateOnly(iso) {
    return iso ? iso.slice(0, 10) : "Never";
  }

  // A date input's value (YYYY-MM-DD) as the end of that day in UTC.
  function endOfDay(value) {
    return value ? `${value}T23:59:59.000Z` : null;
  }

  function cell(row, label, text, className) {
    const td = row.insertCell();
    td.dataset.label = label;
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function button(label, className, accessibleName, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = className;
    element.textContent = label;
    element.setAttribute("aria-label", accessibleName);
    element.addEventListener("click", onClick);
    return element;
  }

  function say(id, message) {
    $(id).textContent = message;
  }

  // Answers can arrive out of order (Refresh clicked, then a filter changed…): each call of a
  // loader takes a turn, and only the latest turn's answer is shown, never an older one over it.
  function turns() {
    let latest = 0;
    return () => {
      const mine = ++latest;
      return () => mine === latest;
    };
  }
  const tokensTurn = turns();
  const healthTurn = turns();
  const activityTurn = turns();

  // ---------------------------------------------------------------- sign-in
  function showConsole(signedIn) {
    $("sign-in").hidden = signedIn;
    $("console").hidden = !signedIn;
    $("sign-out").hidden = !signedIn;
  }

  async function signIn(apiKey) {
    sessionStorage.setItem(KEY_STORAGE, apiKey);
    try {
      const tokens = await api("GET", tokensApi);
      showConsole(true);
      renderTokens(tokens);
      await loadActivity("");
      $("main").focus();
    } catch (error) {
      sessionStorage.removeItem(KEY_STORAGE);
      showConsole(false);
      say(
        "sign-in-error",
        error.status === 401 ? "This API key is not valid (or has expired)." : error.message,
      );
    }
  }

  function signOut() {
    sessionStorage.removeItem(KEY_STORAGE);
    $("api-key").value = "";
    say("sign-in-error", "");
    showConsole(false);
    $("api-key").focus();
  }

  // A 401 after sign-in: the key was revoked or expired meanwhile.
  function handleAuthLoss(error) {
    if (error.status === 401) {
      signOut();
      say("sign-in-error", "Your session ended: the API key is no longer valid. Sign in again.");
      return true;
    }
    return false;
  }

  // ----------------------------------------------------------------- tokens
  function renderTokens(tokens) {
    const body = $("tokens-table").tBodies[0];
    body.replaceChildren();
    for (const token of tokens) {
      const row = body.insertRow();
      row.dataset.uuid = token.uuid;
      cell(row, "Description", token.description);
      cell(row, "Health", "Checking…", "health");
      cell(row, "UUID", token.uuid, "mono");
      cell(row, "Created", when(token.createdAt));
      cell(row, "Expires", dateOnly(token.expiresAt));
      cell(row, "Last used", when(token.lastUsedAt));
      cell(row, "Last rotated", when(token.rotatedAt));
      cell(row, "Created by", token.createdBy || "—", "mono");
      const actions = cell(row, "Actions", "", "actions");
      actions.append(
        button("Rotate", "secondary small", `Rotate ${token.description}`, () => openRotate(token)),
        button("Revoke", "secondary small", `Revoke ${token.description}`, () => openRevoke(token)),
      );
    }
    $("tokens-table").hidden = tokens.length === 0;
    $("tokens-empty").hidden = tokens.length !== 0;
    loadHealth(tokens);
  }

  // ------------------------------------------------------------------ health
  const HEALTH = {
    healthy: ["Healthy", "ok"],
    failing: ["Failing", "fail"],
    expired: ["Expired", "fail"],
    expiring: ["Expiring", "warn"],
    idle: ["Idle", "neutral"],
    never_used: ["Never used", "neutral"],
  };
  // The statuses the banner above everything is for: provisioning stopped or about to.
  const NEEDS_ATTENTION = new Set(["expired", "failing", "expiring"]);

  function line(parent, text, className) {
    const span = document.createElement("span");
    span.className = className ? `health-line ${className}` : "health-line";
    span.textContent = text;
    parent.append(span);
  }

  function traffic(health) {
    const requests = `${health.requests24h} request${health.requests24h === 1 ? "" : "s"} in 24 h`;
    if (health.failures24h === 0) return `${requests}, none failed`;
    const causes = [];
    if (health.failures24hByCause.identityProvider) causes.push("identity provider");
    if (health.failures24hByCause.service) causes.push("service");
    return `${requests}, ${health.failures24h} failed (${causes.join(", ")})`;
  }

  function renderHealth(td, health) {
    td.replaceChildren();
    const [label, kind] = HEALTH[health.status] || [health.status, "neutral"];
    const badge = document.createElement("span");
    badge.className = `badge ${kind}`;
    badge.textContent = label;
    td.append(badge);
    line(td, traffic(health));
    line(td, `Last success ${when(health.lastSuccessAt)}`);
    const error = health.lastError;
    if (error) {
      const what = [String(error.status), error.scimType].filter(Boolean).join(" ");
      const cause = error.cause === "service" ? "the service's fault" : "sent by the identity provider";
      line(td, `Last error ${when(error.occurredAt)}: ${what} (${cause})${error.detail ? ` · ${error.detail}` : ""}`, "error");
    }
  }

  function renderBanner(reports) {
    const list = $("health-banner-list");
    list.replaceChildren();
    for (const health of reports.filter((report) => NEEDS_ATTENTION.has(report.status))) {
      const item = document.createElement("li");
      const name = document.createElement("strong");
      name.textContent = health.description;
      const [label] = HEALTH[health.status];
      item.append(name, ` — ${label.toLowerCase()}: ${health.action}`);
      list.append(item);
    }
    $("health-banner").hidden = list.children.length === 0;
  }

  // Each token's health, side by side (an organization has a handful of tokens); only the latest
  // load is shown. A token whose health cannot be read says so in its cell.
  async function loadHealth(tokens) {
    const isLatest = healthTurn();
    const reports = await Promise.all(
      tokens.map((token) =>
        api("GET", `${tokensApi}/${encodeURIComponent(token.uuid)}/health`).catch((error) => ({ error, token })),
      ),
    );
    if (!isLatest()) return;
    const rows = $("tokens-table").tBodies[0];
    for (const report of reports) {
      const uuid = report.error ? report.token.uuid : report.tokenUuid;
      const td = rows.querySelector(`tr[data-uuid="${CSS.escape(uuid)}"] td.health`);
      if (!td) continue;
      if (report.error) {
        if (handleAuthLoss(report.error)) return;
        td.textContent = "Health unavailable";
      } else {
        renderHealth(td, report);
      }
    }
    renderBanner(reports.filter((report) => !report.error));
  }

  async function reloadTokens() {
    const isLatest = tokensTurn();
    try {
      const tokens = await api("GET", tokensApi);
      if (isLatest()) renderTokens(tokens);
    } catch (error) {
      if (isLatest() && !handleAuthLoss(error)) say("tokens-status", error.message);
    }
  }

  function showSecret(token) {
    $("secret-value").value = token.token;
    say("secret-status", "");
    $("secret-dialog").showModal();
    $("secret-value").select();
  }

  async function generate(event) {
    event.preventDefault();
    const description = $("token-name").value.trim();
    if (!description) {
      say("generate-error", "A name is required.");
      $("token-name").focus();
      return;
    }
    try {
      const token = await api("POST", tokensApi, {
        description,
        expiresAt: endOfDay($("token-expiry").value),
      });
      $("generate-dialog").close();
      await reloadTokens();
      say("tokens-status", `Token "${token.description}" generated.`);
      showSecret(token);
    } catch (error) {
      if (!handleAuthLoss(error)) say("generate-error", error.message);
    }
  }

  let rotating = null;
  function openRotate(token) {
    rotating = token;
    $("rotate-name").textContent = token.description;
    $("rotate-expiry").value = "";
    say("rotate-error", "");
    $("rotate-dialog").showModal();
  }

  async function rotate(event) {
    event.preventDefault();
    const expiry = $("rotate-expiry").value;
    if (!expiry) {
      say("rotate-error", "A new expiration date is required.");
      $("rotate-expiry").focus();
      return;
    }
    try {
      const token = await api("PATCH", `${tokensApi}/${encodeURIComponent(rotating.uuid)}/rotate`, {
        expiresAt: endOfDay(expiry),
      });
      $("rotate-dialog").close();
      await reloadTokens();
      say("tokens-status", `Token "${token.description}" rotated: the previous secret no longer works.`);
      showSecret(token);
    } catch (error) {
      // The API's own words, e.g. "Token can only be rotated once per hour; next rotation possible
      // after 2026-11-28T13:00:00.000Z".
      if (!handleAuthLoss(error)) say("rotate-error", error.message);
    }
  }

  let revoking = null;
  function openRevoke(token) {
    revoking = token;
    $("revoke-name").textContent = token.description;
    say("revoke-error", "");
    $("revoke-dialog").showModal();
  }

  async function revoke(event) {
    event.preventDefault();
    try {
      await api("DELETE", `${tokensApi}/${encodeURIComponent(revoking.uuid)}`);
      $("revoke-dialog").close();
      await reloadTokens();
      say("tokens-status", `Token "${revoking.description}" revoked.`);
    } catch (error) {
      if (!handleAuthLoss(error)) say("revoke-error", error.message);
    }
  }

  // ---------------------------------------------------------- activity log
  // Who made the request: the identity provider's SCIM token, an admin with their API key
  // (the token API), or the operator who ran scim-admin.
  function actor(entry) {
    if (entry.tokenUuid) return `token ${entry.tokenUuid}`;
    if (entry.actorUserUuid) return `admin ${entry.actorUserUuid} · API key ${entry.apiKeyUuid}`;
    if (entry.operator) return `scim-admin: ${entry.operator}`;
    return "—";
  }

  function renderActivity(entries) {
    const body = $("activity-table").tBodies[0];
    body.replaceChildren();
    for (const entry of entries) {
      const row = body.insertRow();
      row.dataset.action = entry.action;
      cell(row, "Time (UTC)", when(entry.occurredAt));
      cell(row, "Action", entry.action);
      const status = cell(row, "Status", "");
      const badge = document.createElement("span");
      badge.className = entry.status >= 400 ? "badge fail" : "badge ok";
      badge.textContent = String(entry.status);
      status.append(badge);
      // An API key's target also names the admin it belongs to.
      const owner = entry.targetUserUuid && `of admin ${entry.targetUserUuid}`;
      const target = [entry.targetName, entry.targetId, owner].filter(Boolean).join(" · ");
      cell(row, "Target", target || "—");
      cell(row, "Request", `${entry.method} ${entry.path}`, "mono");
      const error = [entry.scimType, entry.detail].filter(Boolean).join(": ");
      cell(row, "Error", error || "—");
      cell(row, "By", actor(entry), "mono");
    }
  }

  async function loadActivity(cursor) {
    const query = new URLSearchParams({ limit: String(ACTIVITY_PAGE_SIZE) });
    if (cursor) query.set("cursor", cursor);
    if ($("failures-only").checked) query.set("status", "failure");
    // An action, or a category of them (the option says which parameter it sets).
    const filter = $("action-filter").selectedOptions[0];
    if (filter && filter.value) query.set(filter.dataset.parameter || "action", filter.value);
    const isLatest = activityTurn();
    try {
      const results = await api("GET", `${logsApi}?${query}`);
      if (!isLatest()) return;
      activityCursor = cursor;
      activityNext = results.nextCursor;
      renderActivity(results.entries);
      $("activity-next").disabled = !activityNext;
      $("activity-first").disabled = !activityCursor;
      say(
        "activity-status",
        results.entries.length === 0 && !activityNext
          ? "No entry matches."
          : `${results.entries.length} ${results.entries.length === 1 ? "entry" : "entries"} shown${activityNext ? "; more on the next page" : ""}.`,
      );
    } catch (error) {
      if (isLatest() && !handleAuthLoss(error)) say("activity-status", error.message);
    }
  }

  // ------------------------------------------------------------------ copy
  async function copyFrom(inputId, statusId) {
    const input = $(inputId);
    try {
      await navigator.clipboard.writeText(input.value);
    } catch (error) {
      // No clipboard permission (or not a secure context): select it for Ctrl+C instead.
      input.focus();
      input.select();
      say(statusId, "Selected: press Ctrl+C (⌘C) to copy.");
      return;
    }
    say(statusId, "Copied to the clipboard.");
  }

  // ------------------------------------------------------------------ wiring
  function start() {
    $("scim-url").value = `${window.location.origin}${basePath}/api/v1/scim/v2/`;
    $("sign-in-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("api-key").value.trim();
      if (!key) {
        say("sign-in-error", "Enter your admin API key.");
        return;
      }
      say("sign-in-error", "");
      signIn(key);
    });
    $("sign-out").addEventListener("click", signOut);
    $("copy-scim-url").addEventListener("click", () => copyFrom("scim-url", "scim-url-status"));
    document
      .querySelector('#secret-dialog [data-copy="secret-value"]')
      .addEventListener("click", () => copyFrom("secret-value", "secret-status"));
    $("generate").addEventListener("click", () => {
      $("generate-form").reset();
      say("generate-error", "");
      $("generate-dialog").showModal();
    });
    $("generate-form").addEventListener("submit", generate);
    $("rotate-form").addEventListener("submit", rotate);
    $("revoke-form").addEventListener("submit", revoke);
    for (const close of document.querySelectorAll("dialog [data-close]")) {
      close.addEventListener("click", () => close.closest("dialog").close());
    }
    // The secret leaves the page as soon as its dialog closes.
    $("secret-dialog").addEventListener("close", () => {
      $("secret-value").value = "";
      loadActivity("");
    });
    $("failures-only").addEventListener("change", () => loadActivity(""));
    $("action-filter").addEventListener("change", () => loadActivity(""));
    $("activity-filters").addEventListener("submit", (event) => event.preventDefault());
    $("activity-refresh").addEventListener("click", () => {
      reloadTokens();
      loadActivity("");
    });
    $("activity-first").addEventListener("click", () => loadActivity(""));
    $("activity-next").addEventListener("click", () => loadActivity(activityNext));

    const stored = sessionStorage.getItem(KEY_STORAGE);
    if (stored) {
      signIn(stored);
    } else {
      showConsole(false);
    }
  }

  start();
})();
