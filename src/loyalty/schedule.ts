/** The server's loyalty worker: an earning pass every `everyMs` (orders past their return window, refunds, bonus events). */
import type { Store } from "../store/index.ts";
import { repeatEvery, type Clock, type Repeating } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { creditPoints } from "./earn.ts";

export function scheduleLoyalty(store: Store, ws: Workspace, clock: Clock, options: { everyMs?: number; log?: (line: string) => void } = {}): Repeating {
  const log = options.log ?? (() => {});
  return repeatEvery(
    options.everyMs ?? 60_000,
    async () => {
      const r = await creditPoints(store, ws, clock.now());
      if (r.orders + r.refunds + r.bonuses > 0) log(`Loyalty: ${r.orders} orders, ${r.refunds} refunds, ${r.bonuses} bonuses credited (${r.points} points).`);
    },
    (err) => log(`Loyalty: pass failed: ${err instanceof Error ? err.message : String(err)}`),
  );
}
