/** The headline figures as a table a person reads in a terminal. */
import { formatMoney } from "../shared/index.ts";
import type { HeadlineMetrics, HeadlineReport } from "../metrics/index.ts";

const count = (n: number) => n.toLocaleString("en");
const pct = (x: number | null) => (x === null ? "—" : `${(x * 100).toFixed(1)} %`);
const num = (x: number | null, digits = 2) => (x === null ? "—" : x.toFixed(digits));

function rowsOf(m: HeadlineMetrics): [string, string][] {
  const money = (x: number | null) => (x === null ? "—" : formatMoney(Math.round(x), m.currency));
  return [
    ["customers", count(m.customers)],
    ["  new / returning", `${count(m.newCustomers)} / ${count(m.returningCustomers)}`],
    ["orders", count(m.orders)],
    ["  of which guest orders", count(m.guestOrders)],
    ["revenue", money(m.revenue)],
    ["refunds", `${count(m.refunds.count)} (${money(m.refunds.amount)})`],
    ["repeat customer rate", pct(m.repeatCustomerRate)],
    ["purchase frequency", num(m.purchaseFrequency)],
    ["average order value", money(m.averageOrderValue)],
    ["customer value", money(m.customerValue)],
    ["revenue from returning customers", pct(m.returningRevenueShare)],
  ];
}

export function headlineTable(m: HeadlineReport): string {
  const current = rowsOf(m);
  const previous = m.previous ? rowsOf(m.previous) : undefined;
  const heads = previous && m.previous ? ["", `${m.from} … ${m.to}`, `${m.previous.from} … ${m.previous.to}`] : ["", `${m.from} … ${m.to}`];
  const table = current.map(([label, value], i) => (previous ? [label, value, previous[i]?.[1] ?? ""] : [label, value]));
  const widths = heads.map((h, c) => Math.max(h.length, ...table.map((r) => (r[c] ?? "").length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join("   ");
  const out = [line(heads), widths.map((w) => "─".repeat(w)).join("   "), ...table.map(line)];
  if (m.otherCurrencyOrders > 0) out.push(`\n${count(m.otherCurrencyOrders)} orders in other currencies count as orders, not in revenue or AOV (${m.currency}).`);
  return out.join("\n");
}
