import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DomainPicker, type DomainChoice } from "./DomainPicker";
import { answer, stubApi, type Handler } from "./testing";

const DENTAL = { id: 7, name: "Bright Smile Dental", description: "" };
const SAMPLE = resolve(__dirname, "../../../../examples/knowledge/dental_clinic.json");

function Harness() {
  const [choice, setChoice] = useState<DomainChoice>({ domainIds: [], domainName: "" });
  return (
    <>
      <DomainPicker {...choice} onChange={setChoice} error={null} pollMs={10} />
      <output data-testid="choice">{JSON.stringify(choice)}</output>
    </>
  );
}

const shown = () => JSON.parse(screen.getByTestId("choice").textContent ?? "") as DomainChoice;

/** An API with domain 7 and `extra` answering first. */
function withDomain(extra: Handler = () => undefined) {
  return stubApi(async (request) => {
    const special = await extra(request);
    if (special) return special;
    if (request.method === "GET" && request.path === "/api/domains") return answer([DENTAL]);
  });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("DomainPicker", () => {
  it("creates a domain, imports the sample JSON file's items and polls progress until indexed", async () => {
    let polls = 0;
    const api = stubApi(({ method, path }) => {
      if (method === "GET" && path === "/api/domains") return answer([]);
      if (method === "POST" && path === "/api/domains") return answer(DENTAL, 201);
      if (method === "POST" && path === "/api/domains/7/knowledge") {
        return answer({ created: [1, 2, 3], skipped: 0, progress: { pending: 3, indexed: 0 }, indexing: true }, 202);
      }
      if (method === "GET" && path === "/api/domains/7/progress") {
        polls += 1;
        return answer(polls < 2 ? { pending: 1, indexed: 2 } : { pending: 0, indexed: 3 });
      }
    });
    const user = userEvent.setup();
    render(<Harness />);
    await user.type(screen.getByLabelText("New domain name"), "Bright Smile Dental");
    await user.click(screen.getByRole("button", { name: "Create domain" }));
    expect(await screen.findByRole("checkbox", { name: "Bright Smile Dental" })).toBeChecked();
    expect(shown()).toEqual({ domainIds: [7], domainName: "" });
    expect(api.to("POST", "/api/domains")[0].body).toEqual({ name: "Bright Smile Dental", description: "" });

    const text = readFileSync(SAMPLE, "utf8");
    const sample = JSON.parse(text) as { items: unknown[] };
    await user.upload(screen.getByLabelText("Knowledge file"), new File([text], "dental_clinic.json", { type: "application/json" }));
    await user.click(screen.getByRole("button", { name: "Import file" }));
    expect(await screen.findByText("All 3 items are searchable.")).toBeInTheDocument();
    // Sent as the API's items body: the file's `domain` is not part of it.
    const sent = api.to("POST", "/api/domains/7/knowledge");
    expect(sent).toHaveLength(1);
    expect(sent[0].body).toEqual({ items: sample.items });
    expect(polls).toBe(2);
    expect(screen.getByText(/Imported 3 new pieces/)).toBeInTheDocument();
  });

  it.each([
    [415, { detail: [{ loc: ["body", "file"], msg: "image/png is not a document this API reads", type: "unsupported_type" }] }, "image/png is not a document this API reads"],
    [413, { detail: "request body is larger than 10485760 bytes; a knowledge import may send at most 10485760 bytes" }, "request body is larger than 10485760 bytes; a knowledge import may send at most 10485760 bytes"],
    [422, { detail: [{ loc: ["body", "file"], msg: "the document holds no text", type: "invalid_value" }] }, "the document holds no text"],
  ])("shows a %s upload error next to the file input", async (status, body, message) => {
    const api = withDomain(({ method, path }) =>
      method === "POST" && path === "/api/domains/7/knowledge" ? answer(body, status) : undefined,
    );
    const user = userEvent.setup();
    render(<Harness />);
    await screen.findByRole("checkbox", { name: "Bright Smile Dental" });
    await user.upload(screen.getByLabelText("Knowledge file"), new File(["# Hours"], "hours.md", { type: "text/markdown" }));
    await user.click(screen.getByRole("button", { name: "Import file" }));
    await waitFor(() => expect(screen.getByLabelText("Knowledge file")).toHaveAccessibleDescription(message));
    expect(screen.getByLabelText("Knowledge file")).toHaveAttribute("aria-invalid", "true");
    // A document goes as a multipart upload named `file`.
    const form = api.to("POST", "/api/domains/7/knowledge")[0].body as FormData;
    expect(form).toBeInstanceOf(FormData);
    expect((form.get("file") as File).name).toBe("hours.md");
  });

  it("names the item an import refuses", async () => {
    withDomain(({ method, path }) =>
      method === "POST" && path === "/api/domains/7/knowledge"
        ? answer({ detail: [{ loc: ["body", "items", 1, "content"], msg: "text must not be blank", type: "value_error" }] }, 422)
        : undefined,
    );
    const user = userEvent.setup();
    render(<Harness />);
    await screen.findByRole("checkbox", { name: "Bright Smile Dental" });
    const file = new File([JSON.stringify({ items: [{ content: "a" }, { content: " " }] })], "k.json", { type: "application/json" });
    await user.upload(screen.getByLabelText("Knowledge file"), file);
    await user.click(screen.getByRole("button", { name: "Import file" }));
    await waitFor(() =>
      expect(screen.getByLabelText("Knowledge file")).toHaveAccessibleDescription("item 2: content: text must not be blank"),
    );
  });

  it("refuses a JSON file without items before sending it", async () => {
    const api = withDomain();
    const user = userEvent.setup();
    render(<Harness />);
    await screen.findByRole("checkbox", { name: "Bright Smile Dental" });
    await user.upload(screen.getByLabelText("Knowledge file"), new File(['{"domain": {}}'], "k.json", { type: "application/json" }));
    await user.click(screen.getByRole("button", { name: "Import file" }));
    await waitFor(() =>
      expect(screen.getByLabelText("Knowledge file")).toHaveAccessibleDescription('a JSON knowledge file holds its items as {"items": [...]}'),
    );
    expect(api.to("POST", "/api/domains/7/knowledge")).toHaveLength(0);
  });

  it("shows what a caller's question would retrieve: content, score and why", async () => {
    const api = withDomain(({ method, path }) =>
      method === "GET" && path === "/api/domains/7/search"
        ? answer([
            {
              item_id: 3,
              title: "Saturday hours",
              content: "Saturday: 9:00 am to 1:00 pm.",
              knowledge_type: "fact",
              score: 0.0328,
              similarity: 0.71,
              why: "meaning and shared words",
            },
          ])
        : undefined,
    );
    const user = userEvent.setup();
    render(<Harness />);
    await screen.findByRole("checkbox", { name: "Bright Smile Dental" });
    await user.type(screen.getByLabelText("Caller's question"), "Are you open on Saturday?{Enter}");
    const results = await screen.findByRole("list", { name: "Search results" });
    expect(results).toHaveTextContent("Saturday hours");
    expect(results).toHaveTextContent("Saturday: 9:00 am to 1:00 pm.");
    expect(results).toHaveTextContent("score 0.033");
    expect(results).toHaveTextContent("meaning and shared words");
    const query = api.to("GET", "/api/domains/7/search")[0].url.searchParams;
    expect(query.get("q")).toBe("Are you open on Saturday?");
    expect(query.get("k")).toBe("3");
  });

  it("shows a search refusal next to the question", async () => {
    withDomain(({ method, path }) =>
      method === "GET" && path === "/api/domains/7/search"
        ? answer({ detail: "search needs the embedding model on the API (install the `cpu` extra)" }, 503)
        : undefined,
    );
    const user = userEvent.setup();
    render(<Harness />);
    await screen.findByRole("checkbox", { name: "Bright Smile Dental" });
    await user.type(screen.getByLabelText("Caller's question"), "Hours?");
    await user.click(screen.getByRole("button", { name: "Search" }));
    await waitFor(() =>
      expect(screen.getByLabelText("Caller's question")).toHaveAccessibleDescription(
        "search needs the embedding model on the API (install the `cpu` extra)",
      ),
    );
  });

  it("assigns existing domains and names a new one for saving", async () => {
    withDomain();
    const user = userEvent.setup();
    render(<Harness />);
    await user.click(await screen.findByRole("checkbox", { name: "Bright Smile Dental" }));
    await user.type(screen.getByLabelText("New domain name"), "Billing");
    expect(shown()).toEqual({ domainIds: [7], domainName: "Billing" });
  });
});
