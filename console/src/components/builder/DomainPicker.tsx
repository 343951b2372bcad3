import { useEffect, useState, type KeyboardEvent } from "react";
import { ApiError, get, post } from "../../api";
import { FieldError, fieldProps } from "../FieldError";
import { FILE_PATH, importKnowledgeFile } from "./knowledgeImport";
import type { Domain, KnowledgeHit, KnowledgeImportResult, KnowledgeProgress } from "./types";

export interface DomainChoice {
  domainIds: number[];
  domainName: string;
}

interface DomainPickerProps {
  domainIds: number[];
  domainName: string;
  onChange(choice: DomainChoice): void;
  error: ApiError | null;
  /** How often indexing progress is asked for while items wait. */
  pollMs?: number;
}

const SEARCH_RESULTS = 3;

function asApiError(caught: unknown): ApiError {
  return caught instanceof ApiError ? caught : new ApiError(0, String(caught));
}

/** An error shown on one input: its field problem, else its message. */
function on(path: string, error: ApiError | null, from?: string): ApiError | null {
  if (!error) return null;
  const message = (from ? error.forField(from) : undefined) ?? error.problems[0]?.message ?? error.message;
  return new ApiError(error.status, message, [{ path, message }]);
}

function onEnter(action: () => void) {
  return (event: KeyboardEvent<HTMLInputElement>) => {
    // Enter acts on this box; it must not submit the whole agent.
    if (event.key === "Enter") {
      event.preventDefault();
      action();
    }
  };
}

/** The domains the agent knows (existing ones, or a new one named here and created on save),
 * and the tools to make and fill a domain now: create it, import a knowledge file, watch it
 * being indexed, and see what a caller's question would retrieve. */
export function DomainPicker({ domainIds, domainName, onChange, error, pollMs = 1000 }: DomainPickerProps) {
  const [domains, setDomains] = useState<Domain[]>([]);
  const [listError, setListError] = useState<ApiError | null>(null);
  const [description, setDescription] = useState("");
  const [createError, setCreateError] = useState<ApiError | null>(null);
  const [creating, setCreating] = useState(false);
  const [target, setTarget] = useState<number | null>(null);

  useEffect(() => {
    let current = true;
    get<Domain[]>("/api/domains")
      .then((list) => current && setDomains(list))
      .catch((caught: unknown) => current && setListError(asApiError(caught)));
    return () => {
      current = false;
    };
  }, []);

  const knowledgeDomain = target ?? domainIds[0] ?? domains[0]?.id ?? null;

  function toggle(id: number, checked: boolean) {
    const next = checked ? [...domainIds, id] : domainIds.filter((d) => d !== id);
    onChange({ domainIds: next, domainName });
  }

  async function createDomain() {
    const name = domainName.trim();
    if (!name) {
      setCreateError(new ApiError(422, "name the domain first", [{ path: "domain", message: "name the domain first" }]));
      return;
    }
    setCreating(true);
    setCreateError(null);
    try {
      const domain = await post<Domain>("/api/domains", { name, description });
      setDomains((list) => [...list, domain]);
      setTarget(domain.id);
      setDescription("");
      onChange({ domainIds: [...domainIds, domain.id], domainName: "" });
    } catch (caught) {
      setCreateError(on("domain", asApiError(caught), "name"));
    } finally {
      setCreating(false);
    }
  }

  const nameError = createError ?? error;
  return (
    <section aria-labelledby="domains-heading">
      <h2 id="domains-heading">Knowledge</h2>
      <fieldset>
        <legend>Domains the agent knows</legend>
        {listError && <small role="alert">Domains could not be listed: {listError.message}</small>}
        {domains.length === 0 && !listError && <p>No domains yet: create one below.</p>}
        {domains.map((domain) => (
          <label key={domain.id}>
            <input
              type="checkbox"
              checked={domainIds.includes(domain.id)}
              onChange={(e) => toggle(domain.id, e.target.checked)}
            />
            {domain.name}
          </label>
        ))}
        <FieldError error={error} path="domain_ids" />
      </fieldset>

      <label htmlFor="domain-new-name">New domain name</label>
      <input
        id="domain-new-name"
        value={domainName}
        onChange={(e) => {
          setCreateError(null);
          onChange({ domainIds, domainName: e.target.value });
        }}
        onKeyDown={onEnter(createDomain)}
        placeholder="Bright Smile Dental"
        {...fieldProps(nameError, "domain")}
      />
      <FieldError error={nameError} path="domain" />
      <small>
        A name here is created, empty, when the agent is saved. To fill it first, create it now with “Create domain”.
      </small>
      <label htmlFor="domain-new-description">New domain description (optional)</label>
      <input
        id="domain-new-description"
        value={description}
        onChange={(e) => setDescription(e.target.value)}
        onKeyDown={onEnter(createDomain)}
      />
      <button type="button" className="secondary" onClick={createDomain} aria-busy={creating} disabled={creating}>
        Create domain
      </button>

      {knowledgeDomain === null ? (
        <p>
          <small>Create or choose a domain to import knowledge into it and try a search.</small>
        </p>
      ) : (
        <>
          <label htmlFor="knowledge-domain">Domain to fill and search</label>
          <select
            id="knowledge-domain"
            value={knowledgeDomain}
            onChange={(e) => setTarget(Number(e.target.value))}
          >
            {domains.map((domain) => (
              <option key={domain.id} value={domain.id}>
                {domain.name}
              </option>
            ))}
          </select>
          <KnowledgeImporter key={`import-${knowledgeDomain}`} domainId={knowledgeDomain} pollMs={pollMs} />
          <KnowledgeSearch key={`search-${knowledgeDomain}`} domainId={knowledgeDomain} />
        </>
      )}
    </section>
  );
}

