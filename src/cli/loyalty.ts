/** `fidelio loyalty …`: the points programme from the command line. */
import { InvalidArgumentError, type Command } from "commander";
import { createReward, creditPoints, customerPoints, getLoyaltySettings, listRewards, postCustomerEntry, putLoyaltySettings, redeemReward } from "../loyalty/index.ts";
import { dataDirOption, readJsonFile, withFidelio } from "./common.ts";
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
        const p = await customerPoints(f.store, f.workspace, customer, 20);
        if (o.json) return console.log(JSON.stringify(p, null, 2));
        console.log(`${p.externalId}: ${p.balance.toLocaleString("en")} points (earned ${p.earned.toLocaleString("en")}, spent ${p.spent.toLocaleString("en")})`);
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

  loyalty
    .command("rewards")
    .description("the rewards catalogue; --file adds one from JSON {name, kind, value?, productId?, cost, perCustomerLimit?}")
    .option("--file <file>", "a reward to add")
    .option("--json", "as JSON")
    .option(...dataDirOption)
    .action(async (o: { file?: string; json?: boolean; dataDir?: string }) => {
      const file = o.file ? await readJsonFile(o.file) : undefined;
      await withFidelio(o, async (f) => {
        if (file !== undefined) {
          const r = await createReward(f.store, f.workspace, file, f.clock.now());
          console.log(`added reward ${r.id} "${r.name}" for ${r.cost} points`);
          return;
        }
        const list = await listRewards(f.store, f.workspace);
        if (o.json) return console.log(JSON.stringify(list, null, 2));
        for (const r of list) console.log(`${String(r.id).padStart(4)}  ${r.name.padEnd(30)} ${r.kind.padEnd(12)} ${String(r.cost).padStart(7)} points${r.perCustomerLimit ? `, ${r.perCustomerLimit} per customer` : ""}${r.active ? "" : " (inactive)"}`);
      });
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
}
