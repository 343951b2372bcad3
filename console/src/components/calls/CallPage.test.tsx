import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router";
import { describe, expect, it } from "vitest";
import { CallPage } from "../../pages/CallPage";
import { CALL_SID, callDetail, delivery } from "./fixtures";
import { expectAccessible, mockApi, sentTo } from "./testing/mockApi";

function renderCall(key = CALL_SID) {
  return render(
    <MemoryRouter initialEntries={[`/calls/${key}`]}>
      <Routes>
        <Route path="/calls/:callKey" element={<CallPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

const otherCallsDelivery = delivery({
  id: 9,
  event_type: "goal.completed",
  payload: { type: "goal.completed", data: { call_sid: "CA_OTHER" } },
});

describe("CallPage", () => {
  it("shows the transcript, latency, verdicts, summary and this call's deliveries", async () => {
    const sent = mockApi({
      [`GET /api/calls/${CALL_SID}`]: { body: callDetail() },
      "GET /api/webhooks/deliveries": {
        body: [delivery(), otherCallsDelivery, delivery({ id: 8, status: "delivered", payload: {} })],
      },
    });
    const { container } = renderCall();

    const transcript = await screen.findByRole("list", { name: "Transcript" });
    expect(within(transcript).getByText("A table for four on Friday.")).toBeInTheDocument();
    expect(within(transcript).getByText("interrupted")).toBeInTheDocument();
    expect(within(transcript).getAllByText("Caller:")).toHaveLength(1);

    const latency = screen.getByRole("table", { name: "Latency per turn" });
    const row = within(latency).getByRole("row", { name: /#3 agent/ });
    expect(within(row).getByText("473 ms")).toBeInTheDocument(); // total
    expect(within(row).getByText("62 ms")).toBeInTheDocument(); // stt
    expect(within(latency).getByRole("columnheader", { name: "queueing" })).toBeInTheDocument();
    expect(within(latency).getByRole("columnheader", { name: "brain first token" })).toBeInTheDocument();

    const verdicts = screen.getByRole("table", { name: "Goal verdicts" });
    expect(within(within(verdicts).getByRole("row", { name: /collect_email/ })).getByText("not met")).toBeInTheDocument();
    expect(screen.getByText("The caller booked a table for 4 on Friday.")).toBeInTheDocument();
    expect(screen.getByRole("row", { name: /party_size 4/ })).toBeInTheDocument();

    const temporal = screen.getByRole("link", { name: /Temporal UI/ });
    expect(temporal).toHaveAttribute("href", callDetail().temporal_ui_url);
    expect(temporal).toHaveAttribute("target", "_blank");

    const hooks = await screen.findByRole("article", { name: "Webhook call.completed #7" });
    expect(within(hooks).getByText("HTTP 500 from receiver")).toBeInTheDocument();
    expect(within(hooks).getByText("10000 ms")).toBeInTheDocument();
    expect(within(hooks).getByText("Payload")).toBeInTheDocument();
    expect(hooks.querySelector("pre")?.textContent).toContain('"call_sid": "CA0001"');
    // A delivery of another call is left out even when the API sends it.
    expect(screen.queryByRole("article", { name: /#9/ })).not.toBeInTheDocument();
    // One whose payload retention erased is the API's word to take.
    expect(screen.getByRole("article", { name: "Webhook call.completed #8" })).toBeInTheDocument();
    expect(sentTo(sent, "GET /api/webhooks/deliveries")[0].query.get("call")).toBe(CALL_SID);

    expect(screen.queryByRole("heading", { name: "Live progress" })).not.toBeInTheDocument();
    await expectAccessible(container);
  });

  it("replays a failed delivery and shows it pending", async () => {
    const sent = mockApi({
      [`GET /api/calls/${CALL_SID}`]: { body: callDetail() },
      "GET /api/webhooks/deliveries": { body: [delivery()] },
      "POST /api/webhooks/deliveries/7/replay": { status: 202, body: delivery({ status: "pending" }) },
    });
    renderCall();
    const replay = await screen.findByRole("button", { name: "Replay delivery #7" });
    await userEvent.click(replay);

    expect(await screen.findByRole("status")).toHaveTextContent("Replay started");
    expect(sentTo(sent, "POST /api/webhooks/deliveries/7/replay")).toHaveLength(1);
    const hooks = screen.getByRole("article", { name: "Webhook call.completed #7" });
    expect(within(hooks).getByText("pending")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Replay delivery #7" })).toBeDisabled();
  });

  it("shows the API's refusal of a replay", async () => {
    mockApi({
      [`GET /api/calls/${CALL_SID}`]: { body: callDetail() },
      "GET /api/webhooks/deliveries": { body: [delivery()] },
      "POST /api/webhooks/deliveries/7/replay": {
        status: 409,
        body: { detail: "delivery 7 is pending; only failed ones replay" },
      },
    });
    renderCall();
    await userEvent.click(await screen.findByRole("button", { name: "Replay delivery #7" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("only failed ones replay");
  });

  it("polls a live call's progress every second until it completes", async () => {
    let reads = 0;
    const live = callDetail({
      status: "in_progress",
      outcome: null,
      ended_at: null,
      summary: null,
      analysis: {},
      transcript: callDetail().transcript.slice(0, 2),
      progress: {
        goals: [
          {
            name: "book_table",
            complete: false,
            criteria: [{ name: "has party and day", fields: ["party_size", "day"], met: false }],
            missing_fields: ["day"],
          },
        ],
        captured: { party_size: 4 },
        next_action: { kind: "ask_field", goal: "book_table", field: "day", fields: ["day"] },
      },
    });
    mockApi({
      [`GET /api/calls/${CALL_SID}`]: () => {
        reads += 1;
        return { body: reads === 1 ? live : callDetail() };
      },
      "GET /api/webhooks/deliveries": { body: [] },
    });
    renderCall();

    const fields = await screen.findByRole("list", { name: "Fields of book_table" });
    expect(within(fields).getByText("4")).toBeInTheDocument();
    expect(within(fields).getByText("missing")).toBeInTheDocument();
    expect(screen.getByText("live")).toBeInTheDocument();
    expect(screen.getByText(/Next: ask field day \(book_table\)/)).toBeInTheDocument();

    await waitFor(() => expect(screen.getByRole("table", { name: "Goal verdicts" })).toBeInTheDocument(), {
      timeout: 3000,
    });
    expect(screen.queryByRole("heading", { name: "Live progress" })).not.toBeInTheDocument();
    expect(reads).toBe(2);
  });

  it("says a call is unknown and a key without the read scope plainly", async () => {
    mockApi({ "GET /api/calls/CA404": { status: 404, body: { detail: "call CA404 not found" } } });
    renderCall("CA404");
    expect(await screen.findByRole("alert")).toHaveTextContent("No call CA404 in this organization.");
  });

  it("says plainly when the key may not see webhook deliveries", async () => {
    mockApi({
      [`GET /api/calls/${CALL_SID}`]: { body: callDetail() },
      "GET /api/webhooks/deliveries": { status: 403, body: { detail: "this API key lacks the `read` scope" } },
    });
    renderCall();
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "Webhook deliveries cannot be shown: this API key lacks the `read` scope.",
    );
    expect(screen.getByRole("list", { name: "Transcript" })).toBeInTheDocument();
  });
});
