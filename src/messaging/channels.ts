/**
 * The seam between the outbox and the outside world: one small interface per
 * kind of delivery, picked in `main.ts`. An error says whether trying again
 * may help (`temporary`), the address is dead (`bounce`), or the message
 * itself was refused (`permanent`).
 */
import nodemailer from "nodemailer";
import { createHmac } from "node:crypto";

export interface OutgoingEmail {
  from: string;
  replyTo?: string | undefined;
  to: string;
  subject: string;
  html: string;
  text: string;
  /** Stable per idempotency key, so a receiving system can tell a repeat. */
  messageId: string;
  headers: Record<string, string>;
  /** The Date header: when the message was sent, by the worker's clock. */
  date: Date;
}

export interface EmailChannel {
  readonly name: string;
  send(mail: OutgoingEmail): Promise<{ response: string }>;
  close(): Promise<void>;
}

export type DeliveryFailure = "temporary" | "bounce" | "permanent";

export class DeliveryError extends Error {
  constructor(
    readonly kind: DeliveryFailure,
    message: string,
  ) {
    super(message);
    this.name = "DeliveryError";
  }
}

export interface SmtpOptions {
  /** smtp://user:pass@host:587 (STARTTLS when offered) or smtps://…:465 (TLS from the start). */
  url: string;
  /** Connections kept open and used in parallel. */
  pool: number;
  dkim?: { domainName: string; keySelector: string; privateKey: string } | undefined;
}

/** Sorts an SMTP client error: 4xx and network trouble are temporary; a 5xx on the recipient is a bounce. */
export function classifySmtpError(err: unknown): DeliveryError {
  const get = (k: string): unknown => (typeof err === "object" && err !== null ? Object.getOwnPropertyDescriptor(err, k)?.value : undefined);
  const code = get("responseCode");
  const command = String(get("command") ?? "");
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === "number" && code >= 500 && code < 600) return new DeliveryError(/^RCPT/i.test(command) ? "bounce" : "permanent", message);
  return new DeliveryError("temporary", message);
}

export function smtpChannel(options: SmtpOptions): EmailChannel {
  const u = new URL(options.url);
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: options.pool,
    host: u.hostname,
    port: u.port ? Number(u.port) : u.protocol === "smtps:" ? 465 : 587,
    secure: u.protocol === "smtps:",
    ...(u.username ? { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } } : {}),
    tls: { rejectUnauthorized: u.searchParams.get("rejectUnauthorized") !== "false" },
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
    ...(options.dkim ? { dkim: options.dkim } : {}),
  });
  return {
    name: `smtp ${u.hostname}:${u.port || (u.protocol === "smtps:" ? 465 : 587)}`,
    async send(mail) {
      try {
        const info = await transport.sendMail({
          from: mail.from,
          ...(mail.replyTo ? { replyTo: mail.replyTo } : {}),
          to: mail.to,
          subject: mail.subject,
          html: mail.html,
          text: mail.text,
          messageId: mail.messageId,
          headers: mail.headers,
          date: mail.date,
        });
        return { response: String(info.response) };
      } catch (err) {
        throw classifySmtpError(err);
      }
    },
    async close() {
      transport.close();
    },
  };
}

/** Holds email when no SMTP server is configured: nothing is lost, nothing is sent. */
export const noEmailChannel: EmailChannel = {
  name: "none",
  async send() {
    throw new DeliveryError("temporary", "no SMTP server is configured (FIDELIO_SMTP_URL)");
  },
  async close() {},
};

export interface WebhookChannel {
  post(url: string, body: unknown, idempotencyKey: string): Promise<{ status: number }>;
}

/**
 * Outgoing webhooks: JSON over HTTP POST, signed with the workspace secret
 * (`X-Fidelio-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`) and
 * carrying `Idempotency-Key`, so the receiver can check origin and drop a repeat.
 */
export function httpWebhookChannel(secret: () => Promise<string>, now: () => Date): WebhookChannel {
  return {
    async post(url, body, idempotencyKey) {
      const payload = JSON.stringify(body);
      const t = Math.floor(now().getTime() / 1000);
      const sig = createHmac("sha256", await secret()).update(`${t}.${payload}`).digest("hex");
      let res: Response;
      try {
        res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": idempotencyKey, "x-fidelio-signature": `t=${t},v1=${sig}` },
          body: payload,
          signal: AbortSignal.timeout(15_000),
        });
      } catch (err) {
        throw new DeliveryError("temporary", err instanceof Error ? err.message : String(err));
      }
      if (res.status >= 500 || res.status === 429 || res.status === 408) throw new DeliveryError("temporary", `HTTP ${res.status}`);
      if (res.status >= 400) throw new DeliveryError("permanent", `HTTP ${res.status}`);
      return { status: res.status };
    },
  };
}
