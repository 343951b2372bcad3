import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { ApiError, get } from "../api";
import { useAuth } from "../auth";
import {
  Deliveries,
  GoalProgress,
  GoalVerdicts,
  LatencyTable,
  Transcript,
  useCallDetail,
} from "../components/calls";
import { EvalRunner } from "../components/console/EvalRunner";
import {
  TestCall,
  WebAudioSpeaker,
  consoleSocketUrl,
  type CallInfo,
} from "../components/console/testCall";

interface Agent {
  id: number;
  name: string;
}

type Phase = "idle" | "connecting" | "live" | "ended";

// Webhooks keep coming after the call ends (goal.completed, then call.completed after the
// analysis): the list is read again this often while the page is open.
const DELIVERIES_POLL_MS = 2000;

/** What to tell a person whose microphone did not open, and what to do instead. */
export function microphoneProblem(caught: unknown): string {
  const name = caught instanceof DOMException ? caught.name : "";
  if (name === "NotAllowedError") {
    return "The microphone is blocked for this page: allow it in the address bar, or type the caller's lines instead.";
  }
  if (name === "NotFoundError") {
    return "No microphone was found: connect one, or type the caller's lines instead.";
  }
  if (name === "NotSupportedError") {
    // Firefox will not join a microphone to the 8 kHz phone-audio context the call uses.
    return "This browser cannot feed the microphone to a phone-audio call (use Chrome, Edge or another Chromium browser), or type the caller's lines instead.";
  }
  return `The microphone could not be opened (${String(caught)}); type the caller's lines instead.`;
}

/** Talk to an agent from the browser, by typing or by microphone, through the real call path,
 * and watch the call as ops would: transcript, goals, latency, webhooks, Temporal. */
export function TestConsolePage() {
  const { agentId } = useParams();
  const id = Number(agentId);
  const { key } = useAuth();
  const [agent, setAgent] = useState<Agent | null>(null);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [phase, setPhase] = useState<Phase>("idle");
  const [info, setInfo] = useState<CallInfo | null>(null);
  const [endReason, setEndReason] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [heard, setHeard] = useState(0);
  const [micOn, setMicOn] = useState(false);
  const [line, setLine] = useState("");
  const call = useRef<TestCall | null>(null);
  // The call as the API shows it, read again while it runs (its record appears a moment after
  // the call starts).
  const { call: detail } = useCallDetail(info?.call_sid, undefined, { appearing: true });

  useEffect(() => {
    get<Agent>(`/api/agents/${id}`)
      .then(setAgent)
      .catch((caught: ApiError) => setLoadError(caught));
  }, [id]);

  // Close the call when the page goes away.
  useEffect(() => () => call.current?.close(), []);

  const start = useCallback(
    async (withMicrophone: boolean) => {
      if (!key) return;
      setError(null);
      setEndReason(null);
      setInfo(null);
      setHeard(0);
      setPhase("connecting");
      const test = new TestCall(
        consoleSocketUrl(),
        key,
        id,
        {
          onCall: (started) => {
            setInfo(started);
            setPhase("live");
          },
          onEnded: (reason) => {
            setEndReason(reason);
            setMicOn(false);
            setPhase("ended");
          },
          onError: (message) => setError(message),
          onAgentAudio: setHeard,
        },
        new WebAudioSpeaker(),
      );
      call.current?.close();
      call.current = test;
      if (withMicrophone) {
        try {
          await test.startMicrophone();
          setMicOn(true);
        } catch (caught) {
          setError(microphoneProblem(caught));
        }
      }
    },
    [id, key],
  );

  async function toggleMicrophone() {
    const test = call.current;
    if (!test) return;
    if (test.microphoneOn) {
      test.stopMicrophone();
      setMicOn(false);
      return;
    }
    try {
      await test.startMicrophone();
      setMicOn(true);
    } catch (caught) {
      setError(microphoneProblem(caught));
    }
  }

  function send(event: FormEvent) {
    event.preventDefault();
    const text = line.trim();
    if (!text || !call.current) return;
    call.current.say(text);
    setLine("");
  }

  if (loadError) {
    return (
      <p role="alert" className="form-error">
        {loadError.message}
      </p>
    );
  }
  const live = phase === "live";
  return (
    <>
      <hgroup>
        <h1>Test {agent ? agent.name : "agent"}</h1>
        <p>
          A real call through the platform: speech detection, recognition, the agent's brain,
          its voice and the call's workflow, as a phone call gets them.
        </p>
      </hgroup>
      <section aria-label="Call controls">
        <div role="group">
          <button type="button" onClick={() => void start(false)} disabled={live || phase === "connecting"}>
            Start test call
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => void start(true)}
            disabled={live || phase === "connecting"}
          >
            Start with microphone
          </button>
          <button type="button" className="secondary outline" onClick={() => void toggleMicrophone()} disabled={!live}>
            {micOn ? "Microphone off" : "Microphone on"}
          </button>
          <button type="button" className="contrast" onClick={() => call.current?.hangup()} disabled={!live}>
            Hang up
          </button>
        </div>
        <p aria-live="polite" data-testid="call-status" data-phase={phase}>
          {phase === "idle" && "No call yet."}
          {phase === "connecting" && "Calling…"}
          {live && `On the call${micOn ? ", microphone on" : ""}.`}
          {phase === "ended" && `Call ended (${endReason}).`}{" "}
          <span data-testid="agent-audio" data-seconds={heard.toFixed(2)}>
            {heard > 0 && `Agent audio heard: ${heard.toFixed(1)} s.`}
          </span>
        </p>
        {error && (
          <p role="alert" className="form-error">
            {error}
          </p>
        )}
        <form onSubmit={send}>
          <fieldset role="group">
            <label htmlFor="caller-line" className="visually-hidden">
              Say as the caller
            </label>
            <input
              id="caller-line"
              name="line"
              placeholder="Type what the caller says…"
              value={line}
              onChange={(e) => setLine(e.target.value)}
              disabled={!live}
              maxLength={1000}
              autoComplete="off"
            />
            <button type="submit" disabled={!live || !line.trim()}>
              Say
            </button>
          </fieldset>
        </form>
        {info && (
          <p>
            Call <code data-testid="call-sid">{info.call_sid}</code>
            {info.temporal_ui_url ? (
              <>
                {" · "}
                <a href={info.temporal_ui_url} target="_blank" rel="noreferrer">
                  Open in the Temporal UI
                </a>
              </>
            ) : null}
            {" · "}
            <Link to={`/calls/${info.call_sid}`}>Call record</Link>
          </p>
        )}
      </section>
      {info && (
        <div className="console-grid">
          <section aria-labelledby="transcript-heading">
            <h2 id="transcript-heading">Transcript</h2>
            <Transcript turns={detail?.transcript ?? []} emptyText="The agent is about to answer…" />
            {detail && detail.transcript.length > 0 && <LatencyTable turns={detail.transcript} />}
          </section>
          <section aria-labelledby="goals-heading">
            <h2 id="goals-heading">Goals</h2>
            {detail?.progress ? (
              <GoalProgress progress={detail.progress} />
            ) : detail?.analysis?.goals ? (
              <GoalVerdicts goals={detail.analysis.goals} />
            ) : (
              <p aria-busy="true">Waiting for the call's workflow…</p>
            )}
            <h2>Webhooks</h2>
            <Deliveries callSid={info.call_sid} pollMs={DELIVERIES_POLL_MS} />
          </section>
        </div>
      )}
      <EvalRunner agentId={id} />
    </>
  );
}
