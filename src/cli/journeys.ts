/** `fidelio journeys …`: lifecycle journeys from the command line. */
import { InvalidArgumentError, type Command } from "commander";
import { AppError, formatMoney, isIsoDay } from "../shared/index.ts";
import {
  READY_MADE,
  JourneyRunner,
  backtestJourney,
  checkDefinitionIn,
  createJourney,
  customerMessages,
  getJourney,
  installReadyMade,
  journeyStats,
  listJourneys,
  setJourneyStatus,
  updateJourney,
  type BacktestReport,
  type Journey,
  type Outcome,
} from "../journeys/index.ts";
import { deliverDue, httpWebhookChannel, signingSecret } from "../messaging/index.ts";
import { emailChannelOf } from "../main.ts";
import { dataDirOption, readJsonFile, withFidelio } from "./common.ts";
import { progress } from "./progress.ts";

const idArg = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError("the journey id must be a positive whole number");
  return Number(v);
};
const dayOption = (name: string) => (v: string) => {
  if (!isIsoDay(v)) throw new InvalidArgumentError(`${name} must be a real date, YYYY-MM-DD`);
  return v;
};

function journeyLine(j: Journey): string {
  return `${String(j.id).padStart(4)}  ${j.name.padEnd(34)} ${j.status.padEnd(7)} v${String(j.version).padEnd(3)} ${j.definition.trigger.type.padEnd(13)} ${j.inside.toLocaleString("en").padStart(7)} inside`;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

function outcomeLine(label: string, o: Outcome, currency: string): string {
  return `  ${label.padEnd(22)} ${o.ordered.toLocaleString("en").padStart(7)} of ${o.customers.toLocaleString("en").padStart(7)} ordered (${pct(o.rate)}), ${o.orders.toLocaleString("en")} orders, ${formatMoney(o.revenueMinor, currency)}`;
}

export function backtestText(name: string, r: BacktestReport): string {
  const lines = [
    `Backtest of "${name}", ${r.from.slice(0, 10)} to ${r.to.slice(0, 10)} (${r.seconds.toFixed(1)} s)`,
    `  triggered ${r.triggered.toLocaleString("en")} times; entered ${r.entered.toLocaleString("en")} times by ${r.customers.toLocaleString("en")} customers; ${r.sent.toLocaleString("en")} messages would have been sent`,
    `  exits: ${Object.entries(r.exits)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n.toLocaleString("en")}`)
      .join(", ")}`,
    "",
    "  step                   reached      sent",
    ...r.steps.map((s) => `  ${s.step.padEnd(20)} ${s.reached.toLocaleString("en").padStart(9)} ${s.sent.toLocaleString("en").padStart(9)}`),
    "",
    "What those customers did next:",
    outcomeLine("within 7 days", r.outcome.within7, r.currency),
    outcomeLine("within 30 days", r.outcome.within30, r.currency),
  ];
  if (r.holdout) {
    lines.push("Holdout (sent nothing):", outcomeLine("within 7 days", r.holdout.within7, r.currency), outcomeLine("within 30 days", r.holdout.within30, r.currency));
  }
  if (r.messages.length > 0) {
    lines.push("", `First messages (${r.messages.length} of ${r.sent.toLocaleString("en")}):`);
    for (const m of r.messages.slice(0, 10)) lines.push(`  ${m.at.slice(0, 16).replace("T", " ")}  ${m.customer.padEnd(20)} ${m.step.padEnd(14)} ${m.subject}`);
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join("\n");
}

export function addJourneyCommands(program: Command): void {
  const journeys = program.command("journeys").description("lifecycle journeys: triggers, waits, branches and messages; backtests on the shop's history");

  journeys
    .command("list")
    .description("every journey with its state")
    .option("--json", "as JSON")
    .option(...dataDirOption)
    .action(async (o: { json?: boolean; dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const list = await listJourneys(f.store, f.workspace);
        console.log(o.json ? JSON.stringify(list, null, 2) : ["  id  name                               status  ver  trigger        customers", ...list.map(journeyLine)].join("\n"));
      });
    });

  journeys
    .command("ready-made")
    .description("the ready-made journeys that can be installed")
    .action(() => {
      for (const r of READY_MADE) console.log(`${r.key.padEnd(18)} ${r.name}\n${" ".repeat(19)}${r.description}`);
    });

  journeys
    .command("install")
    .description("install a ready-made journey as a draft (see `journeys ready-made`)")
    .argument("<key>", "e.g. win-back")
    .option(...dataDirOption)
    .action(async (key: string, o: { dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const j = await installReadyMade(f.store, f.workspace, key, f.clock.now());
        console.log(`installed journey ${j.id} "${j.name}" as a draft; activate it with: fidelio journeys activate ${j.id}`);
      });
    });

  journeys
    .command("show")
    .description("a journey: its definition and state")
    .argument("<id>", "journey id", idArg)
    .option("--json", "as JSON")
    .option(...dataDirOption)
    .action(async (id: number, o: { json?: boolean; dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const j = await getJourney(f.store, f.workspace, id);
        console.log(o.json ? JSON.stringify(j, null, 2) : `${journeyLine(j)}\n${j.description ? `${j.description}\n` : ""}definition: ${JSON.stringify(j.definition, null, 2)}`);
      });
    });

  journeys
    .command("create")
    .description("draft a journey from a JSON file {name, description?, definition}")
    .requiredOption("--file <file>", "the journey as JSON")
    .option("--name <name>", "name (when the file holds only the definition, or to override)")
    .option(...dataDirOption)
    .action(async (o: { file: string; name?: string; dataDir?: string }) => {
      const body = await readJsonFile(o.file);
      const input = typeof body === "object" && body !== null && "definition" in body ? { ...body, ...(o.name ? { name: o.name } : {}) } : { name: o.name, definition: body };
      await withFidelio(o, async (f) => {
        const j = await createJourney(f.store, f.workspace, input, f.clock.now());
        console.log(`created journey ${j.id} "${j.name}" (draft)`);
      });
    });

  journeys
    .command("update")
    .description("change a journey from a JSON file holding any of {name, description, definition}; a new definition is a new version")
    .argument("<id>", "journey id", idArg)
    .requiredOption("--file <file>", "the changes as JSON")
    .option(...dataDirOption)
    .action(async (id: number, o: { file: string; dataDir?: string }) => {
      const patch = await readJsonFile(o.file);
      await withFidelio(o, async (f) => {
        const j = await updateJourney(f.store, f.workspace, id, patch, f.clock.now());
        console.log(`updated journey ${j.id} "${j.name}", now version ${j.version}`);
      });
    });

  for (const [command, status, done] of [
    ["activate", "active", "activated"],
    ["pause", "paused", "paused"],
    ["delete", "archived", "archived (everyone inside stopped; history kept)"],
  ] as const) {
    journeys
      .command(command)
      .description(`${command} a journey`)
      .argument("<id>", "journey id", idArg)
      .option(...dataDirOption)
      .action(async (id: number, o: { dataDir?: string }) => {
        await withFidelio(o, async (f) => {
          await setJourneyStatus(f.store, f.workspace, id, status, f.clock.now());
          console.log(`journey ${id} ${done}`);
        });
      });
  }

  journeys
    .command("stats")
    .description("per-step counts: reached, waiting, sent, opened, clicked; conversions and exits")
    .argument("<id>", "journey id", idArg)
    .option("--json", "as JSON")
    .option(...dataDirOption)
    .action(async (id: number, o: { json?: boolean; dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const s = await journeyStats(f.store, f.workspace, id, f.clock.now());
        if (o.json) return console.log(JSON.stringify(s, null, 2));
        console.log(`entered ${s.entered}, inside ${s.inside}, converted ${s.converted}, holdout ${s.holdout}`);
        console.log("  step                 reached  waiting     sent   opened  clicked");
        for (const x of s.steps) console.log(`  ${x.step.padEnd(18)} ${[x.reached, x.waiting, x.sent, x.opened, x.clicked].map((n) => String(n).padStart(8)).join(" ")}`);
      });
    });

  journeys
    .command("backtest")
    .description("replay the stored history through a journey on a simulated clock: whom it would have entered, what it would have sent, what they did next. Sends nothing.")
    .argument("<id>", "journey id (draft or active)", idArg)
    .requiredOption("--from <date>", "first day, YYYY-MM-DD", dayOption("--from"))
    .requiredOption("--to <date>", "last day, YYYY-MM-DD", dayOption("--to"))
    .option("--file <file>", "a draft definition to try instead of the journey's current version")
    .option("--json", "as JSON")
    .option(...dataDirOption)
    .action(async (id: number, o: { from: string; to: string; file?: string; json?: boolean; dataDir?: string }) => {
      if (o.from > o.to) throw new AppError("invalid_input", "--to: is before --from", [{ field: "--to", message: "is before --from" }]);
      const draft = o.file ? await readJsonFile(o.file) : undefined;
      await withFidelio(o, async (f) => {
        const j = await getJourney(f.store, f.workspace, id);
        const checked = await checkDefinitionIn(f.store, f.workspace, draft ?? j.definition);
        const bar = progress("backtest");
        bar.update(0, 1, "reading the history");
        const report = await backtestJourney(f.store, f.workspace, checked, {
          from: new Date(`${o.from}T00:00:00Z`),
          to: new Date(`${o.to}T23:59:59.999Z`),
          onProgress: (done, total) => bar.update(done, total, `${done.toLocaleString("en")} of ${total.toLocaleString("en")} customers replayed`),
        });
        bar.stop();
        console.log(o.json ? JSON.stringify({ journey: { id: j.id, name: j.name, version: draft ? "draft" : j.version }, ...report }, null, 2) : backtestText(j.name, report));
      });
    });

  journeys
    .command("run")
    .description("one pass now: new events, due steps and time-based triggers, then deliver what is due (the server does this every few seconds)")
    .option(...dataDirOption)
    .action(async (o: { dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const r = await new JourneyRunner(f.store, f.workspace).runOnce(f.clock.now());
        console.log(`${r.events.toLocaleString("en")} events read, ${r.entered} entered, ${r.steps} steps, ${r.messages} messages queued`);
        const email = emailChannelOf(f.config);
        try {
          const d = await deliverDue(
            { store: f.store, ws: f.workspace, email, webhook: httpWebhookChannel(() => signingSecret(f.store, f.workspace.id), () => f.clock.now()), baseUrl: f.config.publicUrl ?? `http://localhost:${f.config.port}`, from: f.config.email.from, shopName: f.config.shopName },
            f.clock.now(),
            1000,
            f.config.email.pool,
          );
          console.log(`${d.sent} sent, ${d.deferred} deferred, ${d.suppressed} held back, ${d.retried} to retry, ${d.bounced} bounced, ${d.failed} failed${email ? "" : " (no SMTP server configured: email waits in the outbox)"}`);
        } finally {
          await email?.close();
        }
      });
    });

  journeys
    .command("messages")
    .description("a customer's messages, newest first")
    .argument("<customer>", "external id")
    .option("--json", "as JSON")
    .option(...dataDirOption)
    .action(async (customer: string, o: { json?: boolean; dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const list = await customerMessages(f.store, f.workspace, customer);
        if (o.json) return console.log(JSON.stringify(list, null, 2));
        for (const m of list) console.log(`${m.createdAt.slice(0, 16).replace("T", " ")}  ${m.status.padEnd(10)} ${(m.journey ?? "").padEnd(24)} ${m.subject ?? ""}${m.error ? `  (${m.error})` : ""}`);
      });
    });
}
