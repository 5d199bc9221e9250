import type { Context, MiddlewareHandler } from "hono";
import { AppError } from "../shared/index.ts";
import type { KeyAuthenticator, KeyOwner } from "../workspaces/index.ts";

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

/** Admin endpoints: `Authorization: Bearer <admin key>`. A write key is refused: it can only send events. */
export function adminKeyAuth(authenticate: KeyAuthenticator): MiddlewareHandler<Env> {
  return async (c, next) => {
    const key = bearer(c) ?? basicUser(c);
    if (!key) throw new AppError("unauthorized", "an admin key is required (Authorization: Bearer <key>)");
    const owner = await authenticate(key);
    if (owner.kind !== "admin") throw new AppError("forbidden", "this is a write key: it can send tracking events but not read or change data");
    c.set("owner", owner);
    await next();
  };
}
