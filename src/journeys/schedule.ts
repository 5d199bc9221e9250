/**
 * The server's journey and delivery worker: every `everyMs` one runner pass
 * (new events, due wake-ups, time-based triggers) and one delivery pass
 * (due messages). A timer that does not keep the process alive; one pass at
 * a time; errors are logged and the next tick tries again.
 */
import type { Store } from "../store/index.ts";
import type { Clock } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { deliverDue, type DeliveryDeps } from "../messaging/index.ts";
import { JourneyRunner } from "./runner.ts";

export interface JourneyWorker {
  stop(): void;
  /** Resolves when the pass in flight (if any) has finished. */
  idle(): Promise<void>;
}

export function scheduleJourneys(
  store: Store,
  ws: Workspace,
  clock: Clock,
  delivery: Omit<DeliveryDeps, "store" | "ws">,
  options: { everyMs?: number; log?: (line: string) => void; parallel?: number } = {},
): JourneyWorker {
  const runner = new JourneyRunner(store, ws);
  const log = options.log ?? (() => {});
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = (async () => {
      try {
        const r = await runner.runOnce(clock.now());
        if (r.entered > 0 || r.messages > 0) log(`Journeys: ${r.entered} entered, ${r.steps} steps, ${r.messages} messages queued.`);
        // Delivery drains what is due, a batch at a time.
        for (;;) {
          const d = await deliverDue({ store, ws, ...delivery }, clock.now(), 200, options.parallel ?? 5);
          if (d.sent + d.bounced + d.failed > 0 || d.retried > 0) log(`Messages: ${d.sent} sent, ${d.deferred} deferred, ${d.suppressed} held back, ${d.retried} to retry, ${d.bounced} bounced, ${d.failed} failed.`);
          if (d.sent + d.deferred + d.suppressed + d.retried + d.bounced + d.failed < 200 || stopped) break;
        }
      } catch (err) {
        log(`Journeys: pass failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        running = undefined;
      }
    })();
  };
  const timer = setInterval(tick, options.everyMs ?? 1000);
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
