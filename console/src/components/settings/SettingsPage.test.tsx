import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SettingsPage } from "../../pages/SettingsPage";
import { expectAccessible, mockApi, sentTo, type Route } from "../calls/testing/mockApi";
import type { EndpointPublic, KeyPublic, OrganizationPublic } from "./types";

const KEY: KeyPublic = {
  id: 1,
  name: "Ops",
  prefix: "cw_ab12",
  scopes: ["admin"],
  created_at: "2026-11-01T10:00:00Z",
  last_used_at: null,
  expires_at: null,
  revoked_at: null,
};
const ORG: OrganizationPublic = {
  id: 1,
  name: "Acme",
  retention_days: 30,
  allowed_call_prefixes: ["+1", "+44"],
  calls_per_hour: 60,
  allow_private_webhooks: false,
  rate_limit_per_minute: 600,
  created_at: "2026-11-01T10:00:00Z",
};
const ENDPOINT: EndpointPublic = {
  id: 5,
  url: "https://hooks.example.com/callwright",
  secret_masked: "whsec_abcd…",
  previous_secret_expires_at: null,
  created_at: "2026-11-01T10:00:00Z",
  rotated_at: null,
};
const FORBIDDEN = { status: 403, body: { detail: "this API key lacks the `admin` scope" } };

function admin(extra: Record<string, Route> = {}) {
  return mockApi({
    "GET /api/keys": { body: [KEY] },
    "GET /api/organization": { body: ORG },
    "GET /api/webhooks/endpoints": { body: [ENDPOINT] },
    ...extra,
  });
}

