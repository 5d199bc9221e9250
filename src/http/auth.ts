import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { timingSafeEqual } from "node:crypto";
import type { Store } from "../store/index.ts";
import type { Clock } from "../shared/index.ts";
import { sessionOwner } from "../admins/index.ts";
import { AppError } from "../shared/index.ts";
import type { KeyAuthenticator, KeyOwner, Workspace } from "../workspaces/index.ts";
import { verifyCustomerToken, type TokenCustomer } from "../loyalty/index.ts";

export type Env = { Variables: { owner: KeyOwner } };

/** Segment clients send `Authorization: Basic base64(writeKey:)`; some put `writeKey` in the body instead. */
function basicUser(c: Context): string | undefined {
  const h = c.req.header("authorization");
  if (!h) return undefined;
  const m = /^Basic\s+(.+)$/i.exec(h);
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  return decoded.split(":")[0] || undefined;
}

function bearer(c: Context): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "");
  return m?.[1]?.trim();
}

/** Tracking endpoints: a write key (or an admin key) as the Basic user name. */
export function writeKeyAuth(authenticate: KeyAuthenticator): MiddlewareHandler<Env> {
  return async (c, next) => {
    let key = basicUser(c) ?? bearer(c);
    if (!key) {
      // analytics.js "beacon" style: the key travels in the JSON body.
      const text = await c.req.raw.clone().text();
      const m = /"writeKey"\s*:\s*"([^"]+)"/.exec(text);
      key = m?.[1];
    }
    if (!key) throw new AppError("unauthorized", "a write key is required (HTTP Basic auth with the key as user name)");
    c.set("owner", await authenticate(key));
    await next();
  };
}

/** The dashboard's session cookie. */
export const SESSION_COOKIE = "fidelio_session";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Compares a sent token with the expected one in constant time. */
export function sameToken(sent: string | undefined, expected: string): boolean {
  if (sent === undefined) return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Admin endpoints: `Authorization: Bearer <admin key>`, or the dashboard's
 * session cookie. A write key is refused: it can only send events. With the
 * cookie, a request that changes something must carry the session's CSRF
 * token in `X-CSRF-Token` (the cookie is also SameSite=Strict): a page on
 * another site can make the browser send the cookie, not read the token.
 */
export function adminAuth(authenticate: KeyAuthenticator, store: Store, clock: Clock): MiddlewareHandler<Env> {
  return async (c, next) => {
    const key = bearer(c) ?? basicUser(c);
    if (key) {
      const owner = await authenticate(key);
      if (owner.kind !== "admin") throw new AppError("forbidden", "this is a write key: it can send tracking events but not read or change data");
      c.set("owner", owner);
      return next();
    }
    const token = getCookie(c, SESSION_COOKIE);
    if (!token) throw new AppError("unauthorized", "an admin key is required (Authorization: Bearer <key>), or sign in to the dashboard");
    const session = await sessionOwner(store, token, clock.now());
    if (!SAFE_METHODS.has(c.req.method) && !sameToken(c.req.header("x-csrf-token"), session.csrfToken)) {
      throw new AppError("forbidden", "X-CSRF-Token: missing or wrong for this session", [{ field: "X-CSRF-Token", message: "missing or wrong" }]);
    }
    c.set("owner", { workspace: session.workspace, kind: "admin" });
    return next();
  };
}

export type StorefrontEnv = { Variables: { customer: TokenCustomer } };

/** The storefront widget: a customer token (JWT signed with the workspace's storefront secret) as the Bearer. */
export function customerTokenAuth(store: Store, clock: Clock, ws: Workspace): MiddlewareHandler<StorefrontEnv> {
  return async (c, next) => {
    c.set("customer", await verifyCustomerToken(store, ws, bearer(c), clock.now()));
    await next();
  };
}
