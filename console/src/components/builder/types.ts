// The builder's own model of an agent while it is being written (strings where a person types,
// so a half-typed number is not lost), and the API shapes it reads. `document.ts` turns a draft
// into the AgentSpec document `POST /api/agents` takes (core/agents/spec.py).

/** core/fields/declaration.py FieldType, in its order. */
export const FIELD_TYPES = [
  "text",
  "date",
  "time",
  "number",
  "boolean",
  "enum",
  "phone",
  "email",
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** core/agents/spec.py EMOTIONS. */
export const EMOTIONS = [
  "neutral",
  "friendly",
  "warm",
  "calm",
  "professional",
  "enthusiastic",
  "empathetic",
] as const;

/** core/agents/spec.py SPEED_RANGE and PITCH_RANGE. */
export const SPEED_RANGE = [0.5, 2.0] as const;
export const PITCH_RANGE = [-12, 12] as const;

export interface FieldDraft {
  key: string;
  name: string;
  type: FieldType;
  description: string;
  /** Comma-separated, as typed; only sent for an enum field. */
  options: string;
  ask: string;
}

export interface CriterionDraft {
  key: string;
  name: string;
  /** "true", "false", a number or a field name, as typed. */
  value: string;
}

export interface GoalDraft {
  key: string;
  name: string;
  description: string;
  criteria: CriterionDraft[];
  /** Empty: the API infers one field per criterion (core/fields/inference.py). */
  fields: FieldDraft[];
  /** Where `goal.completed` is posted the moment the goal is met (empty: nowhere). */
  completionWebhook: string;
}

export interface VoiceDraft {
  emotion: string;
  speed: string;
  pitch: string;
  voiceProfile: string;
}

export interface AgentDraft {
  name: string;
  description: string;
  templateId: number | null;
  basePrompt: string;
  greeting: string;
  goals: GoalDraft[];
  dos: string[];
  donts: string[];
  domainIds: number[];
  /** A new domain named here is created when the agent is saved (`domain` in the document). */
  domainName: string;
  voice: VoiceDraft;
  /** One URL a line. */
  webhookUrls: string;
}

/** GET /api/agents/templates (api/schemas/templates.py TemplatePublic). */
export interface Template {
  id: number;
  name: string;
  description: string;
  base_prompt: string;
  default_voice: Record<string, unknown>;
}

/** GET /api/domains (api/schemas/domains.py DomainPublic). */
export interface Domain {
  id: number;
  name: string;
  description: string;
}

/** POST /api/agents/validate (api/schemas/common.py ValidationResult). */
export interface ValidationResult {
  valid: boolean;
  problems: Array<{ path: string; message: string }>;
  compiled_prompt: string | null;
}

/** POST /api/agents/check-reply (ReplyVerdict). */
export interface ReplyVerdict {
  allowed: boolean;
  breaches: Array<{ instruction: string; reason: string; evidence: string }>;
}

/** GET /api/domains/{id}/progress (KnowledgeProgress). */
export interface KnowledgeProgress {
  pending: number;
  indexed: number;
}

/** A 202 from POST /api/domains/{id}/knowledge (KnowledgeImportResult). */
export interface KnowledgeImportResult {
  created: number[];
  skipped: number;
  progress: KnowledgeProgress;
  indexing: boolean;
}

/** GET /api/domains/{id}/search (KnowledgeHit). */
export interface KnowledgeHit {
  item_id: number;
  title: string;
  content: string;
  knowledge_type: string;
  score: number;
  similarity: number | null;
  why: string;
}

/** The agent as POST /api/agents answers (only what the builder reads). */
export interface CreatedAgent {
  id: number;
  name: string;
}

let nextKey = 0;
/** A React key for a row the admin added. */
export function newKey(): string {
  nextKey += 1;
  return `row-${nextKey}`;
}

export function blankField(): FieldDraft {
  return { key: newKey(), name: "", type: "text", description: "", options: "", ask: "" };
}

export function blankCriterion(): CriterionDraft {
  return { key: newKey(), name: "", value: "true" };
}

export function blankGoal(): GoalDraft {
  return {
    key: newKey(),
    name: "",
    description: "",
    criteria: [blankCriterion()],
    fields: [],
    completionWebhook: "",
  };
}

export function blankDraft(): AgentDraft {
  return {
    name: "",
    description: "",
    templateId: null,
    basePrompt: "",
    greeting: "",
    goals: [],
    dos: [],
    donts: [],
    domainIds: [],
    domainName: "",
    voice: { emotion: "neutral", speed: "1.0", pitch: "0", voiceProfile: "" },
    webhookUrls: "",
  };
}
