/**
 * One error type for the whole domain. A code says what went wrong; the tables
 * below are the only place that maps a code to an HTTP status or a CLI exit code
 * (after medusa's error-handler switch and documenso's AppErrorCode table).
 */
export type ErrorCode =
  | "invalid_input"
  | "unprocessable"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "not_configured"
  | "busy"
  | "rate_limited"
  | "internal";

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `batch.3.properties.total`. */
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly issues: FieldIssue[];
  /** When trying again makes sense (rate_limited, busy): sent as HTTP's Retry-After. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, issues: FieldIssue[] = [], options: { retryAfterSeconds?: number } = {}) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.issues = issues;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export const httpStatusOf: Record<ErrorCode, number> = {
  invalid_input: 400,
  unprocessable: 422,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  not_configured: 503,
  busy: 423,
  rate_limited: 429,
  internal: 500,
};

export const exitCodeOf: Record<ErrorCode, number> = {
  invalid_input: 2,
  unprocessable: 3,
  unauthorized: 4,
  forbidden: 4,
  not_found: 5,
  conflict: 6,
  payload_too_large: 2,
  not_configured: 7,
  busy: 8,
  rate_limited: 9,
  internal: 1,
};

/** A field-level validation failure; `field` names the input that is wrong. */
export function invalidField(field: string, message: string): AppError {
  return new AppError("invalid_input", `${field}: ${message}`, [{ field, message }]);
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  // Text PostgreSQL cannot hold (a NUL character, a broken UTF-8 sequence) that
  // reached a statement unchecked — a path or query parameter: the request's
  // fault, not ours. Bodies are checked by field before (parseInput).
  if (err instanceof Error && "sqlState" in err && (err.sqlState === "22021" || err.sqlState === "22P05")) {
    return new AppError("invalid_input", `the request holds text that cannot be stored: ${err.message}`, [{ field: "(request)", message: err.message }]);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new AppError("internal", message);
}
