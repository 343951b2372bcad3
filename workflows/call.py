"""`CallWorkflow` (`call-<CallSid>`, task queue `calls`): the durable record of one phone call.

The realtime process owns the conversation and signals finished turns and captured data here;
this workflow never sits on the audio path. It is the authority on goal progress (the same
`GoalManager` the realtime process runs), persists the transcript, sends `goal.completed` the
moment a goal's criteria are met and `call.completed` once the call is analysed, and ends the
call itself when the maximum duration or the inactivity timer runs out.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from core.calls.activities import (
        ANALYZE_CALL,
        COLLECT_SPOOLED,
        HANG_UP_CALL,
        RECORD_CALL_ENDED,
        RECORD_CALL_STARTED,
        RECORD_TURNS,
        AnalysisInput,
        CallFinished,
        CallStarted,
        HangUp,
        TurnsToRecord,
    )
    from core.calls.cleaning import clean_json, clean_number, clean_reason, clean_text
    from core.calls.extraction import analyse
    from core.calls.types import (
        CallAnalysis,
        CallEnded,
        CallInput,
        CallProgress,
        CallResult,
        CallResume,
        CallStatus,
        CriterionProgress,
        DeliveryInput,
        EndSource,
        FieldCaptureResult,
        FieldEvent,
        GoalProgress,
        SpooledSignals,
        StreamAttached,
        StreamDetached,
        TurnEvent,
        WebhookEvent,
    )
    from core.goals.manager import GoalManager
    from core.search_attributes import GOALS_COMPLETED, OUTCOME
    from core.webhooks.signing import event_envelope
    from workflows.webhook import WebhookDeliveryWorkflow, webhook_workflow_id

DB_TIMEOUT = timedelta(seconds=30)
# A database outage is waited out for a day; an error no retry can fix (a value the table
# refuses) is raised non-retryable by the activity and the record goes on without it.
DB_DEADLINE = timedelta(hours=24)
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["UnstorableValue"],
)
ANALYSIS_TIMEOUT = timedelta(minutes=2)
REJECTED_KEPT = 50
# After Twilio's final status, the realtime's last turns (and its own `call_ended`) are still on
# their way; they are waited for this long before the call is analysed.
LATE_TURNS_GRACE = timedelta(seconds=10)


@workflow.defn
class CallWorkflow:
    """One phone call: goals, transcript, timers and webhooks."""

    @workflow.init
    def __init__(self, call: CallInput) -> None:
        # Twilio's From/To may be SIP URIs of any length: bounded here, once, for every use.
        call.from_number = clean_number(call.from_number)
        call.to_number = clean_number(call.to_number)
        self.call = call
        self.goals = GoalManager(call.agent.goals)
        self.turns: dict[int, TurnEvent] = {}
        self.unsaved: list[int] = []
        self.rejected: list[FieldCaptureResult] = []
        self.completed_goals: list[str] = []
        self.unannounced: list[str] = []
        self.end_reason: str | None = None
        self.applied_events: set[str] = set()
        self.stream: str | None = None
        """The media stream holding the call now (None between streams and after the end)."""
        self.streams = 0
        self.status = CallStatus.IN_PROGRESS
        self.outcome: str | None = None
        self.started_at = workflow.now()
        self.last_activity = self.started_at

    @workflow.run
    async def run(self, call: CallInput) -> CallResult:
        """Keep the call's record until it ends, then analyse it and send `call.completed`."""
        await self._record(RECORD_CALL_STARTED, self._started())
        # From the workflow's start, not from when the first write got through.
        deadline = self.started_at + timedelta(seconds=call.max_call_seconds)
        inactivity = timedelta(seconds=call.inactivity_seconds)

        while self.end_reason is None:
            now = workflow.now()
            wait = min(deadline - now, self.last_activity + inactivity - now)
            if wait <= timedelta(0):
                await self._end_by_timer("max_duration" if now >= deadline else "inactivity")
                break
            try:
                await workflow.wait_condition(
                    lambda: bool(self.unsaved or self.unannounced) or self.end_reason is not None,
                    timeout=wait,
                )
            except TimeoutError:
                continue
            await self._flush()
        if self.stream is not None:
            # Ended by Twilio (or a timer) while a stream still holds the call: its last turns
            # and its own end are on their way; keep them.
            await self._wait(lambda: self.stream is None, LATE_TURNS_GRACE)
        await self._collect_spooled()
        # Signals can land while a flush awaits; keep going until nothing is left unsaved.
        while self.unsaved or self.unannounced:
            await self._flush()

        self.status = CallStatus.ANALYSING
        transcript = [self.turns[s] for s in sorted(self.turns)]
        try:
            analysis = await workflow.execute_activity(
                ANALYZE_CALL,
                AnalysisInput(
                    call_sid=call.call_sid,
                    goals=[g.model_dump(mode="json") for g in call.agent.goals],
                    transcript=transcript,
                    captured=dict(self.goals.captured),
                    completed_goals=list(self.completed_goals),
                ),
                result_type=CallAnalysis,
                start_to_close_timeout=ANALYSIS_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=5),
            )
        except ActivityError:
            # The deterministic extractor is pure code: a call is always analysed.
            workflow.logger.warning("analysis of %s failed; using the live record", call.call_sid)
            analysis = analyse(call.agent.goals, transcript, self.goals.captured)
        # The workflow is the authority: a goal announced live stays met, and a goal met only
        # by post-call extraction is announced now (same webhook id scheme, so no duplicates).
        for result in analysis.goals:
            if result.name in self.completed_goals:
                result.success = True
            elif result.success:
                self.completed_goals.append(result.name)
                self.unannounced.append(result.name)
        while self.unannounced:
            await self._flush()
        goals_met = sum(1 for g in analysis.goals if g.success)
        self.outcome = (
            "goals_met"
            if goals_met == len(analysis.goals)
            else ("partial" if goals_met else "no_goal_met")
        )
        assert self.end_reason is not None
        finished = CallFinished(
            call_sid=call.call_sid,
            outcome=self.outcome,
            end_reason=self.end_reason,
            analysis=analysis,
            started=self._started(),
        )
        if not await self._record(RECORD_CALL_ENDED, finished):
            # Something in the analysis cannot be stored: close the record without it.
            bare = CallAnalysis(summary="", extracted={}, goals=analysis.goals, method="none")
            await self._record(RECORD_CALL_ENDED, dataclasses.replace(finished, analysis=bare))
        workflow.upsert_search_attributes(
            [OUTCOME.value_set(self.outcome), GOALS_COMPLETED.value_set(goals_met)]
        )
        payload = {
            "call_sid": call.call_sid,
            "agent": {"id": call.agent.id, "name": call.agent.name},
            "test": call.test,
            "direction": call.direction.value,
            "from": call.from_number,
            "to": call.to_number,
            "outcome": self.outcome,
            "end_reason": self.end_reason,
            "extracted_data": analysis.extracted,
            "summary": analysis.summary,
            "goals": [
                {"name": g.name, "success": g.success, "missing_fields": g.missing_fields}
                for g in analysis.goals
            ],
            "transcript": [
                {
                    "seq": t.seq,
                    "speaker": t.speaker.value,
                    "text": t.text,
                    "interrupted": t.interrupted,
                }
                for t in (self.turns[s] for s in sorted(self.turns))
            ],
        }
        for index, url in enumerate(call.webhook_urls):
            await self._send_webhook(WebhookEvent.CALL_COMPLETED, f"{index}", url, payload)
        self.status = CallStatus.COMPLETED
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CallResult(
            call_sid=call.call_sid,
            outcome=self.outcome,
            end_reason=self.end_reason,
            goals_completed=goals_met,
            analysis=analysis,
        )

    def _started(self) -> CallStarted:
        call = self.call
        return CallStarted(
            call_sid=call.call_sid,
            workflow_id=workflow.info().workflow_id,
            agent_id=call.agent.id,
            direction=call.direction,
            from_number=call.from_number,
            to_number=call.to_number,
            agent_snapshot={
                "agent": call.agent.model_dump(mode="json"),
                "compiled_prompt": call.compiled_prompt,
            },
        )

    async def _record(self, activity: str, payload: Any) -> bool:
        """Run a record activity; False when it cannot succeed (the value was refused, or the
        database stayed away past the deadline). The call goes on either way: a record that
        cannot be written must never hold the call, its analysis or its webhooks."""
        try:
            await workflow.execute_activity(
                activity,
                payload,
                start_to_close_timeout=DB_TIMEOUT,
                schedule_to_close_timeout=DB_DEADLINE,
                retry_policy=DB_RETRY,
            )
        except ActivityError as exc:
            workflow.logger.error(
                "%s for call %s failed: %s", activity, self.call.call_sid, exc.cause or exc
            )
            return False
        return True

    async def _collect_spooled(self) -> None:
        """Turns and fields a lost realtime process spooled and never sent: applied like the
        signals they were meant to be (each once)."""
        try:
            spooled = await workflow.execute_activity(
                COLLECT_SPOOLED,
                self.call.call_sid,
                result_type=SpooledSignals,
                start_to_close_timeout=timedelta(seconds=10),
                schedule_to_close_timeout=timedelta(minutes=2),
            )
        except ActivityError:
            workflow.logger.warning("could not collect the spool of %s", self.call.call_sid)
            return
        for turn in spooled.turns:
            self.turn_completed(turn)
        for event in spooled.fields:
            self._capture(event)

    async def _wait(self, condition: Any, limit: timedelta) -> None:
        try:
            await workflow.wait_condition(condition, timeout=limit)
        except TimeoutError:
            pass

    async def _flush(self) -> None:
        """Persist new turns and announce newly completed goals (in that order)."""
        if self.unsaved:
            batch, self.unsaved = sorted(self.unsaved), []
            await self._record(
                RECORD_TURNS,
                TurnsToRecord(call_sid=self.call.call_sid, turns=[self.turns[s] for s in batch]),
            )
        while self.unannounced:
            name = self.unannounced.pop(0)
            goal = next(g for g in self.call.agent.goals if g.name == name)
            if goal.completion_webhook is None:
                continue
            fields = {f.name: self.goals.captured.get(f.name) for f in goal.required_data}
            await self._send_webhook(
                WebhookEvent.GOAL_COMPLETED,
                str(self.call.agent.goals.index(goal)),
                str(goal.completion_webhook),
                {
                    "call_sid": self.call.call_sid,
                    "agent": {"id": self.call.agent.id, "name": self.call.agent.name},
                    "test": self.call.test,
                    "goal": name,
                    "data": fields,
                },
            )

    async def _send_webhook(
        self, event: WebhookEvent, key: str, url: str, data: dict[str, Any]
    ) -> None:
        # The id is derived from the call, the event and its key, so a replayed or retried
        # workflow can never mint a second id for the same event.
        # `key` is a goal's or a URL's index: ids stay ASCII and short whatever the goal is named.
        webhook_id = f"{workflow.info().workflow_id}.{event.value}.{key}"
        await workflow.start_child_workflow(
            WebhookDeliveryWorkflow.run,
            DeliveryInput(
                webhook_id=webhook_id,
                event_type=event,
                url=url,
                payload=event_envelope(event.value, workflow.now(), data),
                call_sid=self.call.call_sid,
                retry=self.call.webhook_retry,
                organization_id=self.call.agent.organization_id,
            ),
            id=webhook_workflow_id(webhook_id),
            task_queue=workflow.info().task_queue,
            # Deliveries outlive the call: it may finish while a receiver is still down.
            parent_close_policy=ParentClosePolicy.ABANDON,
        )

    async def _end_by_timer(self, reason: str) -> None:
        self.end_reason = reason
        self.stream = None  # a timer ends the call whatever the stream is doing
        try:
            await workflow.execute_activity(
                HANG_UP_CALL,
                HangUp(call_sid=self.call.call_sid, reason=reason),
                start_to_close_timeout=timedelta(seconds=20),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError:
            # The call may already be gone; finishing its record matters more.
            workflow.logger.warning("could not hang up call %s", self.call.call_sid)

    # --- signals, updates, queries -------------------------------------------------------

    @workflow.signal
    def turn_completed(self, turn: TurnEvent) -> None:
        """A turn finished. The same `seq` twice is applied once (seq counts over the whole
        call, across streams)."""
        if turn.seq in self.turns or self.status is not CallStatus.IN_PROGRESS:
            return
        turn.text = clean_text(turn.text)
        turn.breaches = [clean_text(b, 1000) for b in turn.breaches]
        self.turns[turn.seq] = turn
        self.unsaved.append(turn.seq)
        self.last_activity = workflow.now()

    @workflow.signal
    def field_captured(self, event: FieldEvent) -> None:
        """The caller gave a piece of data; a value of the wrong type is recorded as rejected."""
        self._capture(event)

    @workflow.update
    def capture_field(self, event: FieldEvent) -> FieldCaptureResult:
        """`field_captured` for callers that want the verdict."""
        return self._capture(event)

    @capture_field.validator
    def _validate_capture(self, event: FieldEvent) -> None:
        if self.status is not CallStatus.IN_PROGRESS:
            raise ValueError("the call is over")
        if not isinstance(event.name, str) or not event.name:
            raise ValueError("a field event needs a name")

    def _capture(self, event: FieldEvent) -> FieldCaptureResult:
        if self.status is not CallStatus.IN_PROGRESS:
            return FieldCaptureResult(name=event.name, accepted=False, reason="the call is over")
        if event.event_id is not None:
            if event.event_id in self.applied_events:
                return FieldCaptureResult(name=event.name, accepted=False, reason="already applied")
            self.applied_events.add(event.event_id)
        try:
            result = self.goals.track_progress(event.name, clean_json(event.value))
        except Exception as exc:  # noqa: BLE001 - a bad value must never stall the call
            outcome = FieldCaptureResult(
                name=str(event.name), accepted=False, reason=f"unreadable value: {exc}"
            )
            self.rejected = [*self.rejected, outcome][-REJECTED_KEPT:]
            return outcome
        outcome = FieldCaptureResult(
            name=event.name,
            accepted=result.accepted,
            value=result.value,
            reason=result.reason,
            newly_completed=list(result.newly_completed),
        )
        if not result.accepted:
            self.rejected = [*self.rejected, outcome][-REJECTED_KEPT:]
            return outcome
        self.last_activity = workflow.now()
        for name in result.newly_completed:
            if name not in self.completed_goals:
                self.completed_goals.append(name)
                self.unannounced.append(name)
        return outcome

    @workflow.signal
    def call_ended(self, ended: CallEnded) -> None:
        """The call is over (hang-up, close, an admin): wrap up."""
        if self.end_reason is None:
            self.end_reason = clean_reason(ended.reason)
        if ended.source is not EndSource.TWILIO:
            self.stream = None  # the realtime's end comes after its last turn: none are late

    @workflow.signal
    def stream_attached(self, attached: StreamAttached) -> None:
        """A media stream holds the call now (the first one, or one that resumed it)."""
        if self.status is CallStatus.IN_PROGRESS and self.end_reason is None:
            self.stream = attached.stream_sid
            self.streams += 1
            self.last_activity = workflow.now()

    @workflow.signal
    def stream_detached(self, detached: StreamDetached) -> None:
        """A stream let go of the call, which goes on (a resume follows, or a timer ends it)."""
        if self.stream == detached.stream_sid:
            self.stream = None

    @workflow.query
    def call_input(self) -> CallInput:
        """The call's frozen start (agent snapshot, compiled prompt): what a media stream needs."""
        return self.call

    @workflow.query
    def resume(self) -> CallResume:
        """What a new media stream needs to pick the call up where the last one left it."""
        return CallResume(
            call_sid=self.call.call_sid,
            live=self.status is CallStatus.IN_PROGRESS and self.end_reason is None,
            last_seq=max(self.turns, default=0),
            captured=dict(self.goals.captured),
            transcript=[self.turns[s] for s in sorted(self.turns)],
            streams=self.streams,
            end_reason=self.end_reason,
        )

    @workflow.query
    def progress(self) -> CallProgress:
        """Goals and their criteria, captured and missing data, the next action, the status."""
        action = self.goals.get_next_action()
        return CallProgress(
            call_sid=self.call.call_sid,
            status=self.status,
            goals=[
                GoalProgress(
                    name=g.name,
                    complete=g.complete,
                    criteria=[
                        CriterionProgress(name=c.name, fields=list(c.fields), met=c.met)
                        for c in g.criteria
                    ],
                    missing_fields=list(g.missing_fields),
                )
                for g in self.goals.goal_states()
            ],
            captured=dict(self.goals.captured),
            rejected=list(self.rejected),
            next_action={
                "kind": action.kind,
                "goal": action.goal,
                "field": action.field,
                "fields": list(action.fields),
            },
            turns=len(self.turns),
            end_reason=self.end_reason,
            outcome=self.outcome,
        )
