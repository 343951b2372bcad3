import { useState } from "react";
import type { ApiError } from "../../api";
import { FieldError, errorId, fieldProps } from "../FieldError";
import { fromDocument } from "./document";
import { EXAMPLES } from "./examples";
import type { AgentDraft, Template } from "./types";

interface AgentFormProps {
  draft: AgentDraft;
  onChange(draft: AgentDraft): void;
  templates: readonly Template[];
  /** Why the templates could not be listed, if they could not. */
  templatesError?: ApiError | null;
  error: ApiError | null;
}

/** Where the agent starts (one of the plan's examples, or a template) and what it is: name,
 * template, base prompt (the template's own shown as the default) and greeting. */
export function AgentForm({ draft, onChange, templates, templatesError, error }: AgentFormProps) {
  const [example, setExample] = useState("");
  const promptOf = (id: number | null) => templates.find((t) => t.id === id)?.base_prompt;
  const template = templates.find((t) => t.id === draft.templateId);

  function chooseExample(id: string) {
    setExample(id);
    const chosen = EXAMPLES.find((e) => e.id === id);
    if (chosen) onChange(fromDocument(chosen.document, (t) => promptOf(t)));
  }

  function chooseTemplate(value: string) {
    const templateId = value ? Number(value) : null;
    const previous = promptOf(draft.templateId) ?? "";
    // The prompt follows the template until the admin writes their own.
    const untouched = !draft.basePrompt.trim() || draft.basePrompt === previous;
    onChange({
      ...draft,
      templateId,
      basePrompt: untouched ? (promptOf(templateId) ?? "") : draft.basePrompt,
    });
  }

  return (
    <section aria-labelledby="agent-heading">
      <h2 id="agent-heading">The agent</h2>
      <label htmlFor="agent-example">Start from an example</label>
      <select id="agent-example" value={example} onChange={(e) => chooseExample(e.target.value)}>
        <option value="">A blank agent</option>
        {EXAMPLES.map((e) => (
          <option key={e.id} value={e.id}>
            {e.label}
          </option>
        ))}
      </select>
      <small>An example fills in the whole form; change anything before you create the agent.</small>

      <label htmlFor="agent-name">Agent name</label>
      <input
        id="agent-name"
        name="name"
        value={draft.name}
        onChange={(e) => onChange({ ...draft, name: e.target.value })}
        placeholder="Front desk"
        required
        {...fieldProps(error, "name")}
      />
      <FieldError error={error} path="name" />

      <label htmlFor="agent-template">Template</label>
      <select
        id="agent-template"
        name="template_id"
        value={draft.templateId ?? ""}
        onChange={(e) => chooseTemplate(e.target.value)}
        required
        aria-busy={templates.length === 0 && !templatesError}
        {...fieldProps(error, "template_id")}
      >
        {draft.templateId === null && <option value="">Choose a template</option>}
        {templates.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name}
          </option>
        ))}
      </select>
      <FieldError error={error} path="template_id" />
      {templatesError && <small role="alert">Templates could not be listed: {templatesError.message}</small>}
      {template?.description && <small>{template.description}</small>}

      <label htmlFor="agent-base-prompt">Base prompt</label>
      <textarea
        id="agent-base-prompt"
        name="base_prompt"
        rows={6}
        value={draft.basePrompt}
        onChange={(e) => onChange({ ...draft, basePrompt: e.target.value })}
        aria-describedby={error?.forField("base_prompt") ? errorId("base_prompt") : "base-prompt-hint"}
        aria-invalid={error?.forField("base_prompt") ? true : undefined}
      />
      <FieldError error={error} path="base_prompt" />
      <small id="base-prompt-hint">
        The template's prompt is the default; leave it as it is (or empty) to follow the template.
      </small>

      <label htmlFor="agent-greeting">Greeting</label>
      <input
        id="agent-greeting"
        name="greeting"
        value={draft.greeting}
        onChange={(e) => onChange({ ...draft, greeting: e.target.value })}
        placeholder="Thanks for calling! How can I help?"
        {...fieldProps(error, "greeting")}
      />
      <FieldError error={error} path="greeting" />

      <label htmlFor="agent-description">Description (for your team, optional)</label>
      <input
        id="agent-description"
        name="description"
        value={draft.description}
        onChange={(e) => onChange({ ...draft, description: e.target.value })}
        {...fieldProps(error, "description")}
      />
      <FieldError error={error} path="description" />
    </section>
  );
}
