/**
 * Kill -9 in the middle of a run, restart, and check: no step and no
 * message is lost, none is carried out twice in the database, and every
 * message reaches the SMTP server. Delivery is at least once: dying between
 * the server's "250 accepted" and the commit that records it (a few
 * milliseconds) sends that one message again on restart, with the same
 * Message-ID. The test counts such repeats and allows at most one per kill
 * (the worker sends one message at a time here). Runs on PGlite (a data
 * folder the child process opens) and on PostgreSQL (a schema).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { databaseUrl } from "./helpers.ts";
import { startSmtp, type TestSmtp } from "./smtp.ts";
import { migrate, openStore, PostgresStore, type Store } from "../src/store/index.ts";
import { ensureWorkspace } from "../src/workspaces/index.ts";
import { processMessages, throwIfFailed, writeCustomers } from "../src/ingest/index.ts";
import { createJourney, setJourneyStatus } from "../src/journeys/index.ts";
import { putMessagingSettings } from "../src/messaging/index.ts";

const START = "2026-05-04T12:00:00.000Z";
const CUSTOMERS = 150;
const mail = (subject: string) => ({ subject, body: "<mj-section><mj-column><mj-text>{{ customer.first_name }}</mj-text></mj-column></mj-section>" });

let smtp: TestSmtp;
let dir: string;
let target: string;
let mode: "pglite" | "postgres";
let cleanupDb: () => Promise<void> = async () => {};

async function open(): Promise<Store> {
  if (mode === "pglite") return openStore({ dataDir: dir });
  const [url, schema] = target.split("#");
  return new PostgresStore(url ?? "", { searchPath: schema ?? "public", max: 2 });
}

beforeAll(async () => {
  smtp = await startSmtp();
  dir = await mkdtemp(join(tmpdir(), "fidelio-crash-"));
  if (databaseUrl) {
    mode = "postgres";
    const schema = `t_${randomBytes(6).toString("hex")}`;
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    target = `${databaseUrl}#${schema}`;
    cleanupDb = async () => {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
      await c.end();
    };
  } else {
    mode = "pglite";
    target = dir;
  }
  const store = await open();
  if (mode === "postgres") await migrate(store);
  const now = new Date(START);
  const ws = await ensureWorkspace(store, "default", "EUR");
  await putMessagingSettings(store, ws, { caps: { perDay: null, perWeek: null }, quietHours: null }, now);
  const j = await createJourney(
    store,
    ws,
    {
      name: "Three steps",
      definition: {
        trigger: { type: "event", event: "Ping" },
        start: "a",
        steps: [
          { id: "a", type: "send", channel: "email", email: mail("A"), next: "w1" },
          { id: "w1", type: "wait", duration: { days: 1 }, next: "b" },
          { id: "b", type: "send", channel: "email", email: mail("B"), next: "w2" },
          { id: "w2", type: "wait", duration: { days: 1 }, next: "c" },
          { id: "c", type: "send", channel: "email", email: mail("C") },
        ],
      },
    },
    now,
  );
  await setJourneyStatus(store, ws, j.id, "active", now);
  const ids = Array.from({ length: CUSTOMERS }, (_, i) => `c${i}`);
  await store.transaction((tx) => writeCustomers(tx, ws, ids.map((id) => ({ externalId: id, email: `${id}@example.com`, firstName: id, consents: [{ channel: "email" as const, granted: true }] })), "api", now));
  throwIfFailed(await processMessages(store, ws, ids.map((id) => ({ type: "track", userId: id, event: "Ping", messageId: `ping-${id}`, timestamp: START })), now));
  await store.close();
}, 120_000);

afterAll(async () => {
  await smtp.close();
  await cleanupDb();
  await rm(dir, { recursive: true, force: true });
});

function child(): { proc: ChildProcess; done: Promise<number | null> } {
  const proc = spawn(process.execPath, ["bin/run-ts.mjs", "test/journey-crash-child.ts", mode, target, smtp.url, START], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  proc.stderr?.on("data", (c: Buffer) => (err += c.toString()));
  const done = new Promise<number | null>((resolve) =>
    proc.on("exit", (code) => {
      if (code !== 0 && code !== null) console.error(err);
      resolve(code);
    }),
  );
  return { proc, done };
}

describe("kill -9 mid-run", () => {
  it("restarts without losing or repeating a step or a send", async () => {
    let kills = 0;
    // Two kills at random moments while messages are flowing, then a run to the end.
    for (const after of [40 + Math.floor(Math.random() * 60), 200 + Math.floor(Math.random() * 80)]) {
      const c = child();
      const target = after;
      await smtp.waitFor(target, 60_000);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
      c.proc.kill("SIGKILL");
      await c.done;
      kills += 1;
    }
    const last = child();
    expect(await last.done).toBe(0);

    const ids = smtp.received.map((r) => r.parsed.messageId ?? "");
    const distinct = new Set(ids);
    expect(distinct.size).toBe(CUSTOMERS * 3); // nothing missing
    const repeats = ids.length - distinct.size;
    expect(repeats).toBeLessThanOrEqual(kills); // at most the message in flight at each kill
    for (let i = 0; i < CUSTOMERS; i += 1) {
      expect(new Set(smtp.received.filter((r) => r.to === `c${i}@example.com`).map((r) => r.parsed.subject))).toEqual(new Set(["A", "B", "C"]));
    }
    const store = await open();
    try {
      const steps = await store.query<{ step: string; n: number }>("SELECT step, count(*)::int AS n FROM journey_step_log WHERE what = 'reached' GROUP BY step ORDER BY step");
      expect(steps).toEqual(["a", "b", "c", "w1", "w2"].map((step) => ({ step, n: CUSTOMERS }))); // no step repeated
      const messages = await store.query<{ status: string; n: number }>("SELECT status, count(*)::int AS n FROM messages GROUP BY status");
      expect(messages).toEqual([{ status: "sent", n: CUSTOMERS * 3 }]);
      const enrolments = await store.query<{ status: string; n: number }>("SELECT status, count(*)::int AS n FROM journey_enrolments GROUP BY status");
      expect(enrolments).toEqual([{ status: "done", n: CUSTOMERS }]);
    } finally {
      await store.close();
    }
  }, 240_000);
});
