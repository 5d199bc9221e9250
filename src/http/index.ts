/** @module http — the HTTP server (tracking, admin API, webhooks, OpenAPI). */
export { createApp, serve } from "./app.ts";
export type { AppDeps } from "./app.ts";
export { openApiDocument } from "./openapi.ts";
