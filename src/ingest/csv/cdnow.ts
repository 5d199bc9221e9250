/**
 * The CDNOW purchase logs used by Fader, Hardie & Lee (2005) and the
 * Gamma-Gamma papers. Whitespace-separated, one purchase per line, amounts in
 * US dollars. Two layouts: the master file
 * (`customer_id date(YYYYMMDD) number_of_cds dollar_value`, with a header
 * line) and the 1/10 sample (`master_id sample_id date cds value`, no header).
 * Customers keep their master id in both, so the two files agree.
 */
import type { ImportFormat, ImportItem } from "./format.ts";
import { col } from "./format.ts";
import { LineError, amount, instant, integer, lineErrorOf, required } from "./parse-fields.ts";
import { parseInput } from "../../shared/index.ts";
import { OrderRecord } from "../records.ts";

export const cdnow: ImportFormat = {
  name: "cdnow",
  description: "CDNOW logs: `customer_id date cds dollars` (master) or `master_id sample_id date cds dollars` (sample)",
  layout: "whitespace",
  columns: (n) => (n === 4 ? ["customer_id", "date", "cds", "dollars"] : n === 5 ? ["customer_id", "sample_id", "date", "cds", "dollars"] : undefined),
  start() {
    // Several purchases by one customer on one day are several lines; the
    // order id numbers them so a re-import finds the same ids.
    let lastKey = "";
    let seq = 0;
    return {
      row(f, line): ImportItem[] {
        try {
          const customerId = required(col(f, "customer_id"), "customer_id");
          if (!/^\d+$/.test(customerId)) {
            if (line === 1) return []; // the master file's header line
            throw new LineError("customer_id", `"${customerId}" is not a customer number`);
          }
          const dateText = required(col(f, "date"), "date");
          const placedAt = required(instant(dateText, "date"), "date");
          const cds = required(integer(col(f, "cds"), "cds"), "number_of_cds");
          if (cds <= 0) throw new LineError("number_of_cds", "must be positive");
          const dollars = required(amount(col(f, "dollars"), "USD", "dollar_value"), "dollar_value");
          if (dollars < 0) throw new LineError("dollar_value", "is negative");
          const id = String(Number(customerId));
          const key = `${id}:${dateText}`;
          seq = key === lastKey ? seq + 1 : 1;
          lastKey = key;
          const record = parseInput(OrderRecord, {
            externalId: `cdnow:${id}:${dateText}:${seq}`,
            customer: { externalId: id },
            placedAt,
            currency: "USD",
            lines: [{ productId: "cd", title: "CDs", quantity: cds, unitPriceMinor: Math.round(dollars / cds), totalMinor: dollars }],
          });
          return [{ kind: "order", line, record }];
        } catch (err) {
          return [lineErrorOf(line, err)];
        }
      },
      end: () => [],
    };
  },
};
