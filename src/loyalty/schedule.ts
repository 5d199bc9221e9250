/** The server's loyalty worker: every `everyMs`, an earning pass (orders past their return window, refunds, bonus events) and an expiry pass. */
import type { Store } from "../store/index.ts";
import { repeatEvery, type Clock, type Repeating } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { creditPoints } from "./earn.ts";
import { expirePoints } from "./expire.ts";

export function scheduleLoyalty(store: Store, ws: Workspace, clock: Clock, options: { everyMs?: number; log?: (line: string) => void } = {}): Repeating {
  const log = options.log ?? (() => {});
  return repeatEvery(
    options.everyMs ?? 60_000,
    async () => {
      const r = await creditPoints(store, ws, clock.now());
      if (r.orders + r.refunds + r.bonuses > 0) log(`Loyalty: ${r.orders} orders, ${r.refunds} refunds, ${r.bonuses} bonuses credited (${r.points} points).`);
      const x = await expirePoints(store, ws, clock.now());
      if (x.expired + x.reminded > 0) log(`Loyalty: ${x.expired} balances expired (${x.points} points), ${x.reminded} reminders.`);
    },
    (err) => log(`Loyalty: pass failed: ${err instanceof Error ? err.message : String(err)}`),
  );
}
