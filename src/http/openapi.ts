/**
 * The OpenAPI 3.1 document served at /api/openapi.json. Request bodies come
 * from the same zod schemas that validate them, so the document cannot drift.
 */
import { z } from "zod";
import { CustomerRecord, OrderRecord, ProductRecord, RefundRecord } from "../ingest/index.ts";
import { CustomerListQuery, FitQuery, LifecycleSettings, PredictQuery } from "../predictions/index.ts";
import { ExportQuery, HistoryQuery, MembersQuery, PreviewInput, Rule, SegmentInput, SegmentPatch } from "../segments/index.ts";
import { JourneyDefinition, JourneyInput, JourneyPatch } from "../journeys/index.ts";
import { EmailPreviewInput, MessagingSettings } from "../messaging/index.ts";
import { BacktestInput } from "./routes/journeys.ts";
import { EntryInput, LoyaltySettings, RedeemInput, RewardInput } from "../loyalty/index.ts";
import { LoyaltyMembersQuery } from "../loyalty/index.ts";
import { CancelInput, PlanPatch, RewardPatch, SpinsQuery, LedgerPageQuery, PaymentInput, PlanInput, ReferralInput, SpinInput, TokenInput } from "../loyalty/index.ts";
import { AdviceQuery, CatalogueQuery, HeadlineQuery, IntervalsQuery, LadderQuery, PeriodQuery, SeriesQuery } from "../metrics/index.ts";

const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: "input", unrepresentable: "any", target: "draft-2020-12" });

const ErrorBody = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        issues: { type: "array", items: { type: "object", properties: { field: { type: "string" }, message: { type: "string" } } } },
      },
    },
  },
};

const errors = {
  "400": { description: "Invalid input; `issues` name each bad field", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  "401": { description: "Missing or unknown key", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
  "413": { description: "Body over the size limit", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
};

function upsertPath(tag: string, ref: string, summary: string) {
  return {
    post: {
      tags: [tag],
      summary,
      description: "A JSON object is one record. A JSON array is a batch (≤ 1000): each item is validated and written on its own and the response lists each outcome; good items are kept.",
      security: [{ adminKey: [] }],
      requestBody: {
        required: true,
        content: { "application/json": { schema: { oneOf: [{ $ref: ref }, { type: "array", items: { $ref: ref } }] } } },
      },
      responses: { "200": { description: "Updated (or batch results)" }, "201": { description: "Created" }, "422": { description: "Valid but impossible (e.g. refund of an unknown order)" }, ...errors, "403": { description: "A write key was used" } },
    },
  };
}

function getPath(tag: string, summary: string, param: string) {
  return {
    get: {
      tags: [tag],
      summary,
      security: [{ adminKey: [] }],
      parameters: [{ name: param, in: "path", required: true, schema: { type: "string" } }],
      responses: { "200": { description: "Found" }, "404": { description: "Not found" }, ...errors },
    },
  };
}

const trackingOp = (type: string, summary: string) => ({
  post: {
    tags: ["Tracking (Segment spec)"],
    summary,
    description: "Segment HTTP Tracking API. Auth: HTTP Basic with the write key as user name and an empty password. Messages are deduplicated by `messageId`.",
    security: [{ writeKey: [] }],
    requestBody: { required: true, content: { "application/json": { schema: { type: "object", properties: { type: { const: type } } } } } },
    responses: { "200": { description: "`{ \"success\": true }`" }, ...errors, ...queueFull },
  },
});

/** The tracking writer's bounded queue (src/ingest, TrackingWriter). */
const queueFull = {
  "429": {
    description: "The server is behind a burst and its write queue is full: nothing of the request was written. Send it again after `Retry-After` seconds (Segment's libraries retry 429 with back-off).",
    headers: { "Retry-After": { schema: { type: "integer" } } },
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  },
};

/** A GET whose query parameters are the properties of its zod schema (path parameters named apart). */
function queryGet(tag: string, summary: string, description: string, query: z.ZodObject | undefined, pathParams: string[] = []) {
  const json = query ? schema(query) : {};
  const props = "properties" in json && typeof json.properties === "object" && json.properties !== null ? Object.entries(json.properties) : [];
  return {
    tags: [tag],
    summary,
    description,
    security: [{ adminKey: [] }],
    parameters: [
      ...pathParams.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })),
      ...props.filter(([name]) => !pathParams.includes(name)).map(([name, s]) => ({ name, in: "query", schema: s })),
    ],
    responses: { "200": { description: "JSON" }, "404": { description: "Not found" }, ...errors, "403": { description: "A write key was used" } },
  };
}

