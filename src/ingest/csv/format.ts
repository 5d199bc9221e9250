import type { CustomerRecord, OrderRecord, ProductRecord, RefundRecord } from "../records.ts";

/** What a format makes of the file's rows: records to store, or a line's error. */
export type ImportItem =
  | { kind: "customer"; line: number; record: CustomerRecord }
  | { kind: "product"; line: number; record: ProductRecord }
  | { kind: "order"; line: number; record: OrderRecord }
  | { kind: "refund"; line: number; record: RefundRecord }
  | { kind: "error"; line: number; field: string; message: string };

export interface MapperContext {
  /** Currency of amounts in files that do not name one (`--currency`, default the workspace's). */
  currency: string;
}

/** Stateful: formats whose orders span several rows keep the current group until its key changes. */
export interface RowMapper {
  row(fields: Record<string, string>, line: number): ImportItem[];
  end(): ImportItem[];
}

export interface ImportFormat {
  name: string;
  description: string;
  /** `csv`: comma-separated with a header row; `whitespace`: columns split on spaces, no quoting. */
  layout: "csv" | "whitespace";
  /** For whitespace layouts: column names by position (the file may or may not have a header). */
  columns?: (fieldCount: number) => string[] | undefined;
  start(ctx: MapperContext): RowMapper;
}

/** Reads a column by its header (exact case; surrounding spaces are trimmed); blank counts as absent. */
export function col(fields: Record<string, string>, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = fields[n];
    if (v !== undefined && v.trim() !== "") return v.trim();
  }
  return undefined;
}

export function errorItem(line: number, field: string, message: string): ImportItem {
  return { kind: "error", line, field, message };
}
