/**
 * @module report — the retention report as one self-contained HTML file:
 * the figures of src/metrics, tables, a cohort heatmap and Chart.js charts,
 * with Chart.js itself inlined so the file opens anywhere, offline, and can
 * be mailed or archived as it is.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Clock } from "../shared/index.ts";
import { escapeHtml, formatMoney } from "../shared/index.ts";
import type { Queryable } from "../store/index.ts";
import type { Workspace } from "../workspaces/index.ts";
import {
  adviceReport,
  catalogueReport,
  channelReport,
  cohortReport,
  headlineReport,
  ladderReport,
  refundReport,
  retentionReport,
  seriesReport,
  type PeriodQuery,
  type OrderProjections,
} from "../metrics/index.ts";

/** JSON that cannot close the <script> element it sits in. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");

async function chartJsSource(): Promise<string> {
  const main = createRequire(import.meta.url).resolve("chart.js");
  return readFile(join(dirname(main), "chart.umd.min.js"), "utf8");
}

export interface ReportOptions extends PeriodQuery {
  /** Cost of winning a customer (minor units), for the budget advice. */
  cac?: number | undefined;
  /** Count the retention figures from memory rather than in SQL (same answers; faster on large shops). */
  projections?: OrderProjections | undefined;
}

/** The whole report for the period (default: the first order to today). */
export async function renderReport(db: Queryable, ws: Workspace, clock: Clock, options: ReportOptions = {}): Promise<string> {
  const period = { from: options.from, to: options.to };
  const p = options.projections;
  const headline = await headlineReport(db, ws, clock, { ...period, compare: "previous" }, p);
  const series = await seriesReport(db, ws, clock, { ...period, unit: "month" }, p);
  const retention = await retentionReport(db, ws, clock, { ...period, unit: "month" }, p);
  const cohorts = await cohortReport(db, ws, clock, period, p);
  const ladder = await ladderReport(db, ws, { max: 10 }, p);
  const channels = await channelReport(db, ws, clock);
  const refunds = await refundReport(db, ws, clock, period);
  const catalogue = await catalogueReport(db, ws, clock, { ...period, limit: 20 });
  const advice = await adviceReport(db, ws, clock, { cac: options.cac });

  const money = (minor: number | null | undefined) => (minor === null || minor === undefined ? "—" : formatMoney(Math.round(minor), ws.currency));
  const pct = (x: number | null | undefined) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)} %`);
  const n = (x: number) => x.toLocaleString("en");
  const days = (x: number | null) => (x === null ? "—" : `${Math.round(x)} d`);
  const table = (head: string[], rows: string[][], numericFrom = 1) =>
    `<div class="scroll"><table><thead><tr>${head.map((h, i) => `<th${i >= numericFrom ? ' class="num"' : ""}>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${rows
      .map((r) => `<tr>${r.map((c, i) => `<td${i >= numericFrom ? ' class="num"' : ""}>${c}</td>`).join("")}</tr>`)
      .join("")}</tbody></table></div>`;

  const figures: [string, string][] = [
    ["Customers", n(headline.customers)],
    ["Orders", n(headline.orders)],
    ["Revenue", money(headline.revenue)],
    ["Repeat customer rate", pct(headline.repeatCustomerRate)],
    ["Purchase frequency", headline.purchaseFrequency === null ? "—" : headline.purchaseFrequency.toFixed(2)],
    ["Average order value", money(headline.averageOrderValue)],
    ["Customer value", money(headline.customerValue)],
    ["Revenue from returning customers", pct(headline.returningRevenueShare)],
  ];
  const width = Math.max(0, ...cohorts.cohorts.map((c) => c.cells.length));
  const heat = (s: number) => `background:rgba(79,70,229,${(0.06 + Math.min(1, s) * 0.85).toFixed(2)});color:${s > 0.45 ? "#fff" : "#111827"}`;
  const cohortTable = `<div class="scroll"><table class="heat"><thead><tr><th>Cohort</th><th class="num">Customers</th><th class="num">CLV to date</th>${Array.from(
    { length: width },
    (_, i) => `<th class="num">${i}</th>`,
  ).join("")}</tr></thead><tbody>${cohorts.cohorts
    .map(
      (c) =>
        `<tr><th>${c.cohort}</th><td class="num">${n(c.size)}</td><td class="num">${money(c.historicalClv)}</td>${c.cells
          .map((cell) => `<td class="num" style="${heat(cell.customerShare)}">${Math.round(cell.customerShare * 100)} %</td>`)
          .join("")}</tr>`,
    )
    .join("")}</tbody></table></div>`;

  const charts = {
    revenue: { type: "bar", labels: series.points.map((p) => p.label), series: [{ label: "Revenue", data: series.points.map((p) => p.revenue) }], format: "money" },
    activity: {
      type: "line",
      labels: series.points.map((p) => p.label),
      series: [
        { label: "Customers", data: series.points.map((p) => p.customers) },
        { label: "Orders", data: series.points.map((p) => p.orders) },
      ],
      format: "count",
    },
    retention: { type: "line", labels: retention.rows.map((r) => r.label), series: [{ label: "Retention rate", data: retention.rows.map((r) => r.retentionRate) }], format: "pct" },
    ladder: { type: "bar", labels: ladder.steps.map((s) => `${s.n} → ${s.n + 1}`), series: [{ label: "Share who ordered again", data: ladder.steps.map((s) => s.share) }], format: "pct" },
    channels: { type: "bar", labels: channels.channels.map((c) => c.channel), series: [{ label: "Repeat rate", data: channels.channels.map((c) => c.repeatRate) }], format: "pct" },
  };
  const minorDigits = new Intl.NumberFormat("en", { style: "currency", currency: ws.currency }).resolvedOptions().maximumFractionDigits ?? 2;

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Retention report ${escapeHtml(headline.from)} – ${escapeHtml(headline.to)}</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;background:#f8fafc;margin:0}
main{max-width:1100px;margin:0 auto;padding:1.5rem}
h1{margin:0 0 .25rem}h2{font-size:1.1rem;margin:0 0 .75rem}
.muted{color:#6b7280}.card{background:#fff;border:1px solid #e5e7eb;border-radius:.75rem;padding:1rem;margin:.75rem 0}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:.75rem}
.figure{background:#fff;border:1px solid #e5e7eb;border-radius:.75rem;padding:.8rem}.figure b{display:block;font-size:1.4rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:.75rem}
.chart{position:relative;height:240px}.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.88rem;font-variant-numeric:tabular-nums}
th,td{padding:.35rem .5rem;border-bottom:1px solid #e5e7eb;text-align:left;white-space:nowrap}.num{text-align:right}
.heat td{border:2px solid #fff;text-align:center}
</style></head><body><main>
<h1>Retention report</h1>
<p class="muted">${escapeHtml(headline.from)} to ${escapeHtml(headline.to)} · workspace ${escapeHtml(ws.id)} · amounts in ${escapeHtml(ws.currency)} · made by Fidelio on ${clock.now().toISOString().slice(0, 16).replace("T", " ")} UTC. Definitions: src/metrics/README.md.</p>
<section class="figures">${figures.map(([k, v]) => `<div class="figure"><span class="muted">${escapeHtml(k)}</span><b>${escapeHtml(v)}</b></div>`).join("")}</section>
<p class="muted">${n(headline.newCustomers)} new and ${n(headline.returningCustomers)} returning customers · ${n(headline.guestOrders)} guest orders · refunds ${n(headline.refunds.count)} (${money(headline.refunds.amount)})${
    headline.previous && headline.previous.orders > 0 ? ` · the ${escapeHtml(headline.previous.from)} – ${escapeHtml(headline.previous.to)} period before had ${n(headline.previous.customers)} customers and ${money(headline.previous.revenue)} revenue` : ""
  }</p>
<div class="grid">
<section class="card"><h2>Revenue by month</h2><div class="chart"><canvas data-chart="revenue"></canvas></div></section>
<section class="card"><h2>Customers and orders by month</h2><div class="chart"><canvas data-chart="activity"></canvas></div></section>
<section class="card"><h2>Retention from one month to the next</h2><div class="chart"><canvas data-chart="retention"></canvas></div></section>
<section class="card"><h2>Repeat ladder: chance of one more order</h2><div class="chart"><canvas data-chart="ladder"></canvas></div></section>
</div>
<section class="card"><h2>Cohorts: customers active by months since their first order</h2>${cohortTable}</section>
<section class="card"><h2>Repeat ladder</h2>${table(
    ["Orders so far", "Customers", "Made one more", "Share", "Median days to the next"],
    ladder.steps.map((s) => [String(s.n), n(s.customers), n(s.next), pct(s.share), days(s.medianDaysToNext)]),
  )}</section>
<section class="card"><h2>Acquisition channels</h2><div class="chart"><canvas data-chart="channels"></canvas></div>${table(
    ["Channel", "Customers", "Repeat rate", "AOV", "Revenue per customer after 365 days"],
    channels.channels.map((c) => [escapeHtml(c.channel), n(c.customers), pct(c.repeatRate), money(c.averageOrderValue), money(c.revenuePerCustomer.find((h) => h.days === 365)?.value)]),
  )}</section>
<section class="card"><h2>Refunds</h2><p>${pct(refunds.orderRefundRate)} of orders refunded; ${pct(refunds.revenueRefundRate)} of revenue (${money(refunds.refundedAmount)}).</p>${table(
    ["Category", "Sold", "Refunded", "Rate"],
    refunds.byCategory.map((c) => [escapeHtml(c.category), money(c.soldAmount), money(c.refundedAmount), pct(c.rate)]),
  )}</section>
<section class="card"><h2>Catalogue</h2><p>${pct(catalogue.replenishableShare)} of revenue comes from products the same customer buys again; typical re-buy interval ${days(catalogue.medianRebuyDays)}.</p>${table(
    ["Product", "Revenue", "Buyers", "Re-buy rate", "Median re-buy days"],
    catalogue.products.map((p) => [escapeHtml(p.title ?? p.productId), money(p.revenue), n(p.buyers), pct(p.rebuyRate), days(p.medianRebuyDays)]),
  )}</section>
<section class="card"><h2>Budget advice: ${pct(advice.retentionShare)} on retention, ${pct(advice.acquisitionShare)} on acquisition</h2><ol>${advice.reasoning
    .map((r) => `<li>${escapeHtml(r)}</li>`)
    .join("")}</ol></section>
</main>
<script type="application/json" id="charts">${scriptJson(charts)}</script>
<script>${await chartJsSource()}</script>
<script>
(function () {
  var data = JSON.parse(document.getElementById("charts").textContent);
  var digits = ${minorDigits};
  var money = new Intl.NumberFormat("en", { style: "currency", currency: ${scriptJson(ws.currency)}, notation: "compact" });
  var fmt = {
    money: function (v) { return money.format(v / Math.pow(10, digits)); },
    count: function (v) { return Number(v).toLocaleString("en"); },
    pct: function (v) { return Math.round(v * 100) + " %"; }
  };
  var colors = ["#4f46e5", "#0ea5e9", "#f59e0b", "#10b981"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var c = data[canvas.getAttribute("data-chart")];
    var f = fmt[c.format];
    new Chart(canvas, {
      type: c.type,
      data: { labels: c.labels, datasets: c.series.map(function (s, i) { return { label: s.label, data: s.data, borderColor: colors[i], backgroundColor: c.type === "bar" ? colors[i] : colors[i] + "22", tension: 0.25, spanGaps: true, pointRadius: 2 }; }) },
      options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { position: "bottom" }, tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + f(ctx.parsed.y); } } } }, scales: { y: { beginAtZero: true, ticks: { callback: function (v) { return f(v); } } } } }
    });
  });
})();
</script>
</body></html>
`;
}
