/**
 * The storefront widget's side of the programme: signed customer tokens and
 * what one customer sees of their own loyalty.
 *
 * A customer token is a JWT (RFC 7519) signed HS256 with the workspace's
 * storefront secret, issued by the shop's backend for its logged-in
 * customer: `sub` is the customer's external id, `exp` is required and at
 * most 30 days after `iat`. The widget sends it as `Authorization: Bearer`.
 * Time is checked against Fidelio's clock, not the library's, so tests can
 * move it. A forged, altered, expired or unknown-customer token is refused
 * with 401 and nothing else happens.
 */
import { sign, verify } from "hono/jwt";
import { z } from "zod";
import type { Queryable, Store } from "../store/index.ts";
import { AppError, parseInput, randomToken } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { balancesOf } from "./ledger.ts";
import { getLoyaltySettings } from "./earn.ts";
import { tierProgress, type TierProgress } from "./tiers.ts";
import { membershipOf, type Membership } from "./membership.ts";
import { acceptReferral, referralCodeOf, referralLink, referralsOf, type Referral } from "./referrals.ts";
import { nextSpinAt } from "./wheel.ts";

const MAX_TOKEN_SECONDS = 30 * 86_400;

/** The workspace's storefront secret as stored, or null before its first use. */
async function readSecret(db: Queryable, ws: Workspace): Promise<string | null> {
  const [row] = await db.query<{ storefront_secret: string | null }>("SELECT storefront_secret FROM loyalty_settings WHERE workspace_id = $1", [ws.id]);
  return row?.storefront_secret ?? null;
}

/** The workspace's storefront secret, made on first use. */
export async function storefrontSecret(db: Queryable, ws: Workspace, now: Date): Promise<string> {
  const existing = await readSecret(db, ws);
  if (existing) return existing;
  const fresh = randomToken("fsf_", 32);
  // Two first uses at once: the first write wins and both read it back.
  await db.query(
    `INSERT INTO loyalty_settings (workspace_id, settings, updated_at, storefront_secret) VALUES ($1, '{}'::jsonb, $2, $3)
     ON CONFLICT (workspace_id) DO UPDATE SET storefront_secret = COALESCE(loyalty_settings.storefront_secret, EXCLUDED.storefront_secret)`,
    [ws.id, now, fresh],
  );
  const after = await readSecret(db, ws);
  if (!after) throw new AppError("internal", "storefront secret: not stored");
  return after;
}

/** A new secret: every token signed with the old one stops working. */
export async function rotateStorefrontSecret(db: Queryable, ws: Workspace, now: Date): Promise<string> {
  await storefrontSecret(db, ws, now);
  const fresh = randomToken("fsf_", 32);
  await db.query("UPDATE loyalty_settings SET storefront_secret = $2 WHERE workspace_id = $1", [ws.id, fresh]);
  return fresh;
}

export const TokenInput = z.strictObject({
  customer: z.string().min(1).max(200).describe("the customer's external id"),
  ttlSeconds: z.number().int().min(60).max(MAX_TOKEN_SECONDS).default(3600),
});

/** A token for a customer, for shops whose backend would rather ask Fidelio (admin key) than sign one. */
export async function issueCustomerToken(db: Queryable, ws: Workspace, input: unknown, now: Date): Promise<{ token: string; expiresAt: string }> {
  const body = parseInput(TokenInput, input);
  const [c] = await db.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND external_id = $2", [ws.id, body.customer]);
  if (!c) throw new AppError("not_found", `customer: no customer "${body.customer}"`, [{ field: "customer", message: "no such customer" }]);
  const iat = Math.floor(now.getTime() / 1000);
  const token = await sign({ sub: body.customer, iat, exp: iat + body.ttlSeconds }, await storefrontSecret(db, ws, now), "HS256");
  return { token, expiresAt: new Date((iat + body.ttlSeconds) * 1000).toISOString() };
}

export interface TokenCustomer {
  customerId: number;
  externalId: string;
}

/** The customer a bearer token names, or a 401 that says what is wrong with it. */
export async function verifyCustomerToken(db: Queryable, ws: Workspace, token: string | undefined, now: Date): Promise<TokenCustomer> {
  const refuse = (why: string) => new AppError("unauthorized", `Authorization: ${why}`, [{ field: "Authorization", message: why }]);
  if (!token) throw refuse("a customer token is required (Bearer <JWT signed by the shop>)");
  // Read, never made here: with no secret yet, no token can be genuine.
  const secret = await readSecret(db, ws);
  if (!secret) throw refuse("the customer token is not valid (the shop has no storefront secret yet)");
  let payload: Record<string, unknown>;
  try {
    payload = await verify(token, secret, { alg: "HS256", exp: false, nbf: false, iat: false });
  } catch {
    throw refuse("the customer token is not valid (bad signature or format)");
  }
  const { sub, exp, iat } = payload;
  const seconds = now.getTime() / 1000;
  if (typeof sub !== "string" || sub === "") throw refuse("the customer token has no subject (sub)");
  if (typeof exp !== "number") throw refuse("the customer token has no expiry (exp)");
  if (exp <= seconds) throw refuse("the customer token has expired");
  if (typeof iat === "number" && (iat > seconds + 60 || exp - iat > MAX_TOKEN_SECONDS)) throw refuse("the customer token's lifetime is not acceptable (iat in the future, or more than 30 days)");
  if (typeof iat !== "number" && exp - seconds > MAX_TOKEN_SECONDS) throw refuse("the customer token expires more than 30 days from now");
  const [c] = await db.query<{ id: number }>("SELECT id FROM customers WHERE workspace_id = $1 AND external_id = $2", [ws.id, sub]);
  if (!c) throw refuse("the customer token names no customer of this shop");
  return { customerId: Number(c.id), externalId: sub };
}