/** A GET under /api/metrics. */
function metricsOp(summary: string, description: string, query: z.ZodObject | undefined) {
  return {
    get: queryGet("Metrics", summary, `${description} Definitions: src/metrics/README.md. Money in minor units of the workspace currency; rates are fractions (0.25 = 25 %).`, query),
  };
}

/** A POST/PATCH under /api/models with an optional JSON body described by a zod schema. */
function bodyOp(summary: string, description: string, body: z.ZodType | undefined) {
  return {
    tags: ["Models"],
    summary,
    description,
    security: [{ adminKey: [] }],
    ...(body ? { requestBody: { required: false, content: { "application/json": { schema: schema(body) } } } } : {}),
    responses: { "200": { description: "JSON" }, "201": { description: "Fitted and saved" }, "422": { description: "The data cannot support the fit; the message says why" }, ...errors },
  };
}

const RULE_REF = "#/components/schemas/SegmentRule";

/** The rule tree's JSON Schema; its recursion ($ref "#") is pointed at its place among the components. */
function ruleSchema(): unknown {
  const { $schema: _drop, ...json } = schema(Rule);
  return JSON.parse(JSON.stringify(json).replaceAll('"$ref":"#"', `"$ref":"${RULE_REF}"`));
}

/** A body schema whose `rule` property is the rule tree (zod sees it as unknown: it is checked node by node). */
function withRule(body: z.ZodType): Record<string, unknown> {
  const json = schema(body);
  const properties = "properties" in json && typeof json.properties === "object" && json.properties !== null ? json.properties : {};
  return { ...json, properties: { ...properties, rule: { $ref: RULE_REF } } };
}

/** A POST/PATCH under /api/segments with a JSON body described by a zod schema. */
function segmentBodyOp(summary: string, description: string, body: z.ZodType | undefined, pathParams: string[] = []) {
  return {
    tags: ["Segments"],
    summary,
    description,
    security: [{ adminKey: [] }],
    parameters: pathParams.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })),
    ...(body ? { requestBody: { required: true, content: { "application/json": { schema: withRule(body) } } } } : {}),
    responses: { "200": { description: "JSON" }, "201": { description: "Created and evaluated" }, "404": { description: "No such segment" }, "409": { description: "Name taken, or the segment is used by another" }, ...errors },
  };
}

const JOURNEY_REF = "#/components/schemas/JourneyDefinition";

/** A body whose `definition` is the journey definition component. */
function withDefinition(body: z.ZodType): Record<string, unknown> {
  const json = schema(body);
  const properties = "properties" in json && typeof json.properties === "object" && json.properties !== null ? json.properties : {};
  return { ...json, properties: { ...properties, definition: { $ref: JOURNEY_REF } } };
}

/** An operation under /api/journeys or /api/messaging. */
function journeyOp(summary: string, description: string, body: Record<string, unknown> | undefined, pathParams: string[] = [], tag = "Journeys") {
  return {
    tags: [tag],
    summary,
    description,
    security: [{ adminKey: [] }],
    parameters: pathParams.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })),
    ...(body ? { requestBody: { required: true, content: { "application/json": { schema: body } } } } : {}),
    responses: { "200": { description: "JSON" }, "201": { description: "Created" }, "204": { description: "Done" }, "404": { description: "No such journey" }, "409": { description: "Name taken" }, ...errors },
  };
}

/** The storefront widget's operations: a customer token, CORS for the shop's allowed origins. */
function storefrontOp(summary: string, description: string, body?: Record<string, unknown>) {
  return {
    tags: ["Storefront"],
    summary,
    description: `${description} Authenticated by a customer token; answers carry CORS headers for the origins in settings.storefront.allowedOrigins.`,
    security: [{ customerToken: [] }],
    ...(body ? { requestBody: { required: true, content: { "application/json": { schema: body } } } } : {}),
    responses: { "200": { description: "JSON" }, "201": { description: "Created" }, ...errors, "401": { description: "No token, or a forged, altered or expired one; nothing changed" }, "409": { description: "Conflict (already spun, limit reached, already referred)" }, "422": { description: "Refused: the field is named" } },
  };
}

