/**
 * Configuration is read here, once, from the environment and command-line
 * overrides, and passed to everything else. Nothing else reads process.env.
 */
import { z } from "zod";
import { resolve } from "node:path";
import { isCurrency } from "./shared/index.ts";

const Env = z.object({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL").optional(),
  FIDELIO_DATA_DIR: z.string().min(1).optional(),
  FIDELIO_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  FIDELIO_HOST: z.string().min(1).optional(),
  FIDELIO_WORKSPACE: z.string().regex(/^[a-z0-9_-]{1,40}$/, "lower-case letters, digits, _ or -").optional(),
  FIDELIO_CURRENCY: z.string().refine(isCurrency, "unknown ISO 4217 currency").optional(),
  FIDELIO_ADMIN_KEY: z.string().min(16, "at least 16 characters").optional(),
  FIDELIO_WRITE_KEY: z.string().min(16, "at least 16 characters").optional(),
  SHOPIFY_WEBHOOK_SECRET: z.string().min(1).optional(),
  FIDELIO_MAX_BODY_BYTES: z.coerce.number().int().positive().optional(),
  FIDELIO_DEMO: z.enum(["auto", "off"]).optional(),
  FIDELIO_ADMIN_EMAIL: z.email("is not an email address").optional(),
  FIDELIO_ADMIN_PASSWORD: z.string().min(12, "at least 12 characters").optional(),
  FIDELIO_PUBLIC_URL: z.url("must be a URL such as https://fidelio.example.com").optional(),
  FIDELIO_SCORE_EVERY_HOURS: z.coerce.number().min(0, "must be 0 (off) or more").max(24 * 365, "must be at most a year").optional(),
  FIDELIO_SEGMENTS_EVERY_MINUTES: z.coerce.number().min(0, "must be 0 (off) or more").max(24 * 60, "must be at most a day").optional(),
  FIDELIO_JOURNEYS_EVERY_SECONDS: z.coerce.number().min(0, "must be 0 (off) or more").max(3600, "must be at most an hour").optional(),
  FIDELIO_SHOP_NAME: z.string().trim().min(1).max(100).optional(),
  FIDELIO_LOYALTY_EVERY_SECONDS: z.coerce.number().min(0, "must be 0 (off) or more").max(86_400, "must be at most a day").optional(),
  FIDELIO_MAINTENANCE_EVERY_MINUTES: z.coerce.number().min(0, "must be 0 (off) or more").max(1_440, "must be at most a day").optional(),
  FIDELIO_SMTP_URL: z.string().regex(/^smtps?:\/\/[^/]+/, "must be an smtp:// or smtps:// URL, e.g. smtp://user:password@mail.example.com:587").optional(),
  FIDELIO_SMTP_POOL: z.coerce.number().int().min(1).max(50).optional(),
  FIDELIO_EMAIL_FROM: z.string().regex(/^(.+ )?<?[^@\s<>]+@[^@\s<>]+>?$/, 'must be an address, or "Name <address>"').optional(),
  FIDELIO_DKIM_DOMAIN: z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, "must be a domain name").optional(),
  FIDELIO_DKIM_SELECTOR: z.string().regex(/^[a-z0-9._-]+$/i, "must be a DNS label").optional(),
  FIDELIO_DKIM_PRIVATE_KEY_FILE: z.string().min(1).optional(),
});

export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  port: number;
  host: string;
  workspace: string;
  currency: string;
  adminKey: string | undefined;
  writeKey: string | undefined;
  shopifyWebhookSecret: string | undefined;
  /** Largest request body accepted (Segment's limit for a batch is 500 KB). */
  maxBodyBytes: number;
  /** `auto`: `fidelio start` loads the demo shop into an empty store. */
  demo: "auto" | "off";
  /** The dashboard admin created at first start (when there is none). */
  firstAdmin: { email: string; password: string | undefined };
  /** The address people use when a proxy sits in front (https → Secure cookies). */
  publicUrl: string | undefined;
  /** How often the server rescores every customer (refitting weekly); 0 = never. */
  scoreEveryHours: number;
  /** How often every segment is re-evaluated over every customer (time-relative rules); 0 turns the worker off. */
  segmentsEveryMinutes: number;
  /** How often the journey runner and the delivery worker pass; 0 turns them off. */
  journeysEverySeconds: number;
  /** How often the server credits loyalty points (orders past their return window, refunds, bonuses); 0 = never. */
  loyaltyEverySeconds: number;
  /** How often the server vacuums and analyzes the embedded store's tables that are due (PGlite has no autovacuum); 0 = never. Not used on PostgreSQL. */
  maintenanceEveryMinutes: number;
  /** The shop's name, shown in messages. */
  shopName: string;
  email: {
    /** Undefined: no SMTP server; email waits in the outbox. */
    smtpUrl: string | undefined;
    pool: number;
    from: string;
    dkim: { domain: string; selector: string; privateKeyFile: string } | undefined;
  };
}

