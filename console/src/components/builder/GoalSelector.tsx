import type { ApiError } from "../../api";
import { FieldError, fieldProps } from "../FieldError";
import {
  FIELD_TYPES,
  blankCriterion,
  blankField,
  blankGoal,
  type CriterionDraft,
  type FieldDraft,
  type FieldType,
  type GoalDraft,
} from "./types";

interface GoalSelectorProps {
  goals: GoalDraft[];
  onChange(goals: GoalDraft[]): void;
  error: ApiError | null;
}

/** The agent's goals: each with its success criteria (name → true or a value) and the data it
 * needs from the caller (name, type, description, options for an enum, the question to ask). */
export function GoalSelector({ goals, onChange, error }: GoalSelectorProps) {
  const setGoal = (index: number, goal: GoalDraft) =>
    onChange(goals.map((g, i) => (i === index ? goal : g)));

  return (
    <section aria-labelledby="goals-heading">
      <h2 id="goals-heading">Goals</h2>
      <p>
        <small>What the call is for. A goal is met when every success criterion is.</small>
      </p>
      <FieldError error={error} path="goals" />
      {goals.length === 0 && <p>No goals yet: the agent will only answer questions.</p>}
      {goals.map((goal, g) => (
        <GoalEditor
          key={goal.key}
          index={g}
          goal={goal}
          error={error}
          onChange={(next) => setGoal(g, next)}
          onRemove={() => onChange(goals.filter((_, i) => i !== g))}
        />
      ))}
      <button type="button" className="secondary" onClick={() => onChange([...goals, blankGoal()])}>
        Add goal
      </button>
    </section>
  );
}

interface GoalEditorProps {
  index: number;
  goal: GoalDraft;
  error: ApiError | null;
  onChange(goal: GoalDraft): void;
  onRemove(): void;
}

function GoalEditor({ index: g, goal, error, onChange, onRemove }: GoalEditorProps) {
  const base = `goals.${g}`;
  const id = `goal-${g}`;
  const setCriterion = (c: number, next: CriterionDraft) =>
    onChange({ ...goal, criteria: goal.criteria.map((x, i) => (i === c ? next : x)) });
  const setField = (f: number, next: FieldDraft) =>
    onChange({ ...goal, fields: goal.fields.map((x, i) => (i === f ? next : x)) });

  return (
    <article aria-labelledby={`${id}-heading`} className="builder-goal">
      <h3 id={`${id}-heading`}>
        Goal {g + 1}
        {goal.name ? `: ${goal.name}` : ""}
      </h3>
      <FieldError error={error} path={base} />
      <label htmlFor={`${id}-name`}>Goal name</label>
      <input
        id={`${id}-name`}
        value={goal.name}
        onChange={(e) => onChange({ ...goal, name: e.target.value })}
        placeholder="schedule_appointment"
        {...fieldProps(error, `${base}.name`)}
      />
      <FieldError error={error} path={`${base}.name`} />

      <label htmlFor={`${id}-description`}>Goal description</label>
      <input
        id={`${id}-description`}
        value={goal.description}
        onChange={(e) => onChange({ ...goal, description: e.target.value })}
        placeholder="Book an appointment at a time that suits the caller"
        {...fieldProps(error, `${base}.description`)}
      />
      <FieldError error={error} path={`${base}.description`} />

      <label htmlFor={`${id}-webhook`}>Completion webhook</label>
      <input
        id={`${id}-webhook`}
        type="url"
        value={goal.completionWebhook}
        onChange={(e) => onChange({ ...goal, completionWebhook: e.target.value })}
        placeholder="https://example.com/callwright/goal-completed"
        aria-describedby={`${id}-webhook-help`}
        {...fieldProps(error, `${base}.completion_webhook`)}
      />
      <small id={`${id}-webhook-help`}>
        Optional: <code>goal.completed</code> is posted here, signed, the moment the goal is met.
      </small>
      <FieldError error={error} path={`${base}.completion_webhook`} />

      <fieldset>
        <legend>Success criteria</legend>
        <small>
          A criterion is a lower_snake_case name (<code>has_date</code>) and what meets it:{" "}
          <code>true</code>, a number or a field name.
        </small>
        <FieldError error={error} path={`${base}.success_criteria`} />
        {goal.criteria.map((criterion, c) => {
          const path = `${base}.success_criteria.${criterion.name.trim()}`;
          return (
            <div key={criterion.key} className="builder-row">
              <label>
                Criterion
                <input
                  value={criterion.name}
                  onChange={(e) => setCriterion(c, { ...criterion, name: e.target.value })}
                  placeholder="has_date"
                  {...fieldProps(error, path)}
                />
              </label>
              <label>
                Met when
                <input
                  value={criterion.value}
                  onChange={(e) => setCriterion(c, { ...criterion, value: e.target.value })}
                />
              </label>
              <button
                type="button"
                className="secondary outline"
                aria-label={`Remove criterion ${criterion.name || c + 1}`}
                onClick={() => onChange({ ...goal, criteria: goal.criteria.filter((_, i) => i !== c) })}
              >
                Remove
              </button>
              <FieldError error={error} path={path} />
            </div>
          );
        })}
        <button
          type="button"
          className="secondary outline"
          onClick={() => onChange({ ...goal, criteria: [...goal.criteria, blankCriterion()] })}
        >
          Add criterion
        </button>
      </fieldset>

      <fieldset>
        <legend>Required data</legend>
        <FieldError error={error} path={`${base}.required_data`} />
        {goal.fields.length === 0 ? (
          <p>
            <small>
              No fields listed: the API infers one per success criterion when the agent is saved
              (<code>has_date</code> → a date field asked as “What day works best for you?”). The
              compiled prompt beside the form shows them. Add a field to choose them yourself.
            </small>
          </p>
        ) : (
          goal.fields.map((field, f) => (
            <DataFieldEditor
              key={field.key}
              base={`${base}.required_data.${f}`}
              id={`${id}-field-${f}`}
              number={f + 1}
              field={field}
              error={error}
              onChange={(next) => setField(f, next)}
              onRemove={() => onChange({ ...goal, fields: goal.fields.filter((_, i) => i !== f) })}
            />
          ))
        )}
        <button
          type="button"
          className="secondary outline"
          onClick={() => onChange({ ...goal, fields: [...goal.fields, blankField()] })}
        >
          Add field
        </button>
      </fieldset>
      <button type="button" className="secondary outline" onClick={onRemove}>
        Remove goal {g + 1}
      </button>
    </article>
  );
}

