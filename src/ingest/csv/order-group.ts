import { parseInput } from "../../shared/index.ts";
import { OrderRecord, RefundRecord } from "../records.ts";
import type { ImportItem } from "./format.ts";
import { lineErrorOf } from "./parse-fields.ts";

/**
 * Collects the rows of one order (consecutive rows sharing a key) and turns
 * them into one record when the key changes. A key met again after its group
 * ended is reported: files must keep an order's rows together.
 */
export class OrderGrouper<Head, Line> {
  #key: string | undefined;
  #head: Head | undefined;
  #firstLine = 0;
  #lines: Line[] = [];
  readonly #done = new Set<string>();

  constructor(
    private readonly build: (head: Head, lines: Line[]) => { kind: "order"; raw: unknown } | { kind: "refund"; raw: unknown },
    /** How record fields are named in the file, for error reports. */
    private readonly columns: Record<string, string> = {},
  ) {}

  /** Adds a row; returns the finished previous group, if the key changed. */
  add(key: string, line: number, head: Head, lineRaw: Line | undefined): ImportItem[] {
    const out: ImportItem[] = [];
    if (key !== this.#key) {
      out.push(...this.flush());
      if (this.#done.has(key)) {
        return [...out, { kind: "error", line, field: "(order)", message: `rows of order "${key}" are not together: it appeared earlier in the file` }];
      }
      this.#key = key;
      this.#head = head;
      this.#firstLine = line;
    }
    if (lineRaw !== undefined) this.#lines.push(lineRaw);
    return out;
  }

  flush(): ImportItem[] {
    const key = this.#key;
    const head = this.#head;
    this.#key = undefined;
    this.#head = undefined;
    const lines = this.#lines;
    this.#lines = [];
    if (key === undefined || head === undefined) return [];
    this.#done.add(key);
    const line = this.#firstLine;
    try {
      const built = this.build(head, lines);
      if (built.kind === "order") return [{ kind: "order", line, record: parseInput(OrderRecord, built.raw) }];
      return [{ kind: "refund", line, record: parseInput(RefundRecord, built.raw) }];
    } catch (err) {
      return [lineErrorOf(line, err, this.columns)];
    }
  }
}
