/**
 * The server's loyalty worker: an earning pass every `everyMs` (orders past
 * their return window, refunds, bonus events). One pass at a time; errors
 * are logged and the next tick tries again; the timer does not keep the
 * process alive.
 */
import type { Store } from "../store/index.ts";
import type { Clock } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { creditPoints } from "./earn.ts";

export function scheduleLoyalty(store: Store, ws: Workspace, clock: Clock, options: { everyMs?: number; log?: (line: string) => void } = {}): { stop(): void; idle(): Promise<void> } {
  const log = options.log ?? (() => {});
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = (async () => {
      try {
        const r = await creditPoints(store, ws, clock.now());
        if (r.orders + r.refunds + r.bonuses > 0) log(`Loyalty: ${r.orders} orders, ${r.refunds} refunds, ${r.bonuses} bonuses credited (${r.points} points).`);
      } catch (err) {
        log(`Loyalty: pass failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        running = undefined;
      }
    })();
  };
  const timer = setInterval(tick, options.everyMs ?? 60_000);
  timer.unref();
  tick();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
    async idle() {
      await running;
    },
  };
}
