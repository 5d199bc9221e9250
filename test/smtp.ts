/**
 * A real SMTP server on a loopback port (`smtp-server`), for the tests: it
 * receives what Fidelio sends over the wire and keeps each message raw and
 * parsed. Recipients can be made to bounce (550 on RCPT TO) or to fail for
 * a while (451), as a mail server does.
 */
import { SMTPServer } from "smtp-server";
import { simpleParser, type ParsedMail } from "mailparser";

export interface Received {
  raw: string;
  parsed: ParsedMail;
  to: string;
  from: string;
}

export interface TestSmtp {
  url: string;
  port: number;
  received: Received[];
  /** Addresses refused for good (550). */
  bounce: Set<string>;
  /** Addresses refused for now (451) while the number is above zero; each refusal counts one down. */
  tempFail: Map<string, number>;
  /** Resolves when at least n messages have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startSmtp(): Promise<TestSmtp> {
  const received: Received[] = [];
  const bounce = new Set<string>();
  const tempFail = new Map<string, number>();
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onRcptTo(address, _session, callback) {
      const to = address.address.toLowerCase();
      if (bounce.has(to)) {
        const err = Object.assign(new Error("5.1.1 mailbox unavailable"), { responseCode: 550 });
        callback(err);
        return;
      }
      const left = tempFail.get(to) ?? 0;
      if (left > 0) {
        tempFail.set(to, left - 1);
        callback(Object.assign(new Error("4.7.1 try again later"), { responseCode: 451 }));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        simpleParser(raw)
          .then((parsed) => {
            received.push({ raw, parsed, to: session.envelope.rcptTo.map((r) => r.address).join(","), from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "" });
            for (const w of [...waiters]) if (received.length >= w.n) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve();
            }
            callback();
          })
          .catch((err: unknown) => callback(err instanceof Error ? err : new Error(String(err))));
      });
    },
  });
  // A client killed mid-conversation (the crash test) resets its connection: that is expected, not a failure.
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    received,
    bounce,
    tempFail,
    waitFor(n, timeoutMs = 10_000) {
      if (received.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${n} messages arrived`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
