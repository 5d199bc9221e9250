/**
 * The CDNOW 1/10 sample (data/cdnow/CDNOW_sample.txt: `master_id sample_id
 * date cds dollars`, no header) as purchases keyed by master id, for the
 * model tests.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dayNumber, type Purchase } from "../src/models/index.ts";

const FILE = fileURLToPath(new URL("../data/cdnow/CDNOW_sample.txt", import.meta.url));

export function readCdnowSample(): Purchase[] {
  const out: Purchase[] = [];
  for (const line of readFileSync(FILE, "utf8").split(/\r?\n/)) {
    const [masterId, , date, , dollars] = line.trim().split(/\s+/);
    if (!masterId || !date || dollars === undefined) continue;
    out.push({ customerId: masterId, day: dayNumber(date), amount: Number(dollars) });
  }
  return out;
}
