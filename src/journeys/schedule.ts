/**
 * The server's journey and delivery worker: every `everyMs` one runner pass
 * (new events, due wake-ups, time-based triggers) and delivery passes until
 * nothing is due (`repeatEvery`: one pass at a time, errors logged).
 */
import type { Store } from "../store/index.ts";
import { repeatEvery, type Clock, type Repeating } from "../shared/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import { deliverDue, type DeliveryDeps } from "../messaging/index.ts";
import { JourneyRunner } from "./runner.ts";

export type JourneyWorker = Repeating;

export function scheduleJourneys(
  store: Store,
  ws: Workspace,
  clock: Clock,
  delivery: Omit<DeliveryDeps, "store" | "ws">,
  options: { everyMs?: number; log?: (line: string) => void; parallel?: number } = {},
): JourneyWorker {
  const runner = new JourneyRunner(store, ws);
  const log = options.log ?? (() => {});
  let stopped = false;
  const worker = repeatEvery(
    options.everyMs ?? 1000,
    async () => {
      const r = await runner.runOnce(clock.now());
      if (r.entered > 0 || r.messages > 0) log(`Journeys: ${r.entered} entered, ${r.steps} steps, ${r.messages} messages queued.`);
      // Delivery drains what is due, a batch at a time.
      for (;;) {
        const d = await deliverDue({ store, ws, ...delivery }, clock.now(), 200, options.parallel ?? 5);
        if (d.sent + d.bounced + d.failed > 0 || d.retried > 0) log(`Messages: ${d.sent} sent, ${d.deferred} deferred, ${d.suppressed} held back, ${d.retried} to retry, ${d.bounced} bounced, ${d.failed} failed.`);
        if (d.sent + d.deferred + d.suppressed + d.retried + d.bounced + d.failed < 200 || stopped) break;
      }
    },
    (err) => log(`Journeys: pass failed: ${err instanceof Error ? err.message : String(err)}`),
  );
  return {
    stop() {
      stopped = true;
      worker.stop();
    },
    idle: () => worker.idle(),
  };
}
