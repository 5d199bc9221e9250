import { parseArgs } from "node:util";

export type Part = "import" | "tracking" | "metrics" | "models" | "segments" | "journeys" | "loyalty";
export type StoreKind = "pglite" | "postgres";

export interface BenchArgs {
  lines: number;
  events: number;
  only: Part | undefined;
  stores: StoreKind[];
  seed: number;
  concurrency: number;
  batchSize: number;
  maxSeconds: number;
  parseOnly: boolean;
  customers: number;
  orders: number;
  runs: number;
  metricsSql: boolean;
  modelCustomers: number;
  segmentCustomers: number;
  rate: number;
  latencySeconds: number;
  journeyCustomers: number;
  emails: number;
  backtestCustomers: number;
  ledgerWrites: number;
  loyaltyMembers: number;
  ledgerEntries: number;
}

const USAGE = `usage: npm run bench -- [--lines N] [--events N] [--only import|tracking|metrics|models|segments|journeys|loyalty] [--store pglite|postgres]
                          [--concurrency N] [--batch N] [--max-seconds N] [--seed N] [--no-parse-only]
                          [--customers N] [--orders N] [--runs N] [--metrics-sql] [--model-customers N]
                          [--segment-customers N] [--rate N] [--latency-seconds N]
                          [--journey-customers N] [--emails N] [--backtest-customers N]
                          [--ledger-writes N] [--loyalty-members N] [--ledger-entries N]
  --lines N        CSV lines to generate and import (default 1,000,000)
  --events N       tracking events to send (default 100,000)
  --only PART      run one part: import, tracking, metrics, models, segments, journeys or loyalty
  --store KIND     run on one store only: pglite or postgres (default both)
  --concurrency N  tracking requests in flight (default 8)
  --batch N        tracking messages per /v1/batch request (default 100)
  --max-seconds N  stop sending tracking events after N seconds per store (default 150)
  --seed N         seed of the generated data (default 42)
  --no-parse-only  skip the import diagnostic run without a database
  --customers N    metrics: customers of the generated shop (default 1,000,000)
  --orders N       metrics: orders of the generated shop (default 10,000,000)
  --runs N         metrics: times each query (and the Overview page) is run (default 3)
  --metrics-sql    metrics: also time the SQL versions of the figures (minutes at 10,000,000 orders)
  --model-customers N  models: simulated customers to fit and score (default 1,000,000)
  --segment-customers N  segments: customers of the generated shop, with 10 orders and 20 events each (default 1,000,000)
  --rate N         segments: tracked events per second while measuring event-to-membership time (default 1,000)
  --latency-seconds N  segments: how long to send them (default 30)
  --journey-customers N  journeys: customers carried through a six-step journey (default 20,000; the engine alone: 10×)
  --emails N       journeys: emails delivered to a local SMTP server (default 3,000)
  --backtest-customers N  journeys: customers of the two-year shop the win-back is backtested on (default 100,000)
  --ledger-writes N  loyalty: ledger entries posted by 50 concurrent customers (default 20,000)
  --loyalty-members N  loyalty: members of the programme whose balances are read (default 1,000,000)
  --ledger-entries N  loyalty: ledger entries of that programme (default 20,000,000)`;

function count(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/[_,]/g, ""));
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name}: expected a whole number ≥ ${min}, got "${value}"\n${USAGE}`);
  return n;
}

export function readArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      lines: { type: "string" },
      events: { type: "string" },
      only: { type: "string" },
      store: { type: "string" },
      seed: { type: "string" },
      concurrency: { type: "string" },
      batch: { type: "string" },
      "max-seconds": { type: "string" },
      "no-parse-only": { type: "boolean" },
      "metrics-sql": { type: "boolean" },
      customers: { type: "string" },
      orders: { type: "string" },
      runs: { type: "string" },
      "model-customers": { type: "string" },
      "segment-customers": { type: "string" },
      rate: { type: "string" },
      "latency-seconds": { type: "string" },
      "journey-customers": { type: "string" },
      emails: { type: "string" },
      "backtest-customers": { type: "string" },
      "ledger-writes": { type: "string" },
      "loyalty-members": { type: "string" },
      "ledger-entries": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  let only: Part | undefined;
  if (values.only === "import" || values.only === "tracking" || values.only === "metrics" || values.only === "models" || values.only === "segments" || values.only === "journeys" || values.only === "loyalty") only = values.only;
  else if (values.only !== undefined) throw new Error(`--only: expected import, tracking, metrics, models, segments, journeys or loyalty, got "${values.only}"\n${USAGE}`);
  let stores: StoreKind[] = ["pglite", "postgres"];
  if (values.store === "pglite" || values.store === "postgres") stores = [values.store];
  else if (values.store !== undefined) throw new Error(`--store: expected pglite or postgres, got "${values.store}"\n${USAGE}`);
  return {
    lines: count("lines", values.lines, 1_000_000, 1),
    events: count("events", values.events, 100_000, 1),
    only,
    stores,
    seed: count("seed", values.seed, 42, 0),
    concurrency: count("concurrency", values.concurrency, 8, 1),
    batchSize: count("batch", values.batch, 100, 1),
    maxSeconds: count("max-seconds", values["max-seconds"], 150, 1),
    parseOnly: values["no-parse-only"] !== true,
    customers: count("customers", values.customers, 1_000_000, 1),
    orders: count("orders", values.orders, 10_000_000, 1),
    runs: count("runs", values.runs, 3, 1),
    metricsSql: values["metrics-sql"] === true,
    modelCustomers: count("model-customers", values["model-customers"], 1_000_000, 100),
    segmentCustomers: count("segment-customers", values["segment-customers"], 1_000_000, 1000),
    rate: count("rate", values.rate, 1000, 10),
    latencySeconds: count("latency-seconds", values["latency-seconds"], 30, 1),
    journeyCustomers: count("journey-customers", values["journey-customers"], 20_000, 10),
    emails: count("emails", values.emails, 3_000, 10),
    backtestCustomers: count("backtest-customers", values["backtest-customers"], 100_000, 100),
    ledgerWrites: count("ledger-writes", values["ledger-writes"], 20_000, 50),
    loyaltyMembers: count("loyalty-members", values["loyalty-members"], 1_000_000, 100),
    ledgerEntries: count("ledger-entries", values["ledger-entries"], 20_000_000, 100),
  };
}
