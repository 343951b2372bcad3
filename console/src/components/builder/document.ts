// The draft ⇄ the agent document (core/agents/spec.py AgentSpec), and the API's problems placed
// on the builder's fields.
import { ApiError, fieldPath, type FieldProblem } from "../../api";
import {
  EMOTIONS,
  FIELD_TYPES,
  blankDraft,
  newKey,
  type AgentDraft,
  type CriterionDraft,
  type FieldDraft,
  type FieldType,
  type GoalDraft,
} from "./types";

type Json = Record<string, unknown>;

/** The document `POST /api/agents` and `POST /api/agents/validate` take. `templatePrompt` is
 * the chosen template's own prompt: a base prompt equal to it (or blank) is left out, so the
 * agent follows its template. */
export function toDocument(draft: AgentDraft, templatePrompt?: string): Json {
  const document: Json = { name: draft.name };
  if (draft.description.trim()) document.description = draft.description;
  if (draft.templateId !== null) document.template_id = draft.templateId;
  if (draft.basePrompt.trim() && draft.basePrompt !== templatePrompt) {
    document.base_prompt = draft.basePrompt;
  }
  if (draft.greeting.trim()) document.greeting = draft.greeting;
  document.goals = draft.goals.map(goalDocument);
  document.instructions = { dos: draft.dos, donts: draft.donts };
  if (draft.domainName.trim()) document.domain = draft.domainName.trim();
  if (draft.domainIds.length) document.domain_ids = draft.domainIds;
  const voice: Json = {
    emotion_default: draft.voice.emotion,
    speed: numberOrText(draft.voice.speed),
    pitch: numberOrText(draft.voice.pitch),
  };
  if (draft.voice.voiceProfile.trim()) voice.voice_profile = draft.voice.voiceProfile.trim();
  document.voice = voice;
  const urls = webhookLines(draft.webhookUrls);
  if (urls.length) document.webhook_urls = urls;
  return document;
}

function goalDocument(goal: GoalDraft): Json {
  const document: Json = { name: goal.name };
  if (goal.description.trim()) document.description = goal.description;
  document.success_criteria = Object.fromEntries(
    goal.criteria
      .filter((c) => c.name.trim())
      .map((c) => [c.name.trim(), criterionValue(c.value)]),
  );
  // Left out when empty: the API infers the fields from the criteria.
  if (goal.fields.length) document.required_data = goal.fields.map(fieldDocument);
  if (goal.completionWebhook.trim()) document.completion_webhook = goal.completionWebhook.trim();
  return document;
}

function fieldDocument(field: FieldDraft): Json {
  const document: Json = { name: field.name.trim(), type: field.type };
  if (field.description.trim()) document.description = field.description;
  const options = optionList(field.options);
  if (field.type === "enum" || options.length) document.options = options;
  if (field.ask.trim()) document.ask = field.ask;
  return document;
}

/** "a, b ,c" → ["a", "b", "c"]. */
export function optionList(text: string): string[] {
  return text
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
}

export function webhookLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
}

/** A typed number as a number; anything else as typed, for the API to name the problem. */
function numberOrText(text: string): number | string {
  const value = Number(text);
  return text.trim() !== "" && Number.isFinite(value) ? value : text;
}

/** A criterion's value as typed: true/false, a number, or a field name. */
export function criterionValue(text: string): boolean | number | string {
  const trimmed = text.trim();
  if (trimmed === "" || trimmed.toLowerCase() === "true") return true;
  if (trimmed.toLowerCase() === "false") return false;
  if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  return trimmed;
}

// --- from a configuration document (the plan's examples) ----------------------------------------

const TYPE_BY_NAME_WORD: ReadonlyArray<[string, FieldType]> = [
  ["email", "email"],
  ["phone", "phone"],
  ["date", "date"],
  ["day", "date"],
  ["time", "time"],
  ["budget", "number"],
  ["count", "number"],
  ["size", "number"],
  ["amount", "number"],
  ["quantity", "number"],
];

/** The type a bare required-data name implies, as core/fields/declaration.py
 * `infer_field_type` reads it (`preferred_date` → date), so a bare name shows its real type. */
