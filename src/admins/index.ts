/**
 * @module admins — the people who sign in to the dashboard: accounts with
 * scrypt-hashed passwords, and sessions (a random token in an HttpOnly
 * cookie, stored hashed, plus a CSRF token the dashboard echoes in a header).
 */
import { z } from "zod";
import type { Queryable } from "../store/index.ts";
import { AppError, randomToken, sha256Hex } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import type { SignInLimiter } from "./sign-in-limit.ts";

export { hashPassword, verifyPassword };
export { DEFAULT_SIGN_IN_LIMITS, SignInLimiter, type SignInLimits } from "./sign-in-limit.ts";

/** How long a session lasts without signing in again. */
export const SESSION_DAYS = 14;

export const AdminLogin = z.object({
  email: z.string().trim().toLowerCase().min(1).max(200),
  password: z.string().min(1).max(1000),
});
export type AdminLogin = z.output<typeof AdminLogin>;

export const NewAdmin = z.object({
  email: z.string().trim().toLowerCase().pipe(z.email("is not an email address")),
  password: z.string().min(12, "must be at least 12 characters").max(1000),
});

export interface AdminSession {
  token: string;
  csrfToken: string;
  expiresAt: Date;
  email: string;
}

export interface SessionOwner {
  workspace: Workspace;
  email: string;
  csrfToken: string;
}

export async function countAdmins(db: Queryable, ws: Workspace): Promise<number> {
  const [r] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM admin_users WHERE workspace_id = $1", [ws.id]);
  return r?.n ?? 0;
}

/** Creates an admin; `conflict` if the email is taken. */
export async function createAdmin(db: Queryable, ws: Workspace, input: { email: string; password: string }, now: Date): Promise<{ email: string }> {
  const a = NewAdmin.safeParse(input);
  if (!a.success) {
    const issue = a.error.issues[0];
    const field = String(issue?.path[0] ?? "(input)");
    throw new AppError("invalid_input", `${field}: ${issue?.message ?? "invalid"}`, [{ field, message: issue?.message ?? "invalid" }]);
  }
  const rows = await db.query<{ email: string }>(
    `INSERT INTO admin_users (workspace_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (email) DO NOTHING RETURNING email`,
    [ws.id, a.data.email, await hashPassword(a.data.password), now],
  );
  if (rows.length === 0) throw new AppError("conflict", `email: an admin ${a.data.email} already exists`, [{ field: "email", message: "already exists" }]);
  return { email: a.data.email };
}

/** A readable random password for a first admin (about 120 bits). */
export function generatePassword(): string {
  return randomToken("", 15);
}

/**
 * Checks the password and opens a session. A wrong email and a wrong password
 * give the same answer, after the same work, so the answer does not tell
 * which accounts exist.
 */
export async function signIn(
  db: Queryable,
  login: AdminLogin,
  now: Date,
  guard?: { limiter: SignInLimiter; address: string | undefined },
): Promise<AdminSession> {
  guard?.limiter.check(login.email, guard.address, now);
  const [u] = await db.query<{ id: number; email: string; password_hash: string; workspace_id: string }>(
    "SELECT id, email, password_hash, workspace_id FROM admin_users WHERE email = $1",
    [login.email],
  );
  const ok = await verifyPassword(login.password, u?.password_hash ?? DUMMY_HASH);
  if (!u || !ok) {
    guard?.limiter.failed(login.email, guard.address, now);
    throw new AppError("unauthorized", "wrong email or password");
  }
  guard?.limiter.succeeded(login.email);
  const token = randomToken("fs_", 32);
  const csrfToken = randomToken("", 24);
  const expiresAt = new Date(now.getTime() + SESSION_DAYS * 86_400_000);
  await db.query("DELETE FROM admin_sessions WHERE expires_at <= $1", [now]);
  await db.query(
    "INSERT INTO admin_sessions (workspace_id, token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    [u.workspace_id, sha256Hex(token), u.id, csrfToken, now, expiresAt],
  );
  return { token, csrfToken, expiresAt, email: u.email };
}

// A real hash of a random password: checking it costs what checking a real account costs.
const DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A".repeat(43);

/** The session's owner, or `unauthorized` when the token is unknown or expired. */
export async function sessionOwner(db: Queryable, token: string, now: Date): Promise<SessionOwner> {
  const [s] = await db.query<{ email: string; csrf_token: string; workspace_id: string; currency: string }>(
    `SELECT u.email, s.csrf_token, w.id AS workspace_id, w.currency
       FROM admin_sessions s JOIN admin_users u ON u.id = s.user_id JOIN workspaces w ON w.id = u.workspace_id
      WHERE s.token_hash = $1 AND s.expires_at > $2`,
    [sha256Hex(token), now],
  );
  if (!s) throw new AppError("unauthorized", "the session has ended; sign in again");
  return { workspace: { id: s.workspace_id, currency: s.currency }, email: s.email, csrfToken: s.csrf_token };
}

export async function signOut(db: Queryable, token: string): Promise<void> {
  await db.query("DELETE FROM admin_sessions WHERE token_hash = $1", [sha256Hex(token)]);
}
