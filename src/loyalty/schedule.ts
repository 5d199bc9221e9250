/**
 * The server's loyalty worker: every `everyMs`, in turn, an earning pass
 * (orders past their return window, refunds, bonus events), referrals
 * (qualify on the first order, reward after the return window), tiers
 * (customers touched since the last pass; everyone once a day), paid
 * memberships (lapse or end at the period's end) and expiry (once a day).
 * Each step is its own transaction: one failing doesn't hold up the others.
 */
import type { Store } from "../store/index.ts";
import { repeatEvery, type Clock, type Repeating } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { creditPoints } from "./earn.ts";
import { expirePoints } from "./expire.ts";
import { settleReferrals } from "./referrals.ts";
import { assignTiers } from "./tiers.ts";
import { expireMemberships } from "./membership.ts";


/**
 * One pass of everything the worker does, at `now`: what it did, as lines.
 * A step that fails is reported in its line and the others still run.
 */
export async function runLoyaltyPass(store: Store, ws: Workspace, now: Date): Promise<string[]> {
  const lines: string[] = [];
  const step = async <T>(name: string, run: () => Promise<T>, say: (r: T) => string | null) => {
    try {
      const line = say(await run());
      if (line) lines.push(line);
    } catch (err) {
      lines.push(`Loyalty: ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  await step("earning", () => creditPoints(store, ws, now), (r) =>
    r.orders + r.refunds + r.bonuses + r.skipped > 0 ? `Loyalty: ${r.orders} orders, ${r.refunds} refunds, ${r.bonuses} bonuses credited (${r.points} points)${r.skipped > 0 ? `; ${r.skipped} skipped: ${r.skippedWhy.join("; ")}` : ""}.` : null,
  );
  await step("referrals", () => settleReferrals(store, ws, now), (f) => (f.qualified + f.rewarded + f.refused > 0 ? `Loyalty: referrals ${f.qualified} qualified, ${f.rewarded} rewarded (${f.points} points), ${f.refused} refused.` : null));
  await step("tiers", () => assignTiers(store, ws, now), (t) => (t.upgraded + t.downgraded > 0 ? `Loyalty: tiers ${t.upgraded} up, ${t.downgraded} down (${t.checked} checked).` : null));
  await step("memberships", () => expireMemberships(store, ws, now), (m) => (m.lapsed + m.ended > 0 ? `Loyalty: memberships ${m.lapsed} lapsed, ${m.ended} ended.` : null));
  await step("expiry", () => expirePoints(store, ws, now), (x) => (x.expired + x.reminded > 0 ? `Loyalty: ${x.expired} balances expired (${x.points} points), ${x.reminded} reminders.` : null));
  return lines;
}

export function scheduleLoyalty(store: Store, ws: Workspace, clock: Clock, options: { everyMs?: number; log?: (line: string) => void } = {}): Repeating {
  const log = options.log ?? (() => {});
  return repeatEvery(
    options.everyMs ?? 60_000,
    async () => {
      for (const line of await runLoyaltyPass(store, ws, clock.now())) log(line);
    },
    (err) => log(`Loyalty: pass failed: ${err instanceof Error ? err.message : String(err)}`),
  );
}