function renderSettings() {
  return render(
    <MemoryRouter>
      <SettingsPage />
    </MemoryRouter>,
  );
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("API keys", () => {
  it("creates a key and shows it once, with a copy button and a warning", async () => {
    const sent = admin({
      "POST /api/keys": { status: 201, body: { ...KEY, id: 2, name: "CI", scopes: ["read", "calls:write"], key: "cw_secret_new_key" } },
    });
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const { container } = renderSettings();
    await screen.findByRole("row", { name: /Ops/ });

    await userEvent.type(screen.getByLabelText("Name"), "CI");
    await userEvent.click(screen.getByRole("checkbox", { name: /calls:write/ }));
    await userEvent.click(screen.getByRole("button", { name: "Create key" }));

    const shown = await screen.findByRole("article", { name: /New key “CI”/ });
    expect(within(shown).getByText("cw_secret_new_key")).toBeInTheDocument();
    expect(within(shown).getByText(/this key is not shown again/)).toBeInTheDocument();
    expect(sentTo(sent, "POST /api/keys")[0].body).toEqual({ name: "CI", scopes: ["read", "calls:write"] });

    await userEvent.click(within(shown).getByRole("button", { name: "Copy key" }));
    expect(writeText).toHaveBeenCalledWith("cw_secret_new_key");
    expect(await within(shown).findByRole("status")).toHaveTextContent("Copied");
    await expectAccessible(container);

    await userEvent.click(within(shown).getByRole("button", { name: "I have stored it" }));
    expect(screen.queryByText("cw_secret_new_key")).not.toBeInTheDocument();
  });

  it("sends the expiry with its time zone", async () => {
    const sent = admin({ "POST /api/keys": { status: 201, body: { ...KEY, key: "cw_x" } } });
    renderSettings();
    await userEvent.type(await screen.findByLabelText("Name"), "Temp");
    await userEvent.type(screen.getByLabelText("Expires (optional)"), "2030-01-02T03:04");
    await userEvent.click(screen.getByRole("button", { name: "Create key" }));
    await screen.findByText("cw_x");
    expect(sentTo(sent, "POST /api/keys")[0].body).toMatchObject({
      expires_at: new Date("2030-01-02T03:04").toISOString(),
    });
  });

  it("shows the API's 422 next to Name", async () => {
    admin({
      "POST /api/keys": {
        status: 422,
        body: { detail: [{ loc: ["body", "name"], msg: "String should have at most 200 characters", type: "string_too_long" }] },
      },
    });
    renderSettings();
    const name = await screen.findByLabelText("Name");
    await userEvent.type(name, "x");
    await userEvent.click(screen.getByRole("button", { name: "Create key" }));
    await waitFor(() => expect(name).toHaveAttribute("aria-invalid", "true"));
    expect(name).toHaveAccessibleDescription("String should have at most 200 characters");
    expect(screen.getByText("Please fix the fields marked below.")).toBeInTheDocument();
    expect(screen.queryByRole("article", { name: /New key/ })).not.toBeInTheDocument();
  });

  it("checks name and scopes before sending", async () => {
    const sent = admin();
    renderSettings();
    await userEvent.click(await screen.findByRole("checkbox", { name: /^read/ }));
    await userEvent.click(screen.getByRole("button", { name: "Create key" }));
    expect(screen.getByLabelText("Name")).toHaveAccessibleDescription("Give the key a name.");
    expect(screen.getByRole("group", { name: "Scopes" })).toHaveAccessibleDescription("Choose at least one scope.");
    expect(sentTo(sent, "POST /api/keys")).toHaveLength(0);
  });

  it("revokes a key after confirming", async () => {
    const sent = admin({ "DELETE /api/keys/1": { status: 204 } });
    const confirm = vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    renderSettings();
    const revoke = await screen.findByRole("button", { name: "Revoke Ops" });
    await userEvent.click(revoke);
    expect(sentTo(sent, "DELETE /api/keys/1")).toHaveLength(0);
    await userEvent.click(revoke);
    await waitFor(() => expect(sentTo(sent, "DELETE /api/keys/1")).toHaveLength(1));
    expect(confirm).toHaveBeenCalledTimes(2);
    await waitFor(() => expect(sentTo(sent, "GET /api/keys")).toHaveLength(2));
  });
});

describe("a key without the admin scope", () => {
  it("says so plainly and still shows what it may see", async () => {
    mockApi({
      "GET /api/keys": FORBIDDEN,
      "GET /api/organization": { body: ORG },
      "PATCH /api/organization": FORBIDDEN,
      "GET /api/webhooks/endpoints": { status: 403, body: { detail: "this API key lacks the `read` scope" } },
    });
    const { container } = renderSettings();
    expect(
      await screen.findByText("This key lacks the admin scope, so it cannot see or create API keys. Sign in with a key that has it."),
    ).toBeInTheDocument();
    expect(await screen.findByText(/This key lacks the read scope, so it cannot see webhook endpoints/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Create key" })).not.toBeInTheDocument();

    const retention = await screen.findByLabelText("Keep call history for (days)");
    expect(retention).toHaveValue("30");
    await userEvent.click(screen.getByRole("button", { name: "Save settings" }));
    expect(
      await screen.findByText(/This key lacks the admin scope, so it cannot change organization settings/),
    ).toBeInTheDocument();
    await expectAccessible(container);
  });
});

describe("organization settings", () => {
  it("shows a retention 422 next to its field", async () => {
    const sent = admin({
      "PATCH /api/organization": {
        status: 422,
        body: { detail: [{ loc: ["body", "retention_days"], msg: "Input should be less than or equal to 36500", type: "less_than_equal" }] },
      },
    });
    renderSettings();
    const retention = await screen.findByLabelText("Keep call history for (days)");
    await userEvent.clear(retention);
    await userEvent.type(retention, "99999");
    await userEvent.click(screen.getByRole("button", { name: "Save settings" }));
    await waitFor(() => expect(retention).toHaveAttribute("aria-invalid", "true"));
    expect(retention).toHaveAccessibleDescription("Input should be less than or equal to 36500");
    expect(sentTo(sent, "PATCH /api/organization")[0].body).toEqual({
      retention_days: 99999,
      allowed_call_prefixes: ["+1", "+44"],
      calls_per_hour: 60,
    });
  });

  it("saves a blank retention as keep forever, and names the bad prefix", async () => {
    const sent = admin({
      "PATCH /api/organization": ({ body }) => {
        const prefixes = (body as { allowed_call_prefixes: string[] }).allowed_call_prefixes;
        return prefixes.includes("44")
          ? {
              status: 422,
              body: { detail: [{ loc: ["body", "allowed_call_prefixes", 1], msg: "String should match pattern '^\\+[0-9]{0,14}$'", type: "string_pattern_mismatch" }] },
            }
          : { body: { ...ORG, retention_days: null, allowed_call_prefixes: prefixes } };
      },
    });
    renderSettings();
    const retention = await screen.findByLabelText("Keep call history for (days)");
    const prefixes = screen.getByLabelText("Allowed call prefixes");
    await userEvent.clear(retention);
    await userEvent.clear(prefixes);
    await userEvent.type(prefixes, "+1, 44");
    await userEvent.click(screen.getByRole("button", { name: "Save settings" }));
    await waitFor(() => expect(prefixes).toHaveAttribute("aria-invalid", "true"));
    expect(prefixes).toHaveAccessibleDescription(/^44: String should match pattern/);

    await userEvent.clear(prefixes);
    await userEvent.type(prefixes, "+1 +4420");
    await userEvent.click(screen.getByRole("button", { name: "Save settings" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Saved.");
    expect(sentTo(sent, "PATCH /api/organization").at(-1)!.body).toEqual({
      retention_days: null,
      allowed_call_prefixes: ["+1", "+4420"],
      calls_per_hour: 60,
    });
    expect(retention).toHaveValue("");
  });

  it("checks numbers before sending", async () => {
    const sent = admin();
    renderSettings();
    const perHour = await screen.findByLabelText("Outbound calls per hour");
    await userEvent.clear(perHour);
    await userEvent.click(screen.getByRole("button", { name: "Save settings" }));
    expect(perHour).toHaveAccessibleDescription("Give a whole number of calls (0 allows none).");
    expect(sentTo(sent, "PATCH /api/organization")).toHaveLength(0);
  });
});

describe("webhook endpoints", () => {
  it("shows a secret and rotates it after confirming", async () => {
    const sent = admin({
      "GET /api/webhooks/endpoints/5/secret": { body: { secret: "whsec_current", previous_secret: null, previous_secret_expires_at: null } },
      "POST /api/webhooks/endpoints/5/rotate": {
        body: { secret: "whsec_next", previous_secret: "whsec_current", previous_secret_expires_at: "2030-01-01T00:00:00Z" },
      },
    });
    vi.spyOn(window, "confirm").mockReturnValue(true);
    renderSettings();
    const endpoint = await screen.findByRole("article", { name: `Webhook endpoint ${ENDPOINT.url}` });
    expect(within(endpoint).getByText("whsec_abcd…")).toBeInTheDocument();
    await userEvent.click(within(endpoint).getByRole("button", { name: "Show secret" }));
    expect(await within(endpoint).findByText("whsec_current")).toBeInTheDocument();

    await userEvent.click(within(endpoint).getByRole("button", { name: "Rotate secret" }));
    expect(await within(endpoint).findByText("whsec_next")).toBeInTheDocument();
    expect(within(endpoint).getByText("whsec_current")).toBeInTheDocument(); // previous, still signing
    expect(sentTo(sent, "POST /api/webhooks/endpoints/5/rotate")).toHaveLength(1);
  });
});
