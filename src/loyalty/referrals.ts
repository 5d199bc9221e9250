/**
 * Referrals: every customer has a code; a new customer who comes with it
 * (the referee) gets a welcome code for their first order, and the referrer
 * gets points once that first order is past the return window.
 *
 * Guards against self-referral and abuse, each refusing with its reason:
 * - the referee is the referrer, or shares their email (Gmail dots and any
 *   `+tag` ignored) or phone: refused when the code is used;
 * - the referee has ordered before (only new customers can be referred), or
 *   was already referred;
 * - the first order ships to one of the referrer's addresses or is paid with
 *   one of their payment methods (orders' `shippingAddress` and
 *   `paymentFingerprint`): refused when the order comes;
 * - the first order is worth less than `minOrderMinor`, is cancelled or
 *   refunded within the return window: no points;
 * - a referrer is rewarded for at most `maxRewardedPerYear` referrals per 365 days.
 */
import { z } from "zod";
import type { Queryable, Store } from "../store/index.ts";
import { AppError, parseInput } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { NON_PURCHASE_STATUSES } from "../ingest/index.ts";
import { postPoints } from "./ledger.ts";
import { getLoyaltySettings, type CodeReward, type LoyaltySettings } from "./earn.ts";
import { logLoyaltyEvent, newCode, pushCode, randomCode } from "./codes.ts";

/** A customer's referral code: their first name's letters (when they have one) and 6 random characters. */
export async function referralCodeOf(db: Queryable, ws: Workspace, customerId: number, now: Date): Promise<string> {
  const [existing] = await db.query<{ code: string }>("SELECT code FROM loyalty_referral_codes WHERE customer_id = $1", [customerId]);
  if (existing) return existing.code;
  const [c] = await db.query<{ first_name: string | null }>("SELECT first_name FROM customers WHERE workspace_id = $1 AND id = $2", [ws.id, customerId]);
  if (!c) throw new AppError("not_found", `customer: no customer ${customerId}`, [{ field: "customer", message: "no such customer" }]);
  const prefix = (c.first_name ?? "").normalize("NFKD").toUpperCase().replace(/[^A-Z]/g, "").slice(0, 8) || "FRIEND";
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const code = `${prefix}-${randomCode(6)}`;
    const rows = await db.query<{ code: string }>(
      `INSERT INTO loyalty_referral_codes (workspace_id, customer_id, code, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING code`,
      [ws.id, customerId, code, now],
    );
    if (rows[0]) return rows[0].code;
    // Another request made this customer's code first, or (rarely) the code is taken.
    const [made] = await db.query<{ code: string }>("SELECT code FROM loyalty_referral_codes WHERE customer_id = $1", [customerId]);
    if (made) return made.code;
  }
  throw new AppError("internal", "referral code: no free code after 5 tries");
}

/** The link a referrer shares: the shop's landing page with `?ref=<code>`, when one is set. */
export function referralLink(settings: LoyaltySettings, code: string): string | null {
  if (!settings.referrals.landingUrl) return null;
  const url = new URL(settings.referrals.landingUrl);
  url.searchParams.set("ref", code);
  return url.toString();
}

/** An email as its owner receives it: lower case, no `+tag`, no dots for Gmail. */
export function mailboxOf(email: string | null): string | null {
  if (!email) return null;
  const [local = "", domain = ""] = email.trim().toLowerCase().split("@");
  const base = local.split("+")[0] ?? "";
  const gmail = domain === "gmail.com" || domain === "googlemail.com";
  return `${gmail ? base.replaceAll(".", "") : base}@${gmail ? "gmail.com" : domain}`;
}

const digits = (phone: string | null) => (phone ? phone.replace(/\D/g, "") : "") || null;

export const ReferralInput = z.strictObject({
  code: z.string().trim().min(1).max(60).describe("the referrer's code"),
});

