/** Talks to the Fidelio server with the session cookie; errors become readable sentences. */

/** A field the server refused, as its error body names it (`{ error: { issues: [{ field, message }] } }`). */
export interface FieldIssue {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
  }
}

let csrfToken = "";
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** What the server's error body says, in plain words. */
function messageOf(status: number, body: unknown): string {
  if (typeof body === "object" && body !== null && "error" in body) {
    const e = body.error;
    if (typeof e === "object" && e !== null && "message" in e && typeof e.message === "string") return e.message;
  }
  if (status === 401) return "You are signed out. Please sign in again.";
  if (status >= 500) return "The server had a problem answering. Try again in a moment; if it goes on, look at the server's log.";
  return `The server answered ${status}.`;
}

/** The fields the server's error body names, when it names any. */
function issuesOf(body: unknown): FieldIssue[] {
  if (typeof body !== "object" || body === null || !("error" in body)) return [];
  const e = body.error;
  if (typeof e !== "object" || e === null || !("issues" in e) || !Array.isArray(e.issues)) return [];
  const list: unknown[] = e.issues;
  const issues: FieldIssue[] = [];
  for (const i of list) {
    if (typeof i === "object" && i !== null && "field" in i && "message" in i && typeof i.field === "string" && typeof i.message === "string") issues.push({ field: i.field, message: i.message });
  }
  return issues;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? "GET";
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: {
        accept: "application/json",
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
        ...(method !== "GET" && csrfToken ? { "x-csrf-token": csrfToken } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  } catch {
    throw new ApiError(0, "Cannot reach the Fidelio server. Is it still running?");
  }
  const text = await res.text();
  if (!res.ok) {
    let body: unknown = undefined;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    throw new ApiError(res.status, messageOf(res.status, body), issuesOf(body));
  }
  // The answer's type is the server's own (imported from src/metrics): this is
  // the one place a response is trusted, and the browser tests compare what
  // the pages show with what the API returns.
  const parsed: T = JSON.parse(text);
  return parsed;
}

export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
