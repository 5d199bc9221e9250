/** `fidelio loyalty …`: the points programme from the command line. */
import { InvalidArgumentError, type Command } from "commander";
import { createReward, creditPoints, customerPoints, getLoyaltySettings, listRewards, postCustomerEntry, putLoyaltySettings, redeemReward } from "../loyalty/index.ts";
import { createPlan, issueCustomerToken, listPlans, referralsOf, runLoyaltyPass, wheelAudit } from "../loyalty/index.ts";
import { customerIdOf } from "../customers/index.ts";
import { formatMoney } from "../shared/index.ts";
import { dataDirOption, readJsonFile, withFidelio } from "./common.ts";
import type { Fidelio } from "../main.ts";
import { oneStep } from "./progress.ts";

const signedInt = (v: string) => {
  if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError("--points must be a whole number");
  return Number(v);
};

export function addLoyaltyCommands(program: Command): void {
  const loyalty = program.command("loyalty").description("the loyalty programme: points earned on orders, bonuses, balances");

  loyalty
    .command("settings")
    .description("show the programme's settings, or replace them from a JSON file; --enable / --disable switch it on or off")
    .option("--file <file>", "the settings as JSON (fields left out take their defaults)")
    .option("--enable", "switch the programme on (orders placed from now on earn)")
    .option("--disable", "switch it off")
    .option(...dataDirOption)
    .action(async (o: { file?: string; enable?: boolean; disable?: boolean; dataDir?: string }) => {
      const file = o.file ? await readJsonFile(o.file) : undefined;
      await withFidelio(o, async (f) => {
        const current = await getLoyaltySettings(f.store, f.workspace);
        const base = typeof file === "object" && file !== null ? file : current;
        const next = o.enable || o.disable ? { ...base, enabled: o.enable === true } : base;
        const s = file !== undefined || o.enable || o.disable ? await putLoyaltySettings(f.store, f.workspace, next, f.clock.now()) : current;
        console.log(JSON.stringify(s, null, 2));
      });
    });

  loyalty
    .command("balance")
    .description("a customer's points: balance, lifetime earned and spent, latest entries")
    .argument("<customer>", "external id")
    .option("--json", "as JSON")
    .option(...dataDirOption)
    .action(async (customer: string, o: { json?: boolean; dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const p = await customerPoints(f.store, f.workspace, customer, f.clock.now(), 20);
        if (o.json) return console.log(JSON.stringify(p, null, 2));
        console.log(`${p.externalId}: ${p.balance.toLocaleString("en")} points (earned ${p.earned.toLocaleString("en")}, spent ${p.spent.toLocaleString("en")})`);
        if (p.tier) console.log(`  tier: ${p.tier.tier?.name ?? "none"} — ${p.tier.message}`);
        if (p.membership) console.log(`  membership: ${p.membership.plan.name}, ${p.membership.status}${p.membership.cancelAtPeriodEnd ? " (cancelled)" : ""}, paid to ${p.membership.periodEnd.slice(0, 10)}`);
        for (const e of p.entries) console.log(`  ${e.createdAt.slice(0, 16).replace("T", " ")}  ${e.kind.padEnd(8)} ${String(e.points).padStart(8)} → ${String(e.balanceAfter).padStart(8)}  ${e.reason}${e.reference ? ` (${e.reference})` : ""}`);
      });
    });

  loyalty
    .command("post")
    .description("a manual entry: earn, redeem or adjust (signed); the same --key twice is written once")
    .argument("<customer>", "external id")
    .requiredOption("--kind <kind>", "earn, redeem or adjust")
    .requiredOption("--points <n>", "points (adjust may be negative)", signedInt)
    .requiredOption("--reason <text>", "why, shown in the history")
    .requiredOption("--key <key>", "idempotency key")
    .option(...dataDirOption)
    .action(async (customer: string, o: { kind: string; points: number; reason: string; key: string; dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const p = await postCustomerEntry(f.store, f.workspace, customer, { kind: o.kind, points: o.points, reason: o.reason, key: o.key }, f.clock.now());
        console.log(`${p.created ? "posted" : "already posted (same key)"}: ${p.kind} ${p.points}; balance ${p.balanceAfter}`);
      });
    });

  catalogueCommand(loyalty, {
    name: "rewards",
    description: "the rewards catalogue; --file adds one from JSON {name, kind, value?, productId?, cost, perCustomerLimit?, minTier?, membersOnly?}",
    list: (f) => listRewards(f.store, f.workspace),
    add: async (f, file) => {
      const r = await createReward(f.store, f.workspace, file, f.clock.now());
      return `added reward ${r.id} "${r.name}" for ${r.cost} points`;
    },
    line: (r) =>
      `${String(r.id).padStart(4)}  ${r.name.padEnd(30)} ${r.kind.padEnd(12)} ${String(r.cost).padStart(7)} points${r.perCustomerLimit ? `, ${r.perCustomerLimit} per customer` : ""}${r.minTier ? `, ${r.minTier} and above` : ""}${r.membersOnly ? ", paid members" : ""}${r.active ? "" : " (inactive)"}`,
  });

  loyalty
    .command("redeem")
    .description("redeem a reward for a customer: spends its cost, prints the code; the same --key answers the same code")
    .argument("<customer>", "external id")
    .requiredOption("--reward <id>", "reward id", (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError("--reward must be a reward id");
      return Number(v);
    })
    .requiredOption("--key <key>", "idempotency key")
    .option(...dataDirOption)
    .action(async (customer: string, o: { reward: number; key: string; dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const r = await redeemReward(f.store, f.workspace, customer, { rewardId: o.reward, key: o.key }, f.clock.now());
        console.log(`${r.created ? "redeemed" : "already redeemed (same key)"}: ${r.reward}, code ${r.code}; balance ${r.balanceAfter}`);
      });
    });

  loyalty
    .command("credit")
    .description("credit points now for orders past their return window, refunds and bonus events (the server does it every minute)")
    .option(...dataDirOption)
    .action(async (o: { dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const r = await oneStep("loyalty", "crediting orders, refunds and bonuses", () => creditPoints(f.store, f.workspace, f.clock.now()));
        console.log(`${r.orders} orders, ${r.refunds} refunds, ${r.bonuses} bonuses credited: ${r.points.toLocaleString("en")} points`);
      });
    });

  loyalty
    .command("run")
    .description("one pass of the loyalty worker now: earning, referrals, tiers, memberships, expiry (the server does it every minute)")
    .option(...dataDirOption)
    .action(async (o: { dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const lines = await oneStep("loyalty", "earning, referrals, tiers, memberships, expiry", () => runLoyaltyPass(f.store, f.workspace, f.clock.now()));
        console.log(lines.length > 0 ? lines.join("\n") : "Loyalty: nothing to do.");
      });
    });

  loyalty
    .command("referrals")
    .description("a customer as a referrer: their code, the link to share, and what became of their referrals")
    .argument("<customer>", "external id")
    .option("--json", "as JSON")
    .option(...dataDirOption)
    .action(async (customer: string, o: { json?: boolean; dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const r = await referralsOf(f.store, f.workspace, await customerIdOf(f.store, f.workspace, customer, "customer"), f.clock.now());
        if (o.json) return console.log(JSON.stringify(r, null, 2));
        console.log(`${customer}: code ${r.code}${r.link ? `, link ${r.link}` : ""}`);
        for (const x of r.referrals) console.log(`  ${x.createdAt.slice(0, 10)}  ${x.referee.padEnd(20)} ${x.status}${x.refusedWhy ? ` (${x.refusedWhy})` : ""}`);
      });
    });

  loyalty
    .command("wheel")
    .description("the spin-to-win audit: each prize's odds against how often it was drawn and won, and the stock left")
    .option("--json", "as JSON")
    .option(...dataDirOption)
    .action(async (o: { json?: boolean; dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const a = await wheelAudit(f.store, f.workspace);
        if (o.json) return console.log(JSON.stringify(a, null, 2));
        console.log(`${a.spins.toLocaleString("en")} spins; ${a.outOfStock} prizes drawn out of stock`);
        const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
        for (const p of a.prizes) console.log(`  ${p.id.padEnd(16)} odds ${p.odds.toFixed(2).padStart(6)} %  drawn ${String(p.drawn).padStart(7)} (${pct(p.drawnShare).padStart(8)})  won ${String(p.won).padStart(7)}${p.left === null ? "" : `  left ${p.left}`}`);
      });
    });

  catalogueCommand(loyalty, {
    name: "plans",
    description: "paid-membership plans; --file adds one from JSON {name, priceMinor, period: {unit, count}, perks}",
    list: (f) => listPlans(f.store, f.workspace),
    add: async (f, file) => {
      const p = await createPlan(f.store, f.workspace, file, f.clock.now());
      return `added plan ${p.id} "${p.name}": ${formatMoney(p.priceMinor, p.currency)} per ${p.period.count} ${p.period.unit}(s)`;
    },
    line: (p) => `${String(p.id).padStart(4)}  ${p.name.padEnd(24)} ${formatMoney(p.priceMinor, p.currency).padStart(10)} per ${p.period.count} ${p.period.unit}(s)${p.active ? "" : " (not offered)"}`,
  });

  loyalty
    .command("token")
    .description("a customer token for the storefront widget (HS256 JWT signed with the storefront secret)")
    .argument("<customer>", "external id")
    .option("--ttl <seconds>", "how long it lasts (60 to 2,592,000)", (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError("--ttl must be a number of seconds");
      return Number(v);
    })
    .option(...dataDirOption)
    .action(async (customer: string, o: { ttl?: number; dataDir?: string }) => {
      await withFidelio(o, async (f) => {
        const t = await issueCustomerToken(f.store, f.workspace, { customer, ...(o.ttl !== undefined ? { ttlSeconds: o.ttl } : {}) }, f.clock.now());
        console.log(t.token);
        console.error(`expires ${t.expiresAt}`);
      });
    });
}

/** A catalogue (rewards, plans): lists it, one line per item or as JSON; `--file` adds one from JSON. */
function catalogueCommand<T>(parent: Command, c: { name: string; description: string; list: (f: Fidelio) => Promise<T[]>; add: (f: Fidelio, file: unknown) => Promise<string>; line: (item: T) => string }): void {
  parent
    .command(c.name)
    .description(c.description)
    .option("--file <file>", "one to add, as JSON")
    .option("--json", "as JSON")
    .option(...dataDirOption)
    .action(async (o: { file?: string; json?: boolean; dataDir?: string }) => {
      const file = o.file ? await readJsonFile(o.file) : undefined;
      await withFidelio(o, async (f) => {
        if (file !== undefined) return console.log(await c.add(f, file));
        const list = await c.list(f);
        if (o.json) return console.log(JSON.stringify(list, null, 2));
        for (const item of list) console.log(c.line(item));
      });
    });
}
