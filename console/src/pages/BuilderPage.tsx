import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { ApiError, get, post } from "../api";
import { FieldError, FormError, fieldProps } from "../components/FieldError";
import { AgentForm } from "../components/builder/AgentForm";
import { CompiledPrompt } from "../components/builder/CompiledPrompt";
import { DomainPicker } from "../components/builder/DomainPicker";
import { GoalSelector } from "../components/builder/GoalSelector";
import { InstructionEditor } from "../components/builder/InstructionEditor";
import { VoiceConfigurator } from "../components/builder/VoiceConfigurator";
import {
  localProblems,
  placedProblems,
  problemsError,
  toDocument,
} from "../components/builder/document";
import { blankDraft, type AgentDraft, type CreatedAgent, type Template } from "../components/builder/types";
import { useValidation } from "../components/builder/useValidation";
import "../components/builder/builder.css";

function asApiError(caught: unknown): ApiError {
  return caught instanceof ApiError ? caught : new ApiError(0, String(caught));
}

/** A draft with the template's defaults filled in once the templates are known: the first
 * template when none is chosen, and the chosen template's prompt when no prompt is written. */
function withTemplateDefaults(draft: AgentDraft, templates: Template[]): AgentDraft {
  if (templates.length === 0) return draft;
  const templateId = draft.templateId ?? templates[0].id;
  const prompt = templates.find((t) => t.id === templateId)?.base_prompt ?? "";
  const basePrompt = draft.basePrompt || prompt;
  return templateId === draft.templateId && basePrompt === draft.basePrompt
    ? draft
    : { ...draft, templateId, basePrompt };
}

interface BuilderPageProps {
  /** How long the compiled prompt waits after the last keystroke (tests shorten it). */
  validateDelayMs?: number;
}

/** `/agents/new`: build an agent from a template or one of the plan's examples, with its
 * compiled prompt and problems beside the form as the admin types, and create it. */
export function BuilderPage({ validateDelayMs = 400 }: BuilderPageProps = {}) {
  const navigate = useNavigate();
  const [draft, setDraft] = useState<AgentDraft>(blankDraft);
  const [dirty, setDirty] = useState(false);
  const [templates, setTemplates] = useState<Template[]>([]);
  const [templatesError, setTemplatesError] = useState<ApiError | null>(null);
  const [saveError, setSaveError] = useState<ApiError | null>(null);
  const [saving, setSaving] = useState(false);
  const summary = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let current = true;
    get<Template[]>("/api/agents/templates")
      .then((list) => {
        if (!current) return;
        setTemplates(list);
        setDraft((d) => withTemplateDefaults(d, list));
      })
      .catch((caught: unknown) => current && setTemplatesError(asApiError(caught)));
    return () => {
      current = false;
    };
  }, []);

  const templatePrompt = templates.find((t) => t.id === draft.templateId)?.base_prompt;
  const agentDocument = useMemo(() => toDocument(draft, templatePrompt), [draft, templatePrompt]);
  const validation = useValidation(agentDocument, draft.templateId !== null, validateDelayMs);

  // One error for every field: the refused save's, then the builder's own checks, then the live
  // validation's (once the admin has changed something, so a blank form is not all red).
  const fieldError = problemsError(
    placedProblems(
      saveError?.problems,
      localProblems(draft),
      dirty ? validation.result?.problems : undefined,
    ),
  );

  function change(next: AgentDraft) {
    setDraft(next);
    setDirty(true);
    setSaveError(null);
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    setSaving(true);
    setSaveError(null);
    try {
      const agent = await post<CreatedAgent>("/api/agents", agentDocument);
      navigate(`/agents/${agent.id}/test`);
    } catch (caught) {
      setSaveError(asApiError(caught));
      setDirty(true);
      // The summary is announced and the admin starts from it.
      requestAnimationFrame(() => summary.current?.focus());
    } finally {
      setSaving(false);
    }
  }

  const saveProblems = saveError ? placedProblems(saveError.problems) : [];
  return (
    <>
      <h1 id="builder-heading">New agent</h1>
      <div className="builder">
        <form onSubmit={save} noValidate aria-labelledby="builder-heading">
          <div ref={summary} tabIndex={-1} className="builder-summary">
            <FormError error={saveError} />
            {saveProblems.length > 0 && (
              <ul aria-label="Why the agent was not created">
                {saveProblems.map((p) => (
                  <li key={p.path}>
                    {p.path && <code>{p.path}</code>} {p.message}
                  </li>
                ))}
              </ul>
            )}
          </div>
          <AgentForm
            draft={draft}
            onChange={change}
            templates={templates}
            templatesError={templatesError}
            error={fieldError}
          />
          <GoalSelector goals={draft.goals} onChange={(goals) => change({ ...draft, goals })} error={fieldError} />
          <InstructionEditor
            dos={draft.dos}
            donts={draft.donts}
            onChange={(instructions) => change({ ...draft, ...instructions })}
            error={fieldError}
          />
          <DomainPicker
            domainIds={draft.domainIds}
            domainName={draft.domainName}
            onChange={(choice) => change({ ...draft, ...choice })}
            error={fieldError}
          />
          <VoiceConfigurator voice={draft.voice} onChange={(voice) => change({ ...draft, voice })} error={fieldError} />
          <section aria-labelledby="webhooks-heading">
            <h2 id="webhooks-heading">Webhooks</h2>
            <label htmlFor="agent-webhooks">Webhook URLs</label>
            <textarea
              id="agent-webhooks"
              rows={3}
              value={draft.webhookUrls}
              onChange={(e) => change({ ...draft, webhookUrls: e.target.value })}
              placeholder="https://example.com/callwright-events"
              {...fieldProps(fieldError, "webhook_urls")}
            />
            <FieldError error={fieldError} path="webhook_urls" />
            <small>
              One URL a line. <code>call.completed</code> is posted there when a call ends, with
              its transcript and analysis; a goal's <code>goal.completed</code> goes to its completion
              webhook.
            </small>
          </section>
          <button type="submit" aria-busy={saving} disabled={saving}>
            Create agent
          </button>
        </form>
        <aside aria-labelledby="compiled-heading">
          <CompiledPrompt validation={validation} />
        </aside>
      </div>
    </>
  );
}
