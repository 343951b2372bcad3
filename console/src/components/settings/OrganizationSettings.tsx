import { useEffect, useState, type FormEvent } from "react";
import { get, patch, type ApiError } from "../../api";
import { FieldError, fieldProps } from "../FieldError";
import { asApiError, formProblems, onListField } from "./errors";
import { RequestError } from "./RequestError";
import type { OrganizationPublic } from "./types";

/** The prefixes as typed ("+1, +44 +4420") as the list the API takes. */
export function parsePrefixes(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

interface Draft {
  retention: string;
  prefixes: string;
  callsPerHour: string;
}

function draftOf(organization: OrganizationPublic): Draft {
  return {
    retention: organization.retention_days === null ? "" : String(organization.retention_days),
    prefixes: organization.allowed_call_prefixes.join(", "),
    callsPerHour: String(organization.calls_per_hour),
  };
}

const WHOLE = /^\d+$/;

/** The organization's limits: call history retention, where outbound calls may dial, how many
 * per hour. Anyone may read them; saving needs an admin key. */
export function OrganizationSettings() {
  const [organization, setOrganization] = useState<OrganizationPublic | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [draft, setDraft] = useState<Draft>({ retention: "", prefixes: "", callsPerHour: "" });
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    get<OrganizationPublic>("/api/organization").then(
      (org) => {
        setOrganization(org);
        setDraft(draftOf(org));
      },
      (caught: unknown) => setLoadError(asApiError(caught)),
    );
  }, []);

  function edit(field: keyof Draft) {
    return (event: { target: { value: string } }) => {
      setSaved(false);
      setDraft((current) => ({ ...current, [field]: event.target.value }));
    };
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSaved(false);
    const retention = draft.retention.trim();
    const perHour = draft.callsPerHour.trim();
    const prefixes = parsePrefixes(draft.prefixes);
    const problems = formProblems([
      ...(retention && !WHOLE.test(retention)
        ? [{ path: "retention_days", message: "Give a whole number of days, or leave it blank." }]
        : []),
      ...(WHOLE.test(perHour)
        ? []
        : [{ path: "calls_per_hour", message: "Give a whole number of calls (0 allows none)." }]),
    ]);
    if (problems) {
      setError(problems);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const updated = await patch<OrganizationPublic>("/api/organization", {
        retention_days: retention ? Number(retention) : null,
        allowed_call_prefixes: prefixes,
        calls_per_hour: Number(perHour),
      });
      setOrganization(updated);
      setDraft(draftOf(updated));
      setSaved(true);
    } catch (caught) {
      setError(onListField(asApiError(caught), "allowed_call_prefixes", prefixes));
    } finally {
      setBusy(false);
    }
  }

  if (loadError) return <RequestError error={loadError} what="read the organization's settings" />;
  if (!organization) return <p aria-busy="true">Loading the organization…</p>;
  return (
    <form onSubmit={submit} noValidate aria-label={`Settings of ${organization.name}`}>
      <p>
        Organization <strong>{organization.name}</strong>
      </p>
      <RequestError error={error} what="change organization settings" />
      <label htmlFor="org-retention">Keep call history for (days)</label>
      <input
        id="org-retention"
        name="retention_days"
        inputMode="numeric"
        value={draft.retention}
        onChange={edit("retention")}
        aria-describedby={error?.forField("retention_days") ? undefined : "org-retention-hint"}
        {...fieldProps(error, "retention_days")}
      />
      <FieldError error={error} path="retention_days" />
      <small id="org-retention-hint">Blank: keep call history forever.</small>

      <label htmlFor="org-prefixes">Allowed call prefixes</label>
      <input
        id="org-prefixes"
        name="allowed_call_prefixes"
        value={draft.prefixes}
        onChange={edit("prefixes")}
        aria-describedby={
          error?.forField("allowed_call_prefixes") ? undefined : "org-prefixes-hint"
        }
        {...fieldProps(error, "allowed_call_prefixes")}
      />
      <FieldError error={error} path="allowed_call_prefixes" />
      <small id="org-prefixes-hint">
        E.164 prefixes outbound calls may dial, separated by commas, e.g. +1, +4420; “+” allows
        every number; blank allows none.
      </small>

      <label htmlFor="org-calls-per-hour">Outbound calls per hour</label>
      <input
        id="org-calls-per-hour"
        name="calls_per_hour"
        inputMode="numeric"
        value={draft.callsPerHour}
        onChange={edit("callsPerHour")}
        {...fieldProps(error, "calls_per_hour")}
      />
      <FieldError error={error} path="calls_per_hour" />

      <button type="submit" aria-busy={busy} disabled={busy}>
        Save settings
      </button>
      {saved && <p role="status">Saved.</p>}
    </form>
  );
}