interface DataFieldEditorProps {
  base: string;
  id: string;
  number: number;
  field: FieldDraft;
  error: ApiError | null;
  onChange(field: FieldDraft): void;
  onRemove(): void;
}

function DataFieldEditor({ base, id, number, field, error, onChange, onRemove }: DataFieldEditorProps) {
  return (
    <fieldset className="builder-field">
      <legend>Field {number}{field.name ? `: ${field.name}` : ""}</legend>
      <FieldError error={error} path={base} />
      <div className="builder-row">
        <label>
          Field name
          <input
            id={`${id}-name`}
            value={field.name}
            onChange={(e) => onChange({ ...field, name: e.target.value })}
            placeholder="preferred_date"
            {...fieldProps(error, `${base}.name`)}
          />
        </label>
        <label>
          Type
          <select
            id={`${id}-type`}
            value={field.type}
            onChange={(e) => onChange({ ...field, type: e.target.value as FieldType })}
            {...fieldProps(error, `${base}.type`)}
          >
            {FIELD_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
      </div>
      <FieldError error={error} path={`${base}.name`} />
      <FieldError error={error} path={`${base}.type`} />
      <label>
        Description
        <input
          id={`${id}-description`}
          value={field.description}
          onChange={(e) => onChange({ ...field, description: e.target.value })}
          placeholder="the day that suits them"
          {...fieldProps(error, `${base}.description`)}
        />
      </label>
      <FieldError error={error} path={`${base}.description`} />
      {field.type === "enum" && (
        <>
          <label>
            Options (comma-separated)
            <input
              id={`${id}-options`}
              value={field.options}
              onChange={(e) => onChange({ ...field, options: e.target.value })}
              placeholder="indoors, patio, bar"
              {...fieldProps(error, `${base}.options`)}
            />
          </label>
          <FieldError error={error} path={`${base}.options`} />
        </>
      )}
      <label>
        Question to ask
        <input
          id={`${id}-ask`}
          value={field.ask}
          onChange={(e) => onChange({ ...field, ask: e.target.value })}
          placeholder="What day works best for you?"
          {...fieldProps(error, `${base}.ask`)}
        />
      </label>
      <FieldError error={error} path={`${base}.ask`} />
      <button type="button" className="secondary outline" onClick={onRemove}>
        Remove field {number}
      </button>
    </fieldset>
  );
}
