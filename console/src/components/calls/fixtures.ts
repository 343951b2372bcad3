// Calls, turns and deliveries shaped as the API sends them, for the component tests.
import type { CallDetail, CallSummary, Delivery } from "./types";

export const CALL_SID = "CA0001";

export function callSummary(overrides: Partial<CallSummary> = {}): CallSummary {
  return {
    id: "7d7a3f2e-0000-4000-8000-000000000001",
    call_sid: CALL_SID,
    agent_id: 3,
    direction: "inbound",
    from_number: "+14155550100",
    to_number: "+14155550199",
    status: "completed",
    outcome: "goals_met",
    end_reason: "caller_hung_up",
    workflow_id: `call-${CALL_SID}`,
    started_at: "2026-11-20T10:00:00Z",
    ended_at: "2026-11-20T10:01:05Z",
    ...overrides,
  };
}

export function callDetail(overrides: Partial<CallDetail> = {}): CallDetail {
  return {
    ...callSummary(),
    summary: "The caller booked a table for 4 on Friday.",
    extracted_data: { party_size: 4, day: "Friday" },
    analysis: {
      method: "deterministic",
      goals: [
        { name: "book_table", success: true, missing_fields: [] },
        { name: "collect_email", success: false, missing_fields: ["email"] },
      ],
    },
    transcript: [
      { seq: 1, speaker: "agent", text: "Hello, how can I help?", interrupted: false, latency: {} },
      { seq: 2, speaker: "caller", text: "A table for four on Friday.", interrupted: false, latency: {} },
      {
        seq: 3,
        speaker: "agent",
        text: "Four on Friday, noted.",
        interrupted: true,
        latency: {
          end_of_turn: 180.4,
          stt: 62,
          brain_first_token: 140,
          tts_first_audio: 90,
          total: 472.6,
          queueing: 3,
        },
      },
    ],
    progress: null,
    temporal_ui_url: "http://temporal.test/namespaces/default/workflows/call-CA0001",
    ...overrides,
  };
}

export function delivery(overrides: Partial<Delivery> = {}): Delivery {
  return {
    id: 7,
    webhook_id: `call-${CALL_SID}.call.completed.0`,
    event_type: "call.completed",
    url: "https://hooks.example.com/callwright",
    status: "failed",
    payload: { type: "call.completed", timestamp: "2026-11-20T10:01:06Z", data: { call_sid: CALL_SID } },
    created_at: "2026-11-20T10:01:06Z",
    updated_at: "2026-11-20T10:05:06Z",
    attempts: [
      {
        number: 1,
        status_code: 500,
        latency_ms: 83.2,
        error: "HTTP 500 from receiver",
        attempted_at: "2026-11-20T10:01:06Z",
      },
      { number: 2, status_code: null, latency_ms: 10000, error: "timed out", attempted_at: "2026-11-20T10:02:06Z" },
    ],
    ...overrides,
  };
}
