// Sending a knowledge file to `POST /api/domains/{id}/knowledge` the way the API reads it
// (api/routes/knowledge.py): a document (txt, md, pdf) as a multipart `file`; a JSON file of
// items as JSON `{"items": [...]}`. The API does not read a .json upload (415), and its items
// body admits `items` alone, so a file shaped like examples/knowledge/*.json (`{"domain": {...},
// "items": [...]}`) is read here and its items sent, at most MAX_IMPORT_ITEMS a request.
import { ApiError, post } from "../../api";
import type { KnowledgeImportResult } from "./types";

/** api/schemas/domains.py MAX_IMPORT_ITEMS. */
export const MAX_IMPORT_ITEMS = 1000;

/** Where every import problem is shown: the file input. */
export const FILE_PATH = "file";

export function isJsonFile(file: File): boolean {
  return file.name.toLowerCase().endsWith(".json") || file.type === "application/json";
}

/** An ApiError placed on the file input. */
export function fileError(message: string, status = 422): ApiError {
  return new ApiError(status, message, [{ path: FILE_PATH, message }]);
}

/** The items of a JSON knowledge file: `{"items": [...]}` (with anything else beside, such as
 * the sample files' `domain`), or a bare list of items. */
export function itemsOf(parsed: unknown): unknown[] | null {
  if (Array.isArray(parsed)) return parsed;
  if (typeof parsed === "object" && parsed !== null && Array.isArray((parsed as { items?: unknown }).items)) {
    return (parsed as { items: unknown[] }).items;
  }
  return null;
}

async function readText(file: File): Promise<string> {
  if (typeof file.text === "function") return file.text();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsText(file);
  });
}

/** The API's error for an import, as one message on the file input (an item's problem names
 * the item: "item 3: content: String should have at least 1 character"). */
function placed(error: ApiError, offset: number): ApiError {
  if (error.problems.length === 0) return fileError(error.message, error.status);
  const messages = error.problems.slice(0, 3).map((p) => {
    const match = /^items\.(\d+)\.?(.*)$/.exec(p.path);
    if (match) {
      const where = match[2] ? `${match[2]}: ` : "";
      return `item ${offset + Number(match[1]) + 1}: ${where}${p.message}`;
    }
    return p.path && p.path !== FILE_PATH ? `${p.path}: ${p.message}` : p.message;
  });
  const more = error.problems.length > 3 ? ` (and ${error.problems.length - 3} more)` : "";
  return fileError(messages.join("; ") + more, error.status);
}

/** Import `file` into domain `domainId`; ApiError (placed on the file input) when refused. */
export async function importKnowledgeFile(domainId: number, file: File): Promise<KnowledgeImportResult> {
  const url = `/api/domains/${domainId}/knowledge`;
  if (!isJsonFile(file)) {
    const form = new FormData();
    form.append("file", file, file.name);
    try {
      return await post<KnowledgeImportResult>(url, form);
    } catch (caught) {
      throw caught instanceof ApiError ? placed(caught, 0) : caught;
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readText(file));
  } catch {
    throw fileError(`${file.name} is not valid JSON`);
  }
  const items = itemsOf(parsed);
  if (!items || items.length === 0) {
    throw fileError('a JSON knowledge file holds its items as {"items": [...]}');
  }
  let result: KnowledgeImportResult | null = null;
  const created: number[] = [];
  let skipped = 0;
  for (let start = 0; start < items.length; start += MAX_IMPORT_ITEMS) {
    try {
      result = await post<KnowledgeImportResult>(url, { items: items.slice(start, start + MAX_IMPORT_ITEMS) });
    } catch (caught) {
      throw caught instanceof ApiError ? placed(caught, start) : caught;
    }
    created.push(...result.created);
    skipped += result.skipped;
  }
  return { ...(result as KnowledgeImportResult), created, skipped };
}
