import { generateDemo } from "./src/demo/index.ts";
import { summarisePurchases, fitBgNbd, fitGammaGamma, validateModel } from "./src/models/index.ts";
const end = new Date("2026-11-23");
const purchases = [];
for (const it of generateDemo({ customers: 3000, seed: 42, end })) {
  for (const o of it.orders) if (o.customer) purchases.push({ customerId: it.customer!.externalId!, day: Math.floor(o.placedAt.getTime() / 86400000), amount: o.totalMinor / 100 });
}
const first = Math.min(...purchases.map(p => p.day));
const last = Math.max(...purchases.map(p => p.day));
const ce = first + Math.floor(0.75*(last-first));
const s = summarisePurchases(purchases, { unit: "week", calibrationEnd: ce });
let t0 = Date.now();
const r = fitBgNbd(s, { maxEvaluations: 4000, restarts: 2 });
console.log("bg", Date.now()-t0, r.iterations, r.params); t0 = Date.now();
const g = fitGammaGamma(s.filter(c=>c.x>0&&c.m_x>0), { maxEvaluations: 4000, restarts: 2 });
console.log("gg", Date.now()-t0); t0 = Date.now();
validateModel({kind:"bg-nbd", params: r.params}, purchases, {unit:"week", calibrationEnd: ce, holdoutEnd: last});
console.log("val", Date.now()-t0);