export interface Referral {
  id: number;
  referrer: string;
  referee: string;
  /** As a friend may see them ("Ann D."), for the storefront; null without a name. */
  referrerName: string | null;
  refereeName: string | null;
  status: "pending" | "qualified" | "rewarded" | "refused";
  refusedWhy: string | null;
  /** The referee's welcome code, for their first order. */
  welcomeCode: string | null;
  welcome: CodeReward;
  createdAt: string;
  /** False when this referee had already used this code: the same answer again. */
  created: boolean;
}

/** The referee (by internal id) uses a referral code. */
export async function acceptReferral(store: Store, ws: Workspace, refereeId: number, input: unknown, now: Date): Promise<Referral> {
  const body = parseInput(ReferralInput, input);
  const settings = await getLoyaltySettings(store, ws);
  const refuse = (why: string) => new AppError("unprocessable", `code: ${why}`, [{ field: "code", message: why }]);
  const open = settings.enabled && settings.referrals.enabled;
  return store.transaction(async (tx) => {
    const [owner] = await tx.query<{ customer_id: number }>("SELECT customer_id FROM loyalty_referral_codes WHERE workspace_id = $1 AND upper(code) = upper($2)", [ws.id, body.code]);
    if (!owner) throw new AppError(open ? "not_found" : "unprocessable", `code: ${open ? `no referral code "${body.code}"` : "referrals are not open in this shop"}`, [{ field: "code", message: open ? "no such referral code" : "referrals are not open" }]);
    const referrerId = Number(owner.customer_id);
    // The referee's row lock: two uses at once by one referee make one referral.
    const people = await tx.query<{ id: number; external_id: string; email: string | null; phone: string | null }>(
      "SELECT id, external_id, email, phone FROM customers WHERE workspace_id = $1 AND id = ANY($2::bigint[]) ORDER BY id FOR UPDATE",
      [ws.id, [referrerId, refereeId]],
    );
    const referee = people.find((p) => Number(p.id) === refereeId);
    const referrer = people.find((p) => Number(p.id) === referrerId);
    if (!referee || !referrer) throw new AppError("not_found", "customer: no such customer", [{ field: "customer", message: "no such customer" }]);
    const [prior] = await tx.query<ReferralRow>(`SELECT ${REFERRAL_COLUMNS} FROM loyalty_referrals r WHERE r.workspace_id = $1 AND r.referee_id = $2`, [ws.id, refereeId]);
    if (prior) {
      // A replay answers the same referral, even if referrals were closed since.
      if (Number(prior.referrer_id) === referrerId) return view(prior, settings, false);
      throw new AppError("conflict", "code: this customer was already referred by someone else", [{ field: "code", message: "already referred" }]);
    }
    if (!open) throw refuse("referrals are not open in this shop");
    if (referrerId === refereeId) throw refuse("you cannot refer yourself");
    const sameEmail = mailboxOf(referee.email) !== null && mailboxOf(referee.email) === mailboxOf(referrer.email);
    const samePhone = digits(referee.phone) !== null && digits(referee.phone) === digits(referrer.phone);
    if (sameEmail || samePhone) throw refuse(`the referee has the referrer's ${sameEmail ? "email address" : "phone number"}`);
    const [ordered] = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE customer_id = $1 AND status <> ALL($2::text[])", [refereeId, [...NON_PURCHASE_STATUSES]]);
    if ((ordered?.n ?? 0) > 0) throw refuse("only new customers can be referred (this one has ordered before)");
    const welcomeCode = newCode();
    const [row] = await tx.query<ReferralRow>(
      `INSERT INTO loyalty_referrals AS r (workspace_id, referrer_id, referee_id, status, welcome_code, created_at, updated_at)
       VALUES ($1, $2, $3, 'pending', $4, $5, $5) RETURNING ${REFERRAL_COLUMNS}`,
      [ws.id, referrerId, refereeId, welcomeCode, now],
    );
    if (!row) throw new AppError("internal", "referral: not recorded");
    await pushCode(tx, ws, settings.codeWebhookUrl, refereeId, welcomeCode, { referral: { welcome: settings.referrals.welcome, firstOrderOnly: true } }, now);
    await logLoyaltyEvent(tx, ws, refereeId, "Referral Accepted", `referral:${row.id}:accepted`, { referrer: referrer.external_id, welcomeCode, welcome: settings.referrals.welcome }, now);
    return view(row, settings, true);
  });
}