export function inferFieldType(name: string): FieldType {
  if (/^(is|has|wants|needs)_/.test(name)) return "boolean";
  const words = name.split("_");
  if (words[0] === "number" && words[1] === "of") return "number";
  for (const [word, type] of TYPE_BY_NAME_WORD) if (words.includes(word)) return type;
  return "text";
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function fieldFrom(value: unknown): FieldDraft | null {
  if (typeof value === "string") {
    const name = value.trim().toLowerCase();
    return {
      key: newKey(),
      name,
      type: inferFieldType(name),
      description: name.replace(/_/g, " "),
      options: "",
      ask: "",
    };
  }
  if (typeof value !== "object" || value === null) return null;
  const field = value as Json;
  const type = FIELD_TYPES.find((t) => t === field.type) ?? "text";
  return {
    key: newKey(),
    name: text(field.name),
    type,
    description: text(field.description),
    options: Array.isArray(field.options) ? field.options.map(String).join(", ") : "",
    ask: text(field.ask),
  };
}

function goalFrom(value: unknown): GoalDraft | null {
  if (typeof value !== "object" || value === null) return null;
  const goal = value as Json;
  const criteria: CriterionDraft[] = Object.entries(
    (goal.success_criteria as Json | undefined) ?? {},
  ).map(([name, v]) => ({ key: newKey(), name, value: String(v) }));
  const fields = Array.isArray(goal.required_data)
    ? goal.required_data.map(fieldFrom).filter((f): f is FieldDraft => f !== null)
    : [];
  return {
    key: newKey(),
    name: text(goal.name),
    description: text(goal.description),
    criteria,
    fields,
    completionWebhook: text(goal.completion_webhook),
  };
}

/** A configuration document (one of the plan's examples) as a draft. `templatePrompt` looks up
 * a template's prompt, shown when the document gives none of its own. */
export function fromDocument(doc: Json, templatePrompt: (id: number) => string | undefined): AgentDraft {
  const draft = blankDraft();
  const instructions = (doc.instructions as Json | undefined) ?? {};
  const voice = (doc.voice as Json | undefined) ?? {};
  const templateId = typeof doc.template_id === "number" ? doc.template_id : null;
  const emotion = text(voice.emotion_default);
  return {
    ...draft,
    name: text(doc.name),
    description: text(doc.description),
    templateId,
    basePrompt: text(doc.base_prompt) || (templateId !== null ? (templatePrompt(templateId) ?? "") : ""),
    greeting: text(doc.greeting),
    goals: Array.isArray(doc.goals)
      ? doc.goals.map(goalFrom).filter((g): g is GoalDraft => g !== null)
      : [],
    dos: Array.isArray(instructions.dos) ? instructions.dos.map(String) : [],
    donts: Array.isArray(instructions.donts) ? instructions.donts.map(String) : [],
    domainIds: Array.isArray(doc.domain_ids) ? doc.domain_ids.filter((d) => typeof d === "number") : [],
    domainName: text(doc.domain),
    voice: {
      emotion: (EMOTIONS as readonly string[]).includes(emotion) ? emotion : draft.voice.emotion,
      speed: voice.speed === undefined ? draft.voice.speed : String(voice.speed),
      pitch: voice.pitch === undefined ? draft.voice.pitch : String(voice.pitch),
      voiceProfile: text(voice.voice_profile),
    },
    webhookUrls: Array.isArray(doc.webhook_urls) ? doc.webhook_urls.map(String).join("\n") : "",
  };
}

// --- problems on fields ------------------------------------------------------------------------

const UNION_TAGS = new Set(["GoalSpec", "int", "constrained-int"]);
const CRITERION_VALUE_TAGS = new Set(["bool", "int", "float", "str"]);

/** One problem at the path of the field the builder shows it by, or null when it is noise:
 * pydantic names each member of `goals`' union (`goals.0.GoalSpec.name`, `goals.0.int`), a
 * webhook URL's problem belongs to the one text box, a domain id's to the domain list. */
export function placeProblem(problem: FieldProblem): FieldProblem | null {
  const parts = fieldPath(problem.path).split(".").filter(Boolean);
  let message = problem.message.replace(/^Value error, /, "");
  if (parts[0] === "goals" && parts.length >= 3 && UNION_TAGS.has(parts[2])) {
    if (parts[2] !== "GoalSpec") return null;
    parts.splice(2, 1);
  }
  if (parts[0] === "goals" && parts[2] === "success_criteria" && parts.length > 4) {
    if (CRITERION_VALUE_TAGS.has(parts[parts.length - 1])) {
      message = "a criterion's value is true/false, a number or a field name";
    }
    parts.length = 4;
  }
  if (parts[0] === "goals" && parts[2] === "required_data" && parts[4] === "options") {
    parts.length = 5;
  }
  // `DataField`'s own check ("an enum field needs `options`") is reported on the whole field.
  if (parts[0] === "goals" && parts[2] === "required_data" && parts.length === 4 && /option/.test(message)) {
    parts.push("options");
  }
  if ((parts[0] === "webhook_urls" || parts[0] === "domain_ids") && parts.length > 1) {
    message = `${parts[0] === "webhook_urls" ? "URL" : "domain"} ${Number(parts[1]) + 1}: ${message}`;
    parts.length = 1;
  }
  if (parts[0] === "voice" && parts.length > 2) parts.length = 2;
  return { path: parts.join("."), message };
}

/** The problems placed (see `placeProblem`), one a path, earlier lists first. */
export function placedProblems(...lists: ReadonlyArray<FieldProblem[] | undefined>): FieldProblem[] {
  const seen = new Map<string, FieldProblem>();
  for (const list of lists) {
    for (const raw of list ?? []) {
      const placed = placeProblem(raw);
      if (placed && !seen.has(placed.path)) seen.set(placed.path, placed);
    }
  }
  return [...seen.values()];
}

/** Problems the builder sees before asking the API: an enum field without options (the API
 * says so too, but only once the rest of the goal parses). */
export function localProblems(draft: AgentDraft): FieldProblem[] {
  const problems: FieldProblem[] = [];
  draft.goals.forEach((goal, g) => {
    goal.fields.forEach((field, f) => {
      if (field.type === "enum" && optionList(field.options).length === 0) {
        problems.push({
          path: `goals.${g}.required_data.${f}.options`,
          message: "an enum field needs options (comma-separated)",
        });
      }
    });
  });
  return problems;
}

/** An ApiError carrying `problems`, so FieldError and fieldProps can show them; null if none. */
export function problemsError(problems: FieldProblem[], status = 422): ApiError | null {
  if (problems.length === 0) return null;
  const first = problems[0];
  return new ApiError(status, first.path ? `${first.path}: ${first.message}` : first.message, problems);
}
