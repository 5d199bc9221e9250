import type { Context } from "hono";
import { AppError, httpStatusOf, toAppError } from "../shared/index.ts";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** The JSON error body every endpoint returns: `{ error: { code, message, issues: [{field, message}] } }`. */
export function errorResponse(c: Context, err: unknown): Response {
  const e = toAppError(err);
  if (e.code === "internal") console.error(err);
  const status = statusOf(e);
  if (e.retryAfterSeconds !== undefined) c.header("Retry-After", String(Math.max(1, Math.ceil(e.retryAfterSeconds))));
  return c.json(
    { error: { code: e.code, message: e.code === "internal" ? "internal error" : e.message, issues: e.issues } },
    status,
  );
}

function statusOf(e: AppError): ContentfulStatusCode {
  const s = httpStatusOf[e.code];
  return s === 400 || s === 401 || s === 403 || s === 404 || s === 409 || s === 413 || s === 422 || s === 423 || s === 429 || s === 503 ? s : 500;
}

/** Reads a JSON body, naming the problem when it is not JSON. */
export async function jsonBody(c: Context, options: { optional?: boolean } = {}): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "" && options.optional) return undefined;
  if (text.trim() === "") throw new AppError("invalid_input", "the request body is empty; JSON expected", [{ field: "(body)", message: "empty" }]);
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : "not JSON";
    throw new AppError("invalid_input", `the request body is not valid JSON: ${message}`, [{ field: "(body)", message }]);
  }
}
