// Test helpers for the console's component tests: a fetch stand-in answering by method and
// path, and an axe check. Component tests only; the real API is exercised end to end elsewhere.
import axe from "axe-core";
import { expect, vi } from "vitest";

/** What a mocked route answers: a status (200 by default) and a JSON body. */
export interface Reply {
  status?: number;
  body?: unknown;
}

/** A route's answer: fixed, or computed from the request (its URL and parsed JSON body). */
export type Route = Reply | ((request: { url: URL; body: unknown }) => Reply);

/** One request the page made. */
export interface Sent {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

/**
 * Stub `fetch` (vi.stubGlobal) with routes keyed "METHOD /path" (the path without its query);
 * an unknown route answers 404. Returns the list of requests sent, in order.
 */
export function mockApi(routes: Record<string, Route>): Sent[] {
  const sent: Sent[] = [];
  const fetchMock = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input), "http://console.test");
    const method = (init?.method ?? "GET").toUpperCase();
    const body = typeof init?.body === "string" ? JSON.parse(init.body) : undefined;
    sent.push({ method, path: url.pathname, query: url.searchParams, body });
    const route = routes[`${method} ${url.pathname}`];
    const reply: Reply = route
      ? typeof route === "function"
        ? route({ url, body })
        : route
      : { status: 404, body: { detail: `no mock for ${method} ${url.pathname}` } };
    const status = reply.status ?? 200;
    return new Response(status === 204 ? null : JSON.stringify(reply.body ?? null), {
      status,
      headers: { "Content-Type": "application/json" },
    });
  });
  vi.stubGlobal("fetch", fetchMock);
  return sent;
}

/** The requests sent to one "METHOD /path". */
export function sentTo(sent: Sent[], route: string): Sent[] {
  return sent.filter((s) => `${s.method} ${s.path}` === route);
}

/** No serious or critical axe violation in `container` (colour contrast needs a real browser's
 * layout, so jsdom skips it; the end-to-end axe run checks it). */
export async function expectAccessible(container: Element): Promise<void> {
  const results = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
  const serious = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.html).join(" | ")})`);
  expect(serious).toEqual([]);
}
