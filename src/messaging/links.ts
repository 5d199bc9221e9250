/**
 * Signed links in messages: unsubscribe, open pixel, click redirect. A token
 * is the payload (base64url JSON) and its HMAC-SHA256 under the workspace's
 * signing secret, so a link cannot be forged or pointed elsewhere (a click
 * token carries its destination, so the redirect is never open).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Queryable } from "../store/index.ts";
import { AppError } from "../shared/index.ts";

export type LinkPayload =
  | { k: "u"; w: string; c: number; m?: number } // unsubscribe customer c (from message m)
  | { k: "o"; w: string; m: number } // message m opened
  | { k: "c"; w: string; m: number; u: string }; // message m clicked, to u

/** The workspace's signing secret, created on first use. */
export async function signingSecret(db: Queryable, workspaceId: string): Promise<string> {
  const read = async () => (await db.query<{ signing_secret: string | null }>("SELECT signing_secret FROM workspaces WHERE id = $1", [workspaceId]))[0]?.signing_secret;
  // Every delivery pass asks; only the first ever writes.
  const existing = await read();
  if (existing) return existing;
  await db.query("UPDATE workspaces SET signing_secret = $2 WHERE id = $1 AND signing_secret IS NULL", [workspaceId, randomBytes(32).toString("base64url")]);
  const secret = await read();
  if (!secret) throw new AppError("not_found", `workspace ${workspaceId} does not exist`);
  return secret;
}

const mac = (secret: string, body: string) => createHmac("sha256", secret).update(body).digest("base64url");

export function signLink(secret: string, payload: LinkPayload): string {
  const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
  return `${body}.${mac(secret, body)}`;
}

/** The payload of a token, read without checking it (to find the workspace whose secret checks it). */
export function peekLink(token: string): LinkPayload | undefined {
  const [body] = token.split(".");
  try {
    const v: unknown = JSON.parse(Buffer.from(body ?? "", "base64url").toString("utf8"));
    if (typeof v !== "object" || v === null) return undefined;
    const k = Object.getOwnPropertyDescriptor(v, "k")?.value;
    const w = Object.getOwnPropertyDescriptor(v, "w")?.value;
    const c = Object.getOwnPropertyDescriptor(v, "c")?.value;
    const m = Object.getOwnPropertyDescriptor(v, "m")?.value;
    const u = Object.getOwnPropertyDescriptor(v, "u")?.value;
    if (typeof w !== "string") return undefined;
    if (k === "u" && typeof c === "number") return typeof m === "number" ? { k, w, c, m } : { k, w, c };
    if (k === "o" && typeof m === "number") return { k, w, m };
    if (k === "c" && typeof m === "number" && typeof u === "string" && /^https?:\/\//.test(u)) return { k, w, m, u };
    return undefined;
  } catch {
    return undefined;
  }
}

/** Checks a token's signature; the payload, or a `not_found` error (a bad link looks like no link). */
export async function verifyLink(db: Queryable, token: string): Promise<LinkPayload> {
  const payload = peekLink(token);
  const [body, sig] = token.split(".");
  if (!payload || !body || !sig) throw new AppError("not_found", "this link is not valid");
  const rows = await db.query<{ signing_secret: string | null }>("SELECT signing_secret FROM workspaces WHERE id = $1", [payload.w]);
  const secret = rows[0]?.signing_secret;
  const expected = secret ? Buffer.from(mac(secret, body)) : undefined;
  const given = Buffer.from(sig);
  if (!expected || expected.length !== given.length || !timingSafeEqual(expected, given)) throw new AppError("not_found", "this link is not valid");
  return payload;
}
