/**
 * The Segment HTTP Tracking API message, as analytics.js, analytics-node and
 * RudderStack clients send it (segment.com/docs/connections/sources/catalog/libraries/server/http-api).
 * Unknown fields are kept out of the way, not rejected: clients add their own.
 */
import { z } from "zod";
import { JsonObject, isRealIsoDate } from "../../shared/index.ts";

const Id = z.union([z.string().trim().min(1).max(500), z.number().transform(String)]);
const Time = z
  .string()
  .refine(isRealIsoDate, { message: "is not an ISO 8601 date-time" })
  .transform((s) => new Date(s));

const Common = {
  messageId: z.string().min(1).max(200).optional(),
  userId: Id.optional().nullable(),
  anonymousId: Id.optional().nullable(),
  context: JsonObject.optional(),
  integrations: JsonObject.optional(),
  timestamp: Time.optional(),
  originalTimestamp: Time.optional(),
  sentAt: Time.optional(),
  writeKey: z.string().optional(),
};

export const SegmentMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("identify"), traits: JsonObject.optional(), ...Common }),
  z.object({ type: z.literal("track"), event: z.string().trim().min(1, "is required").max(200), properties: JsonObject.optional(), ...Common }),
  z.object({ type: z.literal("page"), name: z.string().max(500).optional().nullable(), category: z.string().max(200).optional().nullable(), properties: JsonObject.optional(), ...Common }),
  z.object({ type: z.literal("screen"), name: z.string().max(500).optional().nullable(), properties: JsonObject.optional(), ...Common }),
  z.object({ type: z.literal("alias"), previousId: Id, ...Common }),
  z.object({ type: z.literal("group"), groupId: Id, traits: JsonObject.optional(), ...Common }),
]);
export type SegmentMessage = z.output<typeof SegmentMessage>;

export const SegmentBatch = z.object({
  batch: z.array(z.unknown()).min(1, "must hold at least one message").max(2500),
  context: JsonObject.optional(),
  integrations: JsonObject.optional(),
  sentAt: z.string().optional(),
  writeKey: z.string().optional(),
});

/** Segment's own per-message limit. */
export const MAX_MESSAGE_BYTES = 32 * 1024;
