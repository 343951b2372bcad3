import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, get } from "../../api";
import { isLive } from "./format";
import type { CallDetail } from "./types";

/** How often a live call is read again: progress is a workflow query, cheap and fresh. */
export const LIVE_POLL_MS = 1000;

/**
 * `GET /api/calls/{key}`, read again every `pollMs` while the call is not completed, so its
 * transcript and goal progress stay live. A failed read of a call already shown keeps the
 * call and tries again; a first read that fails (404, 403) stops and reports the error, except
 * a 404 with `appearing` (a call that has just started: its record is written a moment later).
 */
export function useCallDetail(
  callKey: string | undefined,
  pollMs: number = LIVE_POLL_MS,
  { appearing = false }: { appearing?: boolean } = {},
): { call: CallDetail | null; error: ApiError | null; reload: () => Promise<void> } {
  const [call, setCall] = useState<CallDetail | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const shown = useRef(false);

  const reload = useCallback(async () => {
    if (!callKey) return;
    try {
      const detail = await get<CallDetail>(`/api/calls/${encodeURIComponent(callKey)}`);
      shown.current = true;
      setCall(detail);
      setError(null);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(0, String(caught)));
    }
  }, [callKey]);

  useEffect(() => {
    shown.current = false;
    setCall(null);
    setError(null);
    void reload();
  }, [reload]);

  const live = call === null ? appearing && Boolean(callKey) : isLive(call.status);
  const stopped = error !== null && !shown.current && !(appearing && error.status === 404);
  useEffect(() => {
    if (!live || stopped) return undefined;
    // One read at a time: the next is scheduled when this one has answered.
    let cancelled = false;
    let timer = 0;
    const tick = async () => {
      await reload();
      if (!cancelled) timer = window.setTimeout(tick, pollMs);
    };
    timer = window.setTimeout(tick, pollMs);
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [live, stopped, reload, pollMs]);

  return { call, error, reload };
}
