// Test helpers for the builder's component tests: a stand-in for `fetch` that answers by
// method and path, and records what was sent.
import { vi } from "vitest";

export interface SentRequest {
  method: string;
  path: string;
  url: URL;
  body: unknown;
}

export type Answer = { status?: number; body?: unknown } | undefined;
export type Handler = (request: SentRequest) => Answer | Promise<Answer>;

export function answer(body: unknown, status = 200): Answer {
  return { status, body };
}

/** Stub `fetch` with `handler`; a request it does not answer is a 404. */
export function stubApi(handler: Handler) {
  const sent: SentRequest[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input), "http://console.test");
    const raw = init.body;
    const body = typeof raw === "string" ? (JSON.parse(raw) as unknown) : raw;
    const request = { method: init.method ?? "GET", path: url.pathname, url, body };
    sent.push(request);
    const reply = (await handler(request)) ?? { status: 404, body: { detail: "not found" } };
    return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), {
      status: reply.status ?? 200,
      headers: { "Content-Type": "application/json" },
    });
  });
  vi.stubGlobal("fetch", fetchMock);
  return {
    fetchMock,
    sent,
    /** The requests sent to `method path`. */
    to(method: string, path: string): SentRequest[] {
      return sent.filter((r) => r.method === method && r.path === path);
    },
  };
}
