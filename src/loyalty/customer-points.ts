/**
 * A customer's points by external id, for the admin API and the CLI: the
 * balance with the latest entries, and a manual entry (earn, redeem, adjust)
 * with its idempotency key.
 */
import { z } from "zod";
import type { Queryable, Store } from "../store/index.ts";
import { AppError, parseInput } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { customerIdOf } from "../customers/index.ts";
import { EntryInput, balancesOf, ledgerOf, postPoints, type Balance, type LedgerEntryView, type Posted } from "./ledger.ts";
import { getLoyaltySettings } from "./earn.ts";
import { tierProgress, type TierProgress } from "./tiers.ts";
import { membershipOf, type Membership } from "./membership.ts";

export interface CustomerPoints extends Balance {
  externalId: string;
  /** Where the customer stands against the VIP tiers now (null when the programme has none). */
  tier: TierProgress | null;
  membership: Membership | null;
  entries: LedgerEntryView[];
}

const customerId = (store: Store, ws: Workspace, externalId: string) => customerIdOf(store, ws, externalId, "customer");

export async function customerPoints(store: Store, ws: Workspace, externalId: string, now: Date, limit = 50): Promise<CustomerPoints> {
  const id = await customerId(store, ws, externalId);
  const balance = (await balancesOf(store, ws, [id])).get(id) ?? { balance: 0, earned: 0, spent: 0, lastActivityAt: null };
  const { tiers } = await getLoyaltySettings(store, ws);
  return { externalId, ...balance, tier: await tierProgress(store, ws, tiers, id, now), membership: await membershipOf(store, ws, id), entries: await ledgerOf(store, ws, id, limit) };
}

/** One manual entry; the same key again answers what the first did. */
export async function postCustomerEntry(store: Store, ws: Workspace, externalId: string, input: unknown, now: Date): Promise<Posted> {
  const body = parseInput(EntryInput, input);
  const id = await customerId(store, ws, externalId);
  // One call, one atomic statement (migration 012): no transaction of its own is needed.
  const [posted] = await postPoints(store, ws, [{ customerId: id, kind: body.kind, points: body.points, reason: body.reason, reference: body.reference, key: body.key }], now)
    .catch((err: unknown) => {
      // One entry: its fields are the body's own, not `entries.0.…`.
      if (err instanceof AppError) throw new AppError(err.code, err.message.replace(/^entries\.0\./, ""), err.issues.map((i) => ({ ...i, field: i.field.replace(/^entries\.0\./, "") })));
      throw err;
    });
  if (!posted) throw new AppError("internal", "loyalty: nothing was posted");
  return posted;
}

export const LedgerPageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.coerce.number().int().positive().optional().describe("entries older than this entry id (the last id of the page before)"),
});

/** A page of a customer's history, newest first. */
export async function customerLedger(db: Queryable, ws: Workspace, customerId: number, page: z.output<typeof LedgerPageQuery>): Promise<LedgerEntryView[]> {
  return ledgerOf(db, ws, customerId, page.limit, page.before);
}