type ReferralRow = {
  id: number;
  referrer_id: number;
  referrer: string;
  referee: string;
  referrer_name: string | null;
  referee_name: string | null;
  status: Referral["status"];
  refused_why: string | null;
  welcome_code: string | null;
  created_at: Date;
};
// A name as a friend would see it: the first name and the last name's initial ("Ann D."), or nothing.
const shownName = (alias: string) => `(SELECT NULLIF(concat_ws(' ', ${alias}.first_name, left(${alias}.last_name, 1) || '.'), '') FROM customers ${alias} WHERE ${alias}.id = r.${alias === "rr" ? "referrer_id" : "referee_id"})`;
const REFERRAL_COLUMNS = `r.id, r.referrer_id, (SELECT external_id FROM customers WHERE id = r.referrer_id) AS referrer,
  (SELECT external_id FROM customers WHERE id = r.referee_id) AS referee, ${shownName("rr")} AS referrer_name, ${shownName("re")} AS referee_name,
  r.status, r.refused_why, r.welcome_code, r.created_at`;
const view = (r: ReferralRow, settings: LoyaltySettings, created: boolean): Referral => ({
  id: Number(r.id),
  referrer: r.referrer,
  referee: r.referee,
  referrerName: r.referrer_name,
  refereeName: r.referee_name,
  status: r.status,
  refusedWhy: r.refused_why,
  welcomeCode: r.welcome_code,
  welcome: settings.referrals.welcome,
  createdAt: r.created_at.toISOString(),
  created,
});

/** A referrer's referrals, newest first. */
/** A referrer's referrals, newest first (`settings`: as the caller has read them). */
async function referralsBy(db: Queryable, ws: Workspace, settings: LoyaltySettings, referrerId: number): Promise<Referral[]> {
  const rows = await db.query<ReferralRow>(`SELECT ${REFERRAL_COLUMNS} FROM loyalty_referrals r WHERE r.workspace_id = $1 AND r.referrer_id = $2 ORDER BY r.id DESC LIMIT 200`, [ws.id, referrerId]);
  return rows.map((r) => view(r, settings, false));
}

export interface ReferralPass {
  qualified: number;
  rewarded: number;
  refused: number;
  points: number;
}

/**
 * One pass of the worker: pending referrals whose referee has ordered are
 * checked and qualify (or are refused); qualified ones whose order is past
 * the return window reward the referrer (key `referral:<id>`).
 */
