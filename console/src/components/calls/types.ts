// The API's call, turn, progress and webhook-delivery shapes (api/schemas/calls.py and the
// `progress` query of CallWorkflow, core/calls/types.py), as the console reads them.

/** Where a call is in its life (core.calls.types.CallStatus). */
export type CallStatus = "in_progress" | "analysing" | "completed" | (string & {});

/** Call outcomes the workflow sets once the call is analysed. */
export const OUTCOMES = ["goals_met", "partial", "no_goal_met"] as const;

/** A call in a list (`CallPublic`). */
export interface CallSummary {
  id: string;
  call_sid: string;
  agent_id: number | null;
  direction: string;
  from_number: string;
  to_number: string;
  status: CallStatus;
  outcome: string | null;
  end_reason: string | null;
  workflow_id: string;
  started_at: string;
  ended_at: string | null;
}

/** One turn of a transcript (`TurnPublic`); `latency` holds milliseconds per stage. */
export interface Turn {
  seq: number;
  speaker: "caller" | "agent" | (string & {});
  text: string;
  interrupted: boolean;
  latency: Record<string, unknown>;
}

/** One success criterion of a goal while the call runs. */
export interface CriterionProgress {
  name: string;
  fields: string[];
  met: boolean;
}

/** One goal while the call runs. */
export interface GoalProgressState {
  name: string;
  complete: boolean;
  criteria: CriterionProgress[];
  missing_fields: string[];
}

/** The workflow's `progress` query: goals, captured data, what the agent does next. */
export interface CallProgress {
  call_sid?: string;
  status?: string;
  goals: GoalProgressState[];
  captured: Record<string, unknown>;
  rejected?: Array<{ name: string; accepted: boolean; value?: unknown; reason?: string }>;
  next_action?: { kind?: string; goal?: string | null; field?: string | null; fields?: string[] };
  turns?: number;
  end_reason?: string | null;
  outcome?: string | null;
}

/** The post-call verdict on one goal (`analysis.goals`). */
export interface GoalVerdict {
  name: string;
  success: boolean;
  missing_fields: string[];
}

/** A call with everything about it (`CallDetail`). */
export interface CallDetail extends CallSummary {
  summary: string | null;
  extracted_data: Record<string, unknown>;
  analysis: { method?: string; goals?: GoalVerdict[] } & Record<string, unknown>;
  transcript: Turn[];
  progress: CallProgress | null;
  temporal_ui_url: string | null;
}

/** One attempt at delivering a webhook (`AttemptPublic`). */
export interface DeliveryAttempt {
  number: number;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  attempted_at: string;
}

/** A webhook delivery and its attempts (`DeliveryPublic`). */
export interface Delivery {
  id: number;
  webhook_id: string;
  event_type: string;
  url: string;
  status: "pending" | "delivered" | "failed" | (string & {});
  payload: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  attempts: DeliveryAttempt[];
}

/** An agent in a list (`AgentSummary`). */
export interface AgentSummary {
  id: number;
  name: string;
  description: string;
  template_id: number;
  created_at: string;
  updated_at: string;
}