function KnowledgeImporter({ domainId, pollMs }: { domainId: number; pollMs: number }) {
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [result, setResult] = useState<KnowledgeImportResult | null>(null);
  const [progress, setProgress] = useState<KnowledgeProgress | null>(null);
  const [polling, setPolling] = useState(false);
  const [progressError, setProgressError] = useState<ApiError | null>(null);

  useEffect(() => {
    if (!polling) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const next = await get<KnowledgeProgress>(`/api/domains/${domainId}/progress`);
        if (stopped) return;
        setProgress(next);
        if (next.pending > 0) timer = setTimeout(tick, pollMs);
        else setPolling(false);
      } catch (caught) {
        if (stopped) return;
        setProgressError(asApiError(caught));
        setPolling(false);
      }
    };
    timer = setTimeout(tick, pollMs);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [polling, domainId, pollMs]);

  async function importFile() {
    if (!file) {
      setError(on(FILE_PATH, new ApiError(422, "choose a file first")));
      return;
    }
    setBusy(true);
    setError(null);
    setResult(null);
    setProgressError(null);
    try {
      const answer = await importKnowledgeFile(domainId, file);
      setResult(answer);
      setProgress(answer.progress);
      setPolling(answer.indexing && answer.progress.pending > 0);
    } catch (caught) {
      setError(on(FILE_PATH, asApiError(caught), FILE_PATH));
    } finally {
      setBusy(false);
    }
  }

  const total = progress ? progress.pending + progress.indexed : 0;
  return (
    <section aria-labelledby="knowledge-import-heading">
      <h3 id="knowledge-import-heading">Import knowledge</h3>
      <label htmlFor="knowledge-file">Knowledge file</label>
      <input
        id="knowledge-file"
        type="file"
        accept=".txt,.md,.markdown,.pdf,.json,text/plain,text/markdown,application/pdf,application/json"
        onChange={(e) => {
          setFile(e.target.files?.[0] ?? null);
          setError(null);
        }}
        {...fieldProps(error, FILE_PATH)}
      />
      <FieldError error={error} path={FILE_PATH} />
      <small>
        A document (.txt, .md or .pdf), or a JSON file of items: <code>{'{"items": [...]}'}</code>.
      </small>
      <button type="button" className="secondary" onClick={importFile} aria-busy={busy} disabled={busy}>
        Import file
      </button>
      <div role="status" aria-live="polite" className="builder-progress">
        {result && (
          <p>
            Imported {result.created.length} new {result.created.length === 1 ? "piece" : "pieces"}
            {result.skipped > 0 && `; ${result.skipped} already there`}.
          </p>
        )}
        {progress && total > 0 && (
          <>
            <progress value={progress.indexed} max={total} aria-label="Indexing progress" />
            <p>
              {progress.pending > 0
                ? `${progress.indexed} of ${total} items searchable; ${progress.pending} being indexed…`
                : `All ${total} items are searchable.`}
            </p>
          </>
        )}
        {result && !result.indexing && progress && progress.pending > 0 && (
          <p className="status-bad">
            The indexer could not be reached: the items wait. Import the file again later to retry.
          </p>
        )}
        {progressError && <p className="status-bad">Progress unknown: {progressError.message}</p>}
      </div>
    </section>
  );
}

function KnowledgeSearch({ domainId }: { domainId: number }) {
  const [question, setQuestion] = useState("");
  const [hits, setHits] = useState<KnowledgeHit[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  async function search() {
    if (!question.trim()) return;
    setBusy(true);
    setError(null);
    try {
      setHits(
        await get<KnowledgeHit[]>(`/api/domains/${domainId}/search`, { q: question, k: SEARCH_RESULTS }),
      );
    } catch (caught) {
      setHits(null);
      setError(on("q", asApiError(caught), "q"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="knowledge-search-heading">
      <h3 id="knowledge-search-heading">What would a caller's question retrieve?</h3>
      <label htmlFor="knowledge-question">Caller's question</label>
      <input
        id="knowledge-question"
        type="search"
        value={question}
        onChange={(e) => setQuestion(e.target.value)}
        onKeyDown={onEnter(search)}
        placeholder="Are you open on Saturdays?"
        {...fieldProps(error, "q")}
      />
      <FieldError error={error} path="q" />
      <button type="button" className="secondary" onClick={search} aria-busy={busy} disabled={busy || !question.trim()}>
        Search
      </button>
      {hits && hits.length === 0 && <p>Nothing found: the agent would have no knowledge to answer from.</p>}
      {hits && hits.length > 0 && (
        <ol aria-label="Search results" className="builder-hits">
          {hits.map((hit) => (
            <li key={hit.item_id}>
              <strong>{hit.title || `Item ${hit.item_id}`}</strong>{" "}
              <small>
                score {hit.score.toFixed(3)}
                {hit.similarity !== null && `, similarity ${hit.similarity.toFixed(2)}`} — {hit.why}
              </small>
              <p>{hit.content}</p>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
