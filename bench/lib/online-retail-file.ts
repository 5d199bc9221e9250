/**
 * Writes a seeded, deterministic CSV in the UCI Online Retail layout:
 * InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country.
 * Invoices are runs of 1–40 consecutive lines; about 8 % are returns (InvoiceNo
 * C…, negative quantities, 1–5 lines); about 20 % are guest invoices (empty
 * CustomerID). Customers: about one per 20 lines (50,000 for 1,000,000 lines).
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { Rng } from "./rng.ts";

export interface OnlineRetailStats {
  /** Data lines, not counting the header. */
  lines: number;
  bytes: number;
  invoices: number;
  orders: number;
  returns: number;
  guestInvoices: number;
  /** Lines of non-return invoices: each becomes one order line. */
  orderLines: number;
  customers: number;
  quotedDescriptions: number;
}

const WORDS = [
  "WHITE", "HANGING", "HEART", "T-LIGHT", "HOLDER", "LANTERN", "CREAM", "CUPID", "HEARTS", "COAT", "HANGER",
  "KNITTED", "UNION", "FLAG", "HOT", "WATER", "BOTTLE", "RED", "WOOLLY", "HOTTIE", "SET", "OF", "7", "BABUSHKA",
  "NESTING", "BOXES", "GLASS", "STAR", "FROSTED", "HAND", "WARMER", "POLKADOT", "VINTAGE", "RETROSPOT", "CAKE",
  "TINS", "PANTRY", "DESIGN", "LUNCH", "BAG", "JUMBO", "SHOPPER", "ALARM", "CLOCK", "BAKELIKE", "PINK", "GREEN",
  "BLUE", "IVORY", "PAPER", "CHAIN", "KIT", "50'S", "CHRISTMAS", "REGENCY", "CAKESTAND", "3", "TIER", "DOORMAT",
  "NEW", "ENGLAND", "PARTY", "BUNTING", "WOODEN", "PICTURE", "FRAME", "ASSORTED", "COLOUR", "BIRD", "ORNAMENT",
];
const COUNTRIES: readonly [string, number][] = [
  ["United Kingdom", 0.85], ["Germany", 0.03], ["France", 0.03], ["EIRE", 0.02], ["Spain", 0.01], ["Netherlands", 0.01],
  ["Belgium", 0.01], ["Switzerland", 0.01], ["Portugal", 0.01], ["Australia", 0.01], ["Norway", 0.01],
];
const PRICES = ["0.29", "0.42", "0.55", "0.65", "0.85", "1.25", "1.45", "1.65", "1.95", "2.10", "2.55", "2.95", "3.39", "3.75", "4.25", "4.95", "5.95", "7.95", "8.50", "12.75", "14.95", "24.95"];
const BIG_QUANTITIES = [24, 36, 48, 72, 96, 120, 144];

interface Product {
  code: string;
  description: string;
  price: string;
}

function catalogue(rng: Rng, size: number): Product[] {
  const products: Product[] = [];
  for (let i = 0; i < size; i++) {
    const n = rng.int(2, 6);
    const words: string[] = [];
    for (let w = 0; w < n; w++) words.push(rng.pick(WORDS));
    let description = words.join(" ");
    // A few descriptions hold a comma, so the file needs CSV quoting as the real one does.
    if (rng.chance(0.03)) description = `"${words.slice(0, 2).join(" ")}, ${words.slice(2).join(" ") || "DESIGN"}"`;
    const suffix = rng.chance(0.3) ? rng.pick(["A", "B", "C", "D", "E", "F", "G", "L", "N", "P", "S", "W"]) : "";
    products.push({ code: `${10000 + i * 7}${suffix}`, description, price: rng.pick(PRICES) });
  }
  return products;
}

function country(rng: Rng): string {
  let u = rng.next();
  for (const [name, weight] of COUNTRIES) {
    if (u < weight) return name;
    u -= weight;
  }
  return "United Kingdom";
}

/** M/D/YYYY H:MM, as the UCI file writes its dates. */
function uciDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${d.getUTCHours()}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
}

export async function writeOnlineRetailFile(path: string, lines: number, seed: number): Promise<OnlineRetailStats> {
  const rng = new Rng(seed);
  const products = catalogue(rng, 4000);
  const targetCustomers = Math.max(50, Math.round(lines / 20));
  // About 13.5 lines per invoice and 80 % of invoices with a customer: a new customer this often gives ~targetCustomers.
  const pNew = Math.min(1, targetCustomers / ((lines / 13.5) * 0.8));
  const customers: { id: string; country: string }[] = [];

  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  const stats: OnlineRetailStats = { lines: 0, bytes: 0, invoices: 0, orders: 0, returns: 0, guestInvoices: 0, orderLines: 0, customers: 0, quotedDescriptions: 0 };
  let chunk = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n";
  let invoiceNo = 536365;
  let clock = Date.UTC(2010, 11, 1, 8, 26);

  const write = async (text: string) => {
    stats.bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, "drain");
  };

  while (stats.lines < lines) {
    const isReturn = stats.invoices > 0 && rng.chance(0.08);
    const size = Math.min(lines - stats.lines, isReturn ? rng.int(1, 5) : 1 + Math.floor(40 * rng.next() ** 2));
    clock += rng.int(0, 12) * 60_000;
    const date = uciDate(clock);
    let customer: { id: string; country: string } | undefined;
    if (!rng.chance(0.2)) {
      if (customers.length === 0 || (!isReturn && customers.length < targetCustomers && rng.chance(pNew))) {
        customer = { id: String(12346 + customers.length), country: country(rng) };
        customers.push(customer);
      } else {
        // Earlier customers come back more often: loyal buyers.
        customer = customers[Math.floor(customers.length * rng.next() ** 1.5)];
      }
    }
    const invoice = isReturn ? `C${invoiceNo++}` : String(invoiceNo++);
    stats.invoices++;
    if (isReturn) stats.returns++;
    else {
      stats.orders++;
      stats.orderLines += size;
    }
    if (!customer) stats.guestInvoices++;
    const customerCol = customer ? `${customer.id},${customer.country}` : `,${country(rng)}`;
    for (let i = 0; i < size; i++) {
      const p = rng.pick(products);
      if (p.description.startsWith('"')) stats.quotedDescriptions++;
      let q = rng.chance(0.1) ? rng.pick(BIG_QUANTITIES) : rng.int(1, 12);
      if (isReturn) q = -rng.int(1, 6);
      chunk += `${invoice},${p.code},${p.description},${q},${date},${p.price},${customerCol}\n`;
    }
    stats.lines += size;
    if (chunk.length > 1 << 20) {
      await write(chunk);
      chunk = "";
    }
  }
  await write(chunk);
  out.end();
  await once(out, "finish");
  stats.customers = customers.length;
  return stats;
}
