/**
 * The process the crash test kills: it runs the journey runner and the
 * delivery worker over ten simulated days, on a PGlite data folder or a
 * PostgreSQL schema, sending to the test's SMTP server, one message at a time.
 *
 *   journey-crash-child.ts pglite <dataDir> <smtpUrl> <startIso>
 *   journey-crash-child.ts postgres <databaseUrl>#<schema> <smtpUrl> <startIso>
 */
import { openStore, PostgresStore, type Store } from "../src/store/index.ts";
import { JourneyRunner } from "../src/journeys/index.ts";
import { deliverDue, httpWebhookChannel, smtpChannel } from "../src/messaging/index.ts";

const [mode, target, smtpUrl, start] = process.argv.slice(2);
if (!mode || !target || !smtpUrl || !start) throw new Error("usage: journey-crash-child.ts pglite|postgres <target> <smtpUrl> <startIso>");
const [url, schema] = target.split("#");
const store: Store = mode === "pglite" ? await openStore({ dataDir: target }) : new PostgresStore(url ?? "", { searchPath: schema ?? "public", max: 3 });
const ws = { id: "default", currency: "EUR" };
const runner = new JourneyRunner(store, ws, { batchSize: 25 });
const email = smtpChannel({ url: smtpUrl, pool: 1 });
const DAY = 86_400_000;
let now = Date.parse(start);
for (let day = 0; day < 10; day += 1) {
  await runner.runOnce(new Date(now));
  for (;;) {
    const d = await deliverDue(
      { store, ws, email, webhook: httpWebhookChannel(async () => "x", () => new Date(now)), baseUrl: "https://fidelio.example", from: "Shop <shop@example.com>", shopName: "Shop" },
      new Date(now),
      20,
      1,
    );
    if (d.sent + d.deferred + d.suppressed + d.retried + d.bounced + d.failed === 0) break;
  }
  process.stdout.write(`day ${day}\n`);
  now += DAY;
}
await email.close();
await store.close();
process.stdout.write("done\n");
