// The call views other pages reuse (the test console shows a live test call with them).
export { Deliveries, DeliveryList } from "./Deliveries";
export { deliveryCallSid, loadCallDeliveries, replayDelivery } from "./deliveries";
export { GoalProgress, GoalVerdicts } from "./GoalProgress";
export { LATENCY_STAGES, LatencyBreakdown, LatencyTable } from "./LatencyBreakdown";
export { Transcript, speakerLabel } from "./Transcript";
export { formatDateTime, formatDuration, formatMs, humanize, isLive } from "./format";
export type * from "./types";
export { LIVE_POLL_MS, useCallDetail } from "./useCallDetail";
