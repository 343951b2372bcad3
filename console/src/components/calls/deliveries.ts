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

/** The webhook deliveries of one call, newest first. Asks the API with `?call=` and filters
 * here too, so the answer is right whether or not the API applies that filter. */
export async function loadCallDeliveries(callSid: string): Promise<Delivery[]> {
  const all = await get<Delivery[]>(DELIVERIES_PATH, { call: callSid });
  return all.filter((delivery) => deliveryCallSid(delivery) === callSid);
}

/** Send a failed delivery again (same `webhook-id`); the API answers with the delivery. */
export function replayDelivery(id: number): Promise<Delivery> {
  return post<Delivery>(`${DELIVERIES_PATH}/${id}/replay`);
}
