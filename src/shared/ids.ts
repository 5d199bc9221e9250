import { createHash, randomBytes } from "node:crypto";

/** A random, URL-safe token with a readable prefix (e.g. `fw_…` for write keys). */
export function randomToken(prefix: string, bytes = 24): string {
  return `${prefix}${randomBytes(bytes).toString("base64url")}`;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A stable id derived from parts, for idempotency keys of derived records. */
export function stableId(...parts: string[]): string {
  return sha256Hex(parts.join("\u0000")).slice(0, 32);
}