export interface CustomerLoyalty {
  customer: string;
  enabled: boolean;
  balance: number;
  earned: number;
  spent: number;
  tier: TierProgress | null;
  membership: Membership | null;
  referral: { code: string; link: string | null; welcome: unknown; referrerPoints: number } | null;
  wheel: { nextSpinAt: string; requireEmailOptIn: boolean; prizes: { id: string; label: string; odds: number }[] } | null;
}

/** Everything the widget shows on its first screen, in one answer. */
export async function customerLoyalty(store: Store, ws: Workspace, who: TokenCustomer, now: Date): Promise<CustomerLoyalty> {
  const settings = await getLoyaltySettings(store, ws);
  const balance = (await balancesOf(store, ws, [who.customerId])).get(who.customerId) ?? { balance: 0, earned: 0, spent: 0, lastActivityAt: null };
  const referrals = settings.enabled && settings.referrals.enabled;
  const code = referrals ? await referralCodeOf(store, ws, who.customerId, now) : null;
  const wheel = settings.enabled && settings.wheel.enabled;
  return {
    customer: who.externalId,
    enabled: settings.enabled,
    balance: balance.balance,
    earned: balance.earned,
    spent: balance.spent,
    tier: await tierProgress(store, ws, settings.tiers, who.customerId, now),
    membership: await membershipOf(store, ws, who.customerId),
    referral: code ? { code, link: referralLink(settings, code), welcome: settings.referrals.welcome, referrerPoints: settings.referrals.referrerPoints } : null,
    wheel: wheel
      ? {
          nextSpinAt: (await nextSpinAt(store, ws, settings.wheel, who.customerId, now)).toISOString(),
          requireEmailOptIn: settings.wheel.requireEmailOptIn,
          prizes: settings.wheel.prizes.map((p) => ({ id: p.id, label: p.label, odds: p.weight })),
        }
      : null,
  };
}

/** What the shop's developer needs to wire the widget: the secret, the allowed origins, the token's shape. */
export async function storefrontSetup(db: Queryable, ws: Workspace, now: Date): Promise<{ secret: string; allowedOrigins: string[]; token: { alg: "HS256"; claims: Record<string, string> } }> {
  const settings = await getLoyaltySettings(db, ws);
  return {
    secret: await storefrontSecret(db, ws, now),
    allowedOrigins: settings.storefront.allowedOrigins,
    token: { alg: "HS256", claims: { sub: "the customer's external id", iat: "issued at (seconds)", exp: "expiry (seconds), at most 30 days after iat" } },
  };
}

/**
 * A referral as a customer sees it on the storefront: the other person by
 * first name and initial only (never their id or email), and a welcome code
 * only to the referee it belongs to.
 */
export interface StorefrontReferral {
  id: number;
  /** The friend: the referee for a referrer, the referrer for a referee. */
  friend: string;
  status: Referral["status"];
  refusedWhy: string | null;
  welcomeCode: string | null;
  createdAt: string;
  created: boolean;
}

const asReferrer = (r: Referral): StorefrontReferral => ({ id: r.id, friend: r.refereeName ?? "a friend", status: r.status, refusedWhy: r.refusedWhy, welcomeCode: null, createdAt: r.createdAt, created: r.created });

/** The customer's code, link, and their friends' referrals (storefront view). */
export async function myReferrals(db: Queryable, ws: Workspace, who: TokenCustomer, now: Date): Promise<{ code: string | null; link: string | null; referrals: StorefrontReferral[] }> {
  const r = await referralsOf(db, ws, who.customerId, now);
  return { code: r.code, link: r.link, referrals: r.referrals.map(asReferrer) };
}

/** The customer uses a friend's code (storefront view: their welcome code, the friend by name only). */
export async function useReferralCode(store: Store, ws: Workspace, who: TokenCustomer, input: unknown, now: Date): Promise<StorefrontReferral & { welcome: Referral["welcome"] }> {
  const r = await acceptReferral(store, ws, who.customerId, input, now);
  return { id: r.id, friend: r.referrerName ?? "a friend", status: r.status, refusedWhy: r.refusedWhy, welcomeCode: r.welcomeCode, welcome: r.welcome, createdAt: r.createdAt, created: r.created };
}
