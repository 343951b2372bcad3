import { get, post } from "../../api";
import type { Delivery } from "./types";

/** The API's webhook deliveries (api/routes/webhooks.py). */
export const DELIVERIES_PATH = "/api/webhooks/deliveries";

/** The call a delivery tells about: `payload.data.call_sid` (the Standard Webhooks envelope),
 * or `payload.call_sid` for a bare payload. */
export function deliveryCallSid(delivery: Delivery): string | undefined {
  const payload = delivery.payload ?? {};
  const data = payload.data;
  if (data && typeof data === "object" && "call_sid" in data) {
    return String((data as { call_sid: unknown }).call_sid);
  }
  return typeof payload.call_sid === "string" ? payload.call_sid : undefined;
}

/** The webhook deliveries of one call, newest first. The API filters by `?call=`; a delivery
 * whose payload names another call is dropped here too (an API without that filter answers
 * every delivery), while one whose payload was erased by retention (`{}`) is kept. */
export async function loadCallDeliveries(callSid: string): Promise<Delivery[]> {
  const all = await get<Delivery[]>(DELIVERIES_PATH, { call: callSid });
  return all.filter((delivery) => {
    const named = deliveryCallSid(delivery);
    return named === undefined || named === callSid;
  });
}

/** Send a failed delivery again (same `webhook-id`); the API answers with the delivery. */
export function replayDelivery(id: number): Promise<Delivery> {
  return post<Delivery>(`${DELIVERIES_PATH}/${id}/replay`);
}
