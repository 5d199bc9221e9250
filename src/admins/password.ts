/**
 * Password hashing with scrypt (RFC 7914), built into Node: a memory-hard,
 * deliberately slow hash, so a stolen table is expensive to guess through.
 * Stored as `scrypt$N$r$p$salt$hash` (base64url), so the cost can be raised
 * later without breaking existing hashes.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

// N = 2^15, r = 8: 32 MiB and about 50-100 ms per hash on these machines (OWASP's scrypt minimum is N = 2^17 at r = 8, p = 1
// for interactive logins on a server farm; 2^15 keeps a sign-in under a quarter second on a 2-core box).
const N = 2 ** 15;
const R = 8;
const P = 1;
const KEY_BYTES = 32;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFKC"), salt, KEY_BYTES, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

/** True when `password` matches `stored`; false for any malformed stored value. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![n, r, p].every((x) => Number.isInteger(x) && x > 0)) return false;
  const salt = Buffer.from(parts[4] ?? "", "base64url");
  const expected = Buffer.from(parts[5] ?? "", "base64url");
  if (expected.length !== KEY_BYTES) return false;
  const key = await derive(password, salt, n, r, p);
  return timingSafeEqual(key, expected);
}
