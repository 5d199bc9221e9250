/**
 * The composition root: configuration → store → workspace and keys → HTTP.
 * The only place that picks concrete implementations (PGlite or PostgreSQL,
 * the system clock).
 */
import type { Config } from "./config.ts";
import { openStore, scheduleMaintenance, type Store } from "./store/index.ts";
import { systemClock, type Clock } from "./shared/index.ts";
import { countApiKeys, createApiKey, ensureWorkspace, type Workspace } from "./workspaces/index.ts";
import { createApp, serve } from "./http/index.ts";
import { OrderProjections } from "./metrics/index.ts";
import { countAdmins, createAdmin, generatePassword } from "./admins/index.ts";
import { schedulePredictionRefresh } from "./predictions/index.ts";
import { ensureBuiltInSegments, scheduleSegments } from "./segments/index.ts";
import { scheduleJourneys } from "./journeys/index.ts";
import { scheduleLoyalty } from "./loyalty/index.ts";
import { httpWebhookChannel, signingSecret, smtpChannel, type EmailChannel } from "./messaging/index.ts";
import { readFileSync } from "node:fs";

export interface Fidelio {
  config: Config;
  store: Store;
  workspace: Workspace;
  clock: Clock;
}

/** Opens the store picked by the configuration and makes sure the workspace exists. */
export async function openFidelio(config: Config, clock: Clock = systemClock): Promise<Fidelio> {
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const workspace = await ensureWorkspace(store, config.workspace, config.currency);
    // Keys given in the environment are registered (idempotently) so deployments can fix them.
    if (config.adminKey) await createApiKey(store, workspace, "admin", "from FIDELIO_ADMIN_KEY", config.adminKey);
    if (config.writeKey) await createApiKey(store, workspace, "write", "from FIDELIO_WRITE_KEY", config.writeKey);
    await ensureBuiltInSegments(store, workspace, clock.now());
    return { config, store, workspace, clock };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** On first start (no key yet) creates one admin and one write key, returned in clear once. */
export async function ensureFirstKeys(f: Fidelio): Promise<{ admin: string; write: string } | undefined> {
  if ((await countApiKeys(f.store, f.workspace)) > 0) return undefined;
  return {
    admin: await createApiKey(f.store, f.workspace, "admin", "created at first start"),
    write: await createApiKey(f.store, f.workspace, "write", "created at first start"),
  };
}

/**
 * On first start (no dashboard admin yet) creates one, with the configured
 * email and password or a generated password, returned in clear once.
 */
export async function ensureFirstAdmin(f: Fidelio): Promise<{ email: string; password: string } | undefined> {
  if ((await countAdmins(f.store, f.workspace)) > 0) return undefined;
  const password = f.config.firstAdmin.password ?? generatePassword();
  const { email } = await createAdmin(f.store, f.workspace, { email: f.config.firstAdmin.email, password }, f.clock.now());
  return { email, password };
}

/** The email channel the configuration asks for: SMTP (with DKIM when configured), or none. */
export function emailChannelOf(config: Config): EmailChannel | undefined {
  const e = config.email;
  if (!e.smtpUrl) return undefined;
  const dkim = e.dkim ? { domainName: e.dkim.domain, keySelector: e.dkim.selector, privateKey: readFileSync(e.dkim.privateKeyFile, "utf8") } : undefined;
  return smtpChannel({ url: e.smtpUrl, pool: e.pool, dkim });
}

export async function startServer(f: Fidelio): Promise<{ url: string; close: () => Promise<void> }> {
  const host = f.config.host === "0.0.0.0" || f.config.host === "::" ? "localhost" : f.config.host;
  // Links in messages need an address before the port is known when it is 0 (tests): the configured one, else this host.
  let baseUrl = f.config.publicUrl ?? `http://${host}:${f.config.port}`;
  const orderProjections = new OrderProjections(f.store);
  const app = createApp({
    orderProjections,
    store: f.store,
    clock: f.clock,
    workspace: f.workspace,
    maxBodyBytes: f.config.maxBodyBytes,
    shopifyWebhookSecret: f.config.shopifyWebhookSecret,
    publicUrl: f.config.publicUrl,
    site: {
      shopName: f.config.shopName,
      get baseUrl() {
        return baseUrl;
      },
    },
  });
  const server = await serve(app, f.config.port, f.config.host);
  // The retention figures are counted from every order in memory: read them
  // now, so the dashboard's first visit does not wait for it (a large shop
  // takes seconds; requests that come before wait for this same read).
  const loadStarted = performance.now();
  orderProjections.current(f.workspace).then(
    (p) => console.log(`analytics: ${p.orders.length.toLocaleString("en")} orders in memory in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`),
    (err: unknown) => console.error(`analytics: could not read the orders (${err instanceof Error ? err.message : String(err)}); the first request will try again`),
  );
  baseUrl = f.config.publicUrl ?? `http://${host}:${server.port}`;
  const stopSchedule =
    f.config.scoreEveryHours > 0
      ? schedulePredictionRefresh(f.store, f.workspace, f.clock, { everyMs: f.config.scoreEveryHours * 3_600_000, log: (line) => console.log(line) })
      : () => {};
  const segmentWorker =
    f.config.segmentsEveryMinutes > 0
      ? scheduleSegments(f.store, f.workspace, f.clock, { fullEveryMs: f.config.segmentsEveryMinutes * 60_000, log: (line) => console.log(line) })
      : undefined;
  const email = emailChannelOf(f.config);
  const journeyWorker =
    f.config.journeysEverySeconds > 0
      ? scheduleJourneys(
          f.store,
          f.workspace,
          f.clock,
          {
            email,
            webhook: httpWebhookChannel(() => signingSecret(f.store, f.workspace.id), () => f.clock.now()),
            baseUrl,
            from: f.config.email.from,
            shopName: f.config.shopName,
          },
          { everyMs: f.config.journeysEverySeconds * 1000, log: (line) => console.log(line), parallel: f.config.email.pool },
        )
      : undefined;
  // PGlite has no autovacuum; a PostgreSQL server's does this itself.
  const maintenanceWorker =
    f.store.kind === "pglite" && f.config.maintenanceEveryMinutes > 0
      ? scheduleMaintenance(f.store, { everyMs: f.config.maintenanceEveryMinutes * 60_000, log: (line) => console.log(line) })
      : undefined;
  const loyaltyWorker = f.config.loyaltyEverySeconds > 0 ? scheduleLoyalty(f.store, f.workspace, f.clock, { everyMs: f.config.loyaltyEverySeconds * 1000, log: (line) => console.log(line) }) : undefined;
  return {
    url: `http://${host}:${server.port}/`,
    close: async () => {
      stopSchedule();
      segmentWorker?.stop();
      journeyWorker?.stop();
      loyaltyWorker?.stop();
      maintenanceWorker?.stop();
      await loyaltyWorker?.idle();
      await maintenanceWorker?.idle();
      await segmentWorker?.idle();
      await journeyWorker?.idle();
      await email?.close();
      await server.close();
    },
  };
}