export async function settleReferrals(store: Store, ws: Workspace, now: Date): Promise<ReferralPass> {
  const result: ReferralPass = { qualified: 0, rewarded: 0, refused: 0, points: 0 };
  const settings = await getLoyaltySettings(store, ws);
  if (!settings.enabled || !settings.referrals.enabled) return result;
  const cfg = settings.referrals;
  await store.transaction(async (tx) => {
    const refuse = async (id: number, why: string) => {
      await tx.query("UPDATE loyalty_referrals SET status = 'refused', refused_why = $2, updated_at = $3 WHERE id = $1", [id, why, now]);
      result.refused += 1;
    };
    // Pending: the referee's first purchase since the referral, and the guards on where it ships and how it was paid.
    const pending = await tx.query<{ id: number; referrer_id: number; order_id: number | null; address_key: string | null; payment_fingerprint: string | null; shared_address: boolean; shared_payment: boolean }>(
      `SELECT r.id, r.referrer_id, o.id AS order_id, o.address_key, o.payment_fingerprint,
              (o.address_key IS NOT NULL AND EXISTS (SELECT 1 FROM orders p WHERE p.customer_id = r.referrer_id AND p.address_key = o.address_key)) AS shared_address,
              (o.payment_fingerprint IS NOT NULL AND EXISTS (SELECT 1 FROM orders p WHERE p.customer_id = r.referrer_id AND p.payment_fingerprint = o.payment_fingerprint)) AS shared_payment
         FROM loyalty_referrals r
         JOIN LATERAL (SELECT id, address_key, payment_fingerprint FROM orders
                        WHERE customer_id = r.referee_id AND status <> ALL($2::text[]) AND placed_at <= $3
                        ORDER BY placed_at, id LIMIT 1) o ON true
        WHERE r.workspace_id = $1 AND r.status = 'pending'
        FOR UPDATE OF r`,
      [ws.id, [...NON_PURCHASE_STATUSES], now],
    );
    for (const p of pending) {
      if (p.shared_address) await refuse(Number(p.id), "the first order ships to the referrer's address");
      else if (p.shared_payment) await refuse(Number(p.id), "the first order was paid with the referrer's payment method");
      else {
        await tx.query("UPDATE loyalty_referrals SET status = 'qualified', order_id = $2, updated_at = $3 WHERE id = $1", [p.id, p.order_id, now]);
        result.qualified += 1;
      }
    }
    // Qualified: once the return window has passed, the order as it stands then (net of refunds) decides.
    const due = await tx.query<{ id: number; referrer_id: number; referee: string; status: string; net: number; recent: number }>(
      `SELECT r.id, r.referrer_id, (SELECT external_id FROM customers WHERE id = r.referee_id) AS referee, o.status,
              GREATEST(o.subtotal_minor - o.discount_minor - COALESCE((SELECT sum(f.amount_minor) FROM refunds f WHERE f.order_id = o.id), 0), 0) AS net,
              (SELECT count(*)::int FROM loyalty_referrals x WHERE x.referrer_id = r.referrer_id AND x.status = 'rewarded' AND x.updated_at > $3::timestamptz - interval '365 days') AS recent
         FROM loyalty_referrals r JOIN orders o ON o.id = r.order_id
        WHERE r.workspace_id = $1 AND r.status = 'qualified' AND o.placed_at <= $3::timestamptz - make_interval(days => $2::int)
        ORDER BY r.id
        FOR UPDATE OF r`,
      [ws.id, settings.creditAfterDays, now],
    );
    const rewardedNow = new Map<number, number>();
    for (const d of due) {
      const referrer = Number(d.referrer_id);
      const already = Number(d.recent) + (rewardedNow.get(referrer) ?? 0);
      if ((NON_PURCHASE_STATUSES as readonly string[]).includes(d.status) || Number(d.net) === 0) await refuse(Number(d.id), "the first order was cancelled or refunded");
      else if (Number(d.net) < cfg.minOrderMinor) await refuse(Number(d.id), `the first order is below the minimum (${cfg.minOrderMinor})`);
      else if (already >= cfg.maxRewardedPerYear) await refuse(Number(d.id), `the referrer was rewarded for ${cfg.maxRewardedPerYear} referrals in the last 365 days`);
      else {
        if (cfg.referrerPoints > 0) {
          const [posted] = await postPoints(tx, ws, [{ customerId: referrer, kind: "earn", points: cfg.referrerPoints, reason: "referral", reference: `referral:${d.referee}`, key: `referral:${d.id}` }], now);
          if (posted?.created) result.points += posted.points;
        }
        await tx.query("UPDATE loyalty_referrals SET status = 'rewarded', updated_at = $2 WHERE id = $1", [d.id, now]);
        rewardedNow.set(referrer, (rewardedNow.get(referrer) ?? 0) + 1);
        result.rewarded += 1;
      }
    }
  });
  return result;
}

/**
 * A customer as a referrer: their code, the link to share, and what became
 * of their referrals. The code is made on first use while referrals are
 * open; otherwise an existing one is shown, or none.
 */
export async function referralsOf(db: Queryable, ws: Workspace, customerId: number, now: Date): Promise<{ code: string | null; link: string | null; referrals: Referral[] }> {
  const settings = await getLoyaltySettings(db, ws);
  const open = settings.enabled && settings.referrals.enabled;
  const code = open ? await referralCodeOf(db, ws, customerId, now) : ((await db.query<{ code: string }>("SELECT code FROM loyalty_referral_codes WHERE customer_id = $1", [customerId]))[0]?.code ?? null);
  return { code, link: code === null ? null : referralLink(settings, code), referrals: await referralsBy(db, ws, settings, customerId) };
}