const JOURNEY_HELP =
  "A definition is {trigger, audience?, reentry, goals, start, steps}: trigger event|segment|date|schedule|overdue|replenishment; steps wait, waitUntil, waitForEvent, branch (a segment rule), split (weights, holdout), send (email: Liquid subject/body in MJML, optional text), setTrait, webhook, unsubscribe, exit. Reference: src/journeys/README.md. A bad definition is refused with the path of the offending node (definition.steps.3.next).";

const RULE_HELP =
  "`rule` is a tree: {all:[…]}, {any:[…]}, {not:…}, a field condition {field, op, value} (fields and their operators: GET /api/segments/fields), an event condition {event, window, count, where, noOrderSince}, an order aggregate {orders: count|sum|average|averageItemPrice, window, op, value | comparedTo: before} or {segment: id}. The language is documented in src/segments/README.md. A bad rule is refused with the path of the offending node (rule.all.2.op).";

export function openApiDocument(serverUrl: string): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: {
      title: "Fidelio API",
      version: "0.1.0",
      description: "Tracking (Segment spec), admin REST and Shopify webhooks. Money is integer minor units (cents) with an ISO 4217 currency; times are ISO 8601 UTC.",
    },
    servers: [{ url: serverUrl }],
    components: {
      securitySchemes: {
        writeKey: { type: "http", scheme: "basic", description: "Write key as the user name, empty password" },
        adminKey: { type: "http", scheme: "bearer", description: "Admin key" },
        shopifyHmac: { type: "apiKey", in: "header", name: "X-Shopify-Hmac-Sha256" },
        customerToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A customer token: HS256 JWT signed with the storefront secret (GET /api/loyalty/storefront); sub = the customer's external id, exp required, at most 30 days after iat" },
      },
      schemas: {
        Customer: schema(CustomerRecord),
        Order: schema(OrderRecord),
        Refund: schema(RefundRecord),
        Product: schema(ProductRecord),
        SegmentRule: ruleSchema(),
        JourneyDefinition: schema(JourneyDefinition),
        Error: ErrorBody,
      },
    },
    paths: {
      "/v1/identify": trackingOp("identify", "Identify a user and their traits"),
      "/v1/track": trackingOp("track", "Record an event (E-commerce v2 events become orders and refunds)"),
      "/v1/page": trackingOp("page", "Record a page view"),
      "/v1/screen": trackingOp("screen", "Record a screen view"),
      "/v1/alias": trackingOp("alias", "Join two identities"),
      "/v1/group": trackingOp("group", "Associate a user with a group"),
      "/v1/t": trackingOp("track", "analytics.js short form of /v1/track (also /v1/i, /v1/p, /v1/s, /v1/a, /v1/g; /v1/b for batches)"),
      "/v1/batch": {
        post: {
          tags: ["Tracking (Segment spec)"],
          summary: "Several messages at once (≤ 500 KB)",
          description: "Each message is validated on its own. If some fail, the response is 200 with `success: false` and `failed: [{index, messageId, field, message}]`; the others are stored. If all fail, 400.",
          security: [{ writeKey: [] }],
          requestBody: { required: true, content: { "application/json": { schema: { type: "object", required: ["batch"], properties: { batch: { type: "array", items: { type: "object" } } } } } } },
          responses: { "200": { description: "`{ success, accepted, duplicates, failed }`" }, ...errors, ...queueFull },
        },
      },
      "/api/customers": {
        ...upsertPath("Customers", "#/components/schemas/Customer", "Create or update customers"),
        get: queryGet("Customers", "Customers with their scores", "Search (external id, email, name), filter by lifecycle `stage`, `rfm` segment or churn `signal`, sort and page. `total` counts every match; each item carries its stored score (null before the first scoring run).", CustomerListQuery),
      },
      "/api/customers/{externalId}/predictions": {
        get: queryGet(
          "Customers",
          "A customer's scores and predictions",
          "`scores`: the stored lifecycle stage, RFM, churn signals and predictions of the last scoring run, with `meaning` in words. `prediction`: computed now from the latest model for `horizon` days at `monthlyDiscountRate` (null without a model or an order). Definitions: src/predictions/README.md.",
          PredictQuery,
          ["externalId"],
        ),
      },
      "/api/customers/{externalId}/orders": getPath("Customers", "A customer's orders, newest first (what was bought, refunds)", "externalId"),
      "/api/customers/{externalId}": getPath("Customers", "A customer's profile: fields, traits, consents, rollups", "externalId"),
      "/api/customers/{externalId}/events": {
        get: {
          tags: ["Customers"],
          summary: "A customer's events, newest first",
          security: [{ adminKey: [] }],
          parameters: [
            { name: "externalId", in: "path", required: true, schema: { type: "string" } },
            { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 500, default: 50 } },
            { name: "before", in: "query", description: "`next` from the previous page", schema: { type: "integer" } },
          ],
          responses: { "200": { description: "`{ events, next }`" }, "404": { description: "Not found" }, ...errors },
        },
      },
      "/api/products": upsertPath("Products", "#/components/schemas/Product", "Create or update products"),
      "/api/products/{externalId}": getPath("Products", "A product", "externalId"),
      "/api/orders": upsertPath("Orders", "#/components/schemas/Order", "Record orders (idempotent by externalId; a known order only has its status updated)"),
      "/api/orders/{externalId}": getPath("Orders", "An order with its lines", "externalId"),
      "/api/refunds": upsertPath("Refunds", "#/components/schemas/Refund", "Record refunds (idempotent by externalId)"),
      "/api/refunds/{externalId}": getPath("Refunds", "A refund", "externalId"),
      "/api/metrics": metricsOp(
        "Headline figures of a period",
        "customers, orders, guestOrders, revenue, refunds, repeatCustomerRate, purchaseFrequency, averageOrderValue, customerValue, new/returning customers and the share of revenue from returning customers. `from`/`to` are calendar days (UTC), both included; default: first order to today. `compare=previous` adds `previous`, the period of the same length just before.",
        HeadlineQuery,
      ),
      "/api/metrics/series": metricsOp("Headline figures per month, quarter or year", "One point per calendar period, empty ones included: the trend lines.", SeriesQuery),
      "/api/metrics/retention": metricsOp("Retention and churn between consecutive periods", "Per calendar period: buyers, new buyers, buyers of the previous period who bought again, retention and churn rates.", SeriesQuery),
      "/api/metrics/cohorts": metricsOp("Cohort matrix by first-order month", "Per cohort: size, revenue to date, historical CLV, and per month since: active customers and revenue, absolute and as a share.", PeriodQuery),
      "/api/metrics/ladder": metricsOp("Repeat ladder", "Of customers with n orders, the share who made an (n+1)-th, and the median days between the two.", LadderQuery),
      "/api/metrics/intervals": metricsOp("Time between purchases", "Distribution of days between consecutive purchase days, and each named customer's own rhythm (`customer` repeated).", IntervalsQuery),
      "/api/metrics/channels": metricsOp("Acquisition-channel loyalty", "Per first-touch channel: customers, repeat rate, AOV, revenue per customer within 90/180/365 days of the first order.", undefined),
      "/api/metrics/refunds": metricsOp("Refund rates", "By orders, by revenue and by product category.", PeriodQuery),
      "/api/metrics/catalogue": metricsOp("Catalogue replenishability", "Share of revenue from products the same customer buys again, and each product's median re-buy interval.", CatalogueQuery),
      "/api/metrics/advice": metricsOp("Budget advice", "Share of budget on retention vs acquisition from the shop's stage (inferred, or `stage`) and figures (`cac` in minor units), with the reasoning as sentences.", AdviceQuery),
      "/api/models": {
        get: queryGet("Models", "The latest model and the stored scores", "`fit`: the newest saved fit (version, date, parameters) with its calibration/holdout `report` (tracking, by calibration frequency, MAE, warnings), or null. `scores`: the last scoring run, customers by stage and RFM segment, churn-signal counts and the CLV distribution.", undefined),
      },
      "/api/models/versions": {
        get: queryGet("Models", "Every saved model version", "Newest first: version, date, unit, last order day seen, customers, the holdout check in brief (actual and predicted repeat purchases, mean absolute error) and the warnings.", undefined),
      },
      "/api/models/fit": { post: bodyOp("Fit, validate, save and rescore", "Fits BG/NBD (and Pareto/NBD with `pareto`) and Gamma-Gamma on the calibration period, validates on the holdout, saves the version refitted on the whole history, and rescores every customer.", FitQuery) },
      "/api/models/score": { post: bodyOp("Rescore every customer now", "Predictions, RFM, lifecycle stage and churn signals with the latest model and settings (the server also does it on its schedule).", undefined) },
      "/api/models/settings": {
        get: queryGet("Models", "Lifecycle and churn-signal thresholds", "The settings in force (defaults where unchanged).", undefined),
        patch: bodyOp("Change lifecycle and churn-signal thresholds", "Send only the settings to change; the whole must stay consistent (e.g. lapsedAfterRhythms > atRiskAfterRhythms). Applies from the next scoring run.", LifecycleSettings),
      },
      "/api/segments": {
        get: queryGet("Segments", "Every segment with its size", "Rule, whether it moves with time, when it was last evaluated over every customer, and its current size.", undefined),
        post: segmentBodyOp("Create a segment", `Saves the rule and evaluates it over every customer; responds with the segment, its size, \`warnings\` (e.g. an event rule with no window) and the evaluation. ${RULE_HELP}`, SegmentInput),
      },
      "/api/segments/fields": { get: queryGet("Segments", "The fields a rule can test", "Each field with its label, group, type, operators, options (enums) and unit (money fields are minor units).", undefined) },
      "/api/segments/preview": { post: segmentBodyOp("Preview a draft rule", `Counts and samples the customers the rule matches now, without saving. ${RULE_HELP}`, PreviewInput) },
      "/api/segments/evaluate": { post: segmentBodyOp("Re-evaluate every segment now", "Over every customer, in dependency order; the server also does it every FIDELIO_SEGMENTS_EVERY_MINUTES and after each scoring run.", undefined) },
      "/api/segments/{id}": {
        get: queryGet("Segments", "A segment", "", undefined, ["id"]),
        patch: segmentBodyOp("Change a segment", "Any of name, description, rule; a new rule is evaluated at once, with the segments built on it.", SegmentPatch, ["id"]),
        delete: { tags: ["Segments"], summary: "Delete a segment and its membership history", security: [{ adminKey: [] }], parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }], responses: { "204": { description: "Deleted" }, "404": { description: "No such segment" }, "409": { description: "Another segment's rule refers to it" }, ...errors } },
      },
      "/api/segments/{id}/members": { get: queryGet("Segments", "Current members, a page at a time", "In customer id order; pass `next` as `after` for the next page. `total` is the segment's size.", MembersQuery, ["id"]) },
      "/api/segments/{id}/history": { get: queryGet("Segments", "Size over time", "Per UTC day: size at the end of the day, and how many entered and left, from the membership history.", HistoryQuery, ["id"]) },
      "/api/segments/{id}/export": {
        get: {
          ...queryGet("Segments", "Export the members as a file", "`format=csv` with `columns` (comma-separated; money in major units of the workspace currency). `format=audience` with `platform` google|meta|tiktok: the customer-list file of that ad platform, only customers who granted consent for ads, emails trimmed and lower-cased and phones in E.164 (`country` for national numbers), SHA-256 hashed. Streamed as text/csv.", ExportQuery, ["id"]),
          responses: { "200": { description: "text/csv" }, "404": { description: "No such segment" }, ...errors },
        },
      },
      "/api/customers/{externalId}/segments": { get: queryGet("Segments", "The segments a customer is in now", "With when they entered each.", undefined, ["externalId"]) },
      "/api/journeys": {
        get: journeyOp("Journeys", "Every journey (not archived) with its state, current version and how many customers are inside.", undefined),
        post: journeyOp("Draft a journey", `Saved as a draft (version 1); activate it to start. ${JOURNEY_HELP}`, withDefinition(JourneyInput)),
      },
      "/api/journeys/ready-made": { get: journeyOp("The ready-made journeys", "Welcome, abandoned browse, abandoned cart, thank-you, review request, birthday (a gift code, or loyalty points), replenishment, VIP, five-step win-back, re-permission and sunset.", undefined) },
      "/api/journeys/ready-made/{key}": { post: journeyOp("Install a ready-made journey", "As a draft, with its default copy; the name gets a number when taken.", undefined, ["key"]) },
      "/api/journeys/preview-email": { post: journeyOp("Preview a template on a real customer", "Renders subject, HTML and text with the customer's data as it is now (no tracking, nothing sent). A Liquid or MJML error names the part (subject, body, text).", schema(EmailPreviewInput)) },
      "/api/journeys/{id}": {
        get: journeyOp("A journey", "", undefined, ["id"]),
        patch: journeyOp("Change a journey", `Any of name, description, definition. A changed definition becomes a new version: new entries take it, customers inside finish theirs. ${JOURNEY_HELP}`, withDefinition(JourneyPatch), ["id"]),
        delete: journeyOp("Archive a journey", "Everyone inside is stopped; the history stays. 204.", undefined, ["id"]),
      },
      "/api/journeys/{id}/activate": { post: journeyOp("Activate", "New customers may enter; steps run.", undefined, ["id"]) },
      "/api/journeys/{id}/pause": { post: journeyOp("Pause", "No entries, no steps; a goal still ends a customer's run. Activate again to resume.", undefined, ["id"]) },
      "/api/journeys/{id}/stats": { get: journeyOp("Per-step funnel", "Entered, inside, converted (goal), exits by reason, holdout; per step reached, waiting, sent, opened, clicked, held back, pending; orders within 30 days of entering, treated against holdout.", undefined, ["id"]) },
      "/api/journeys/{id}/backtest": {
        post: journeyOp(
          "Backtest on the shop's history",
          "Replays [from, to] through the journey (or a draft `definition`) on a simulated clock. Reports entries, sends per step, the first messages, and what those customers did within 7 and 30 days (orders, revenue), holdout apart. Sends and writes nothing.",
          { ...schema(BacktestInput), properties: { ...(schema(BacktestInput).properties ?? {}), definition: { $ref: JOURNEY_REF } } },
          ["id"],
        ),
      },
      "/api/customers/{externalId}/messages": { get: journeyOp("A customer's messages", "Newest first: journey, step, status (pending, sending, sent, suppressed, bounced, failed), why it was deferred or held back.", undefined, ["externalId"], "Customers") },
      "/api/messaging/settings": {
        get: journeyOp("Messaging settings", "Frequency cap (marketing messages per customer per day and week, across every journey), quiet hours in the customer's time zone, sender.", undefined, [], "Messaging"),
        put: journeyOp("Replace the messaging settings", "Fields left out take their defaults (1 a day, 3 a week, quiet 21:00–09:00).", schema(MessagingSettings), [], "Messaging"),
      },
      "/u/{token}": {
        get: { tags: ["Public links"], summary: "Unsubscribe (the link in an email's footer)", description: "Withdraws email consent at once and shows a page with a way back.", parameters: [{ name: "token", in: "path", required: true, schema: { type: "string" } }], responses: { "200": { description: "HTML page" }, "404": { description: "Not a valid link" } } },
        post: { tags: ["Public links"], summary: "One-click unsubscribe (RFC 8058)", description: "Body `List-Unsubscribe=One-Click`, as mailbox providers send it; `action=resubscribe` gives consent back.", parameters: [{ name: "token", in: "path", required: true, schema: { type: "string" } }], responses: { "200": { description: "Done" }, "404": { description: "Not a valid link" } } },
      },
      "/t/o/{token}": { get: { tags: ["Public links"], summary: "Open pixel", description: "Records the first `Email Opened`; always answers a 1×1 GIF.", parameters: [{ name: "token", in: "path", required: true, schema: { type: "string" } }], responses: { "200": { description: "image/gif" } } } },
      "/t/c/{token}": { get: { tags: ["Public links"], summary: "Click redirect", description: "Records `Email Clicked` (once per link) and redirects to the signed, UTM-tagged destination.", parameters: [{ name: "token", in: "path", required: true, schema: { type: "string" } }], responses: { "302": { description: "Redirect" }, "404": { description: "Not a valid link" } } } },
      "/api/loyalty/settings": {
        get: journeyOp("Loyalty settings", "Whether the programme runs and since when, points per currency unit (net of discounts), the return window before an order's points are credited, bonus events, campaigns with multipliers.", undefined, [], "Loyalty"),
        put: journeyOp("Replace the loyalty settings", "Enabling the programme the first time starts it now: orders placed before earn nothing.", schema(LoyaltySettings), [], "Loyalty"),
      },
      "/api/loyalty/credit": { post: journeyOp("Credit points now", "Orders past their return window, refunds (pro-rata clawback) and bonus events since the last pass; the server does it every FIDELIO_LOYALTY_EVERY_SECONDS.", undefined, [], "Loyalty") },
      "/api/loyalty/customers/{externalId}": { get: journeyOp("A customer's points", "Balance, lifetime earned and spent, the latest ledger entries.", undefined, ["externalId"], "Loyalty") },
      "/api/loyalty/overview": {
        get: journeyOp(
          "The programme's figures",
          "Members (customers who earned points), points outstanding and their liability (liabilityMinor = pointsOutstanding × pointValueMinor, in minor units of `currency`), lifetime earned, spent, expired and clawed back, the redemption rate (spent ÷ earned), rewards redeemed, points earned, redeemed and expired per month over the last 12 months (UTC), members by tier, paid memberships and referrals by status, wheel spins and prizes won, the top 10 earners, and `membersVsNonMembers`: the repeat rate (2+ orders among customers with an order) of members and of non-members. That last is a comparison, not the programme's effect: members self-select; journey holdouts and backtests measure effects. Definitions: src/loyalty/README.md.",
          undefined,
          [],
          "Loyalty",
        ),
      },
      "/api/loyalty/members": {
        get: queryGet("Loyalty", "Members, a page at a time", "Customers who earned points: external id, email, balance, lifetime earned and spent, tier, last activity. Sorted by `sort` (balance, earned, spent, lastActivity) in `order`; `total` counts every member. A bad parameter is refused with 400 naming it.", LoyaltyMembersQuery),
      },
      "/api/loyalty/rewards": {
        get: journeyOp("The rewards catalogue", "Each reward: kind (fixed, percent, freeShipping, freeProduct), value, cost in points, limit per customer, active.", undefined, [], "Loyalty"),
        post: journeyOp("Add a reward", "A bad field is named (value is required for fixed and percent rewards, productId for a free product).", schema(RewardInput), [], "Loyalty"),
      },
      "/api/loyalty/customers/{externalId}/redemptions": {
        post: journeyOp(
          "Redeem a reward",
          "Spends the reward's cost and answers a unique code (pushed to codeWebhookUrl when set). 201 when new; 200 with the same code when the key was already used; 422 when the balance is short; 409 when the limit per customer is reached.",
          schema(RedeemInput),
          ["externalId"],
          "Loyalty",
        ),
      },
      "/api/loyalty/customers/{externalId}/entries": {
        post: journeyOp(
          "Post a manual entry",
          "earn, redeem or adjust. 201 when written, 200 when the key was already used for the same entry (nothing written again), 409 when it was used for another, 422 when a redemption is larger than the balance.",
          schema(EntryInput),
          ["externalId"],
          "Loyalty",
        ),
      },
      "/api/loyalty/run": { post: journeyOp("Run the loyalty worker's pass now", "Earning, referrals (qualify on the first order, reward after the return window), tiers (customers touched since the last pass; everyone once a day), memberships (lapse or end at the period's end), expiry (once a day). Answers what it did, as lines.", undefined, [], "Loyalty") },
      "/api/loyalty/customers/{externalId}/referrals": { get: journeyOp("A customer as a referrer", "Their code (made on first use), the link to share (settings.referrals.landingUrl + ?ref=) and their referrals with status pending, qualified, rewarded or refused (with why).", undefined, ["externalId"], "Loyalty") },
      "/api/loyalty/customers/{externalId}/referral": {
        post: journeyOp(
          "Record a referral code used by this customer (the referee)",
          "For the shop's backend at sign-up. 201 with the referee's welcome code; 200 with the same answer when the same code was already used; 404 for an unknown code; 409 when already referred by someone else; 422 for a self-referral (same customer, email ignoring Gmail dots and +tags, or phone) or a customer who has ordered before. Address and payment-method guards run on the first order.",
          schema(ReferralInput),
          ["externalId"],
          "Loyalty",
        ),
      },
      "/api/loyalty/wheel": { get: journeyOp("Spin-to-win audit", "Per prize: the configured odds, how often it was drawn and won, the stock left; prizes drawn out of stock; spins under prizes no longer on the wheel.", undefined, [], "Loyalty") },
      "/api/loyalty/wheel/spins": { get: queryGet("Loyalty", "The latest spins, a page at a time", "Who, when, the random draw (0 ≤ draw < 1,000,000 over the odds in parts per million, in list order), the prize and its code or points. `before`: the last id of the page before.", SpinsQuery) },
      "/api/loyalty/plans": {
        get: journeyOp("Paid-membership plans", "Price per period, the period (day, month or year × count), perks (freeShipping, pointsMultiplier, earlyAccess, other).", undefined, [], "Loyalty"),
        post: journeyOp("Add a plan", "A bad field is named.", schema(PlanInput), [], "Loyalty"),
      },
      "/api/loyalty/plans/{id}": { patch: journeyOp("Change a plan", "Its name, price (from the next payment), perks, or whether it is offered to new members (`active`). The period and currency may not change.", schema(PlanPatch), ["id"], "Loyalty") },
      "/api/loyalty/rewards/{id}": { patch: journeyOp("Change a reward", "Its name, cost, limit per customer, who may redeem it (`minTier`, `membersOnly`), or whether it is offered (`active`). The kind and value may not change: codes were issued for them.", schema(RewardPatch), ["id"], "Loyalty") },
      "/api/loyalty/customers/{externalId}/membership": {
        get: journeyOp("A customer's membership", "Plan, status (active, lapsed, ended), period end, cancellation at period end, the perks that apply now; null when none.", undefined, ["externalId"], "Loyalty"),
        post: journeyOp("Start a membership (a payment the shop's billing took)", "201 when started; 200 when this payment key was already recorded (nothing changes); 409 when already an active member.", schema(PaymentInput), ["externalId"], "Loyalty"),
      },
      "/api/loyalty/customers/{externalId}/membership/renewals": { post: journeyOp("Record a renewal payment", "Extends from the end of the period paid for, or from now after a lapse. 200 for a replayed key (nothing changes).", schema(PaymentInput), ["externalId"], "Loyalty") },
      "/api/loyalty/customers/{externalId}/membership/cancel": { post: journeyOp("Cancel a membership", "Stays active to the end of the period paid for (then `Membership Ended`), or ends now with immediately: true.", schema(CancelInput), ["externalId"], "Loyalty") },
      "/api/loyalty/storefront": { get: journeyOp("The storefront widget's setup", "The secret that signs customer tokens (made on first use), the allowed origins (CORS), the token's claims.", undefined, [], "Loyalty") },
      "/api/loyalty/storefront/rotate": { post: journeyOp("Rotate the storefront secret", "Every token signed with the old secret stops working at once.", undefined, [], "Loyalty") },
      "/api/loyalty/storefront/tokens": { post: journeyOp("Issue a customer token", "For shops whose backend would rather ask Fidelio than sign a JWT: answers {token, expiresAt}.", schema(TokenInput), [], "Loyalty") },
      "/api/storefront/me": { get: storefrontOp("The customer's programme", "Balance, lifetime earned and spent, tier progress (\"Spend €40.00 more to reach Gold\"), membership, referral code and link, the wheel (next spin, prizes and odds).") },
      "/api/storefront/me/history": { get: { ...storefrontOp("The customer's points history, newest first", "A page at a time: `before` the last entry id of the page before."), parameters: queryGet("Storefront", "", "", LedgerPageQuery).parameters } },
      "/api/storefront/me/rewards": { get: storefrontOp("Rewards as this customer sees them", "Each active reward with `affordable` and `barrier` (null, or why not yet: a tier, paid membership, the limit per customer).") },
      "/api/storefront/me/redemptions": { post: storefrontOp("Redeem a reward", "201 with a unique code; 200 with the same code for a replayed key; 422 when the balance is short; 403 when the reward is for a tier or paid members; 409 at the limit per customer.", schema(RedeemInput)) },
      "/api/storefront/me/referrals": { get: storefrontOp("The customer as a referrer", "Code, link, and what became of each referral; the friend is shown by first name and initial only (no ids, emails or their welcome code).") },
      "/api/storefront/me/referral": { post: storefrontOp("Use a friend's referral code", "201 with the welcome code for the first order and the friend by first name and initial; refusals as for the admin endpoint.", schema(ReferralInput)) },
      "/api/storefront/me/spins": { post: storefrontOp("Spin the wheel", "Server-side draw. 201 with the prize (a code, points, or nothing); 200 for a replayed key; 409 when already spun this period (naming `wheel`); 422 naming `optIn` when the wheel asks for consent to marketing email.", schema(SpinInput)) },
      "/webhooks/shopify/orders": {
        post: {
          tags: ["Webhooks"],
          summary: "Shopify order webhook (orders/create, orders/updated, orders/paid, orders/cancelled)",
          security: [{ shopifyHmac: [] }],
          responses: { "200": { description: "Stored" }, "401": { description: "Bad signature; nothing stored" }, "503": { description: "SHOPIFY_WEBHOOK_SECRET not set" } },
        },
      },
      "/webhooks/shopify/customers": {
        post: {
          tags: ["Webhooks"],
          summary: "Shopify customer webhook (customers/create, customers/update)",
          security: [{ shopifyHmac: [] }],
          responses: { "200": { description: "Stored" }, "401": { description: "Bad signature; nothing stored" }, "503": { description: "SHOPIFY_WEBHOOK_SECRET not set" } },
        },
      },
    },
  };
}