export interface ConfigOverrides {
  dataDir?: string | undefined;
  port?: number | undefined;
  host?: string | undefined;
}

export class ConfigError extends Error {}

/** DKIM needs all three settings or none. */
function dkimOf(domain: string | undefined, selector: string | undefined, privateKeyFile: string | undefined): Config["email"]["dkim"] {
  if (domain === undefined && selector === undefined && privateKeyFile === undefined) return undefined;
  if (!domain || !selector || !privateKeyFile) {
    const missing = !domain ? "FIDELIO_DKIM_DOMAIN" : !selector ? "FIDELIO_DKIM_SELECTOR" : "FIDELIO_DKIM_PRIVATE_KEY_FILE";
    throw new ConfigError(`configuration: ${missing}: is required when DKIM signing is configured (FIDELIO_DKIM_DOMAIN, FIDELIO_DKIM_SELECTOR, FIDELIO_DKIM_PRIVATE_KEY_FILE)`);
  }
  return { domain, selector, privateKeyFile: resolve(privateKeyFile) };
}

/** The process's configuration: its environment plus command-line overrides. */
export function readConfig(overrides: ConfigOverrides = {}): Config {
  return loadConfig(process.env, overrides);
}

export function loadConfig(env: Record<string, string | undefined>, overrides: ConfigOverrides = {}): Config {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue ? String(issue.path[0] ?? "") : "";
    throw new ConfigError(`configuration: ${name}: ${issue?.message ?? "invalid"}`);
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir: resolve(overrides.dataDir ?? e.FIDELIO_DATA_DIR ?? ".fidelio"),
    port: overrides.port ?? e.FIDELIO_PORT ?? e.PORT ?? 3700,
    host: overrides.host ?? e.FIDELIO_HOST ?? "127.0.0.1",
    workspace: e.FIDELIO_WORKSPACE ?? "default",
    currency: e.FIDELIO_CURRENCY ?? "EUR",
    adminKey: e.FIDELIO_ADMIN_KEY,
    writeKey: e.FIDELIO_WRITE_KEY,
    shopifyWebhookSecret: e.SHOPIFY_WEBHOOK_SECRET,
    maxBodyBytes: e.FIDELIO_MAX_BODY_BYTES ?? 500 * 1024,
    demo: e.FIDELIO_DEMO ?? "auto",
    firstAdmin: { email: e.FIDELIO_ADMIN_EMAIL ?? "admin@fidelio.local", password: e.FIDELIO_ADMIN_PASSWORD },
    publicUrl: e.FIDELIO_PUBLIC_URL,
    scoreEveryHours: e.FIDELIO_SCORE_EVERY_HOURS ?? 24,
    segmentsEveryMinutes: e.FIDELIO_SEGMENTS_EVERY_MINUTES ?? 15,
    journeysEverySeconds: e.FIDELIO_JOURNEYS_EVERY_SECONDS ?? 5,
    loyaltyEverySeconds: e.FIDELIO_LOYALTY_EVERY_SECONDS ?? 60,
    maintenanceEveryMinutes: e.FIDELIO_MAINTENANCE_EVERY_MINUTES ?? 10,
    shopName: e.FIDELIO_SHOP_NAME ?? "Our shop",
    email: {
      smtpUrl: e.FIDELIO_SMTP_URL,
      pool: e.FIDELIO_SMTP_POOL ?? 5,
      from: e.FIDELIO_EMAIL_FROM ?? `${e.FIDELIO_SHOP_NAME ?? "Our shop"} <no-reply@localhost>`,
      dkim: dkimOf(e.FIDELIO_DKIM_DOMAIN, e.FIDELIO_DKIM_SELECTOR, e.FIDELIO_DKIM_PRIVATE_KEY_FILE),
    },
  };
}
