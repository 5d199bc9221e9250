/**
 * @module ingest — every way data comes in: normalised records and the one
 * idempotent write path, the Segment tracking API, Shopify webhooks and CSV imports.
 */
export { CustomerRecord, OrderRecord, RefundRecord, ProductRecord, CustomerRef, Consent, CONSENT_CHANNELS } from "./records.ts";
export {
  writeCustomers,
  writeOrders,
  writeRefunds,
  writeProducts,
  appendEvents,
  linkAnonymous,
  mergeCustomers,
  recomputeRollups,
  NON_PURCHASE_STATUSES,
  BEHAVIOUR_TYPES,
} from "./write.ts";
export type { EventRecord, OrderWriteResult, CustomerWriteResult } from "./write.ts";
export { processMessages, prepareMessages, writePrepared, throwIfFailed } from "./tracking/process-messages.ts";
export { TrackingWriter } from "./tracking/tracking-writer.ts";
export type { TrackingWriterOptions } from "./tracking/tracking-writer.ts";
export { KnownProducts } from "./known-products.ts";
export type { ProcessResult, MessageFailure, PreparedBatch } from "./tracking/process-messages.ts";
export { SegmentBatch, MAX_MESSAGE_BYTES } from "./tracking/segment-message.ts";
export { verifyShopifyHmac, shopifyOrder, shopifyCustomer } from "./shopify/shopify.ts";
export { importFile, importStream, importFormat, IMPORT_FORMATS, MAX_REPORTED_ERRORS } from "./csv/run-import.ts";
export type { ImportSummary, ImportProgress, ImportError, ImportOptions } from "./csv/run-import.ts";
