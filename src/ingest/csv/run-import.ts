/**
 * Streams a file through a format's row mapper into the store, in batches of
 * one transaction each. Memory stays flat whatever the file size: the parser
 * waits while a batch is written. A committed batch is never redone: re-running
 * the same file finds its orders by external id and skips them.
 */
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { Transform, type Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { createInterface } from "node:readline";
import { Parser, type Options } from "csv-parse";
import { refreshPlannerStatistics, type Store } from "../../store/index.ts";
import { AppError } from "../../shared/index.ts";
import { writeCustomers, writeOrders, writeProducts, writeRefunds, type Workspace } from "../write.ts";
import { KnownProducts } from "../known-products.ts";
import type { CustomerRecord, OrderRecord, ProductRecord, RefundRecord } from "../records.ts";
import type { ImportFormat, ImportItem } from "./format.ts";
import { onlineRetail } from "./online-retail.ts";
import { cdnow } from "./cdnow.ts";
import { customersCsv, ordersCsv, productsCsv } from "./generic.ts";
import { shopifyOrders } from "./shopify-orders.ts";

export const IMPORT_FORMATS: Record<string, ImportFormat> = Object.fromEntries(
  [ordersCsv, customersCsv, productsCsv, shopifyOrders, onlineRetail, cdnow].map((f) => [f.name, f]),
);

export interface ImportError {
  line: number;
  field: string;
  message: string;
}

export interface ImportSummary {
  /** Records (orders, refunds, customers, products) stored by this run. */
  imported: number;
  /** Records already stored (a re-import), left as they were. */
  skipped: number;
  /** Malformed lines, each skipped; at most `MAX_REPORTED_ERRORS` are listed. */
  errors: ImportError[];
  errorCount: number;
  lines: number;
  /** Things that were imported but may not be what the user meant (e.g. a currency other than the workspace's). */
  warnings: string[];
}

export interface ImportProgress extends ImportSummary {
  bytesRead: number;
  totalBytes: number;
}

export interface ImportOptions {
  format: string;
  /** Currency of amounts when the file does not say (default: the workspace's). */
  currency?: string | undefined;
  now: () => Date;
  /** Records per transaction. */
  batchSize?: number;
  /** Called after each committed batch: what it reports is safely stored. */
  onProgress?: (p: ImportProgress) => void;
}

export const MAX_REPORTED_ERRORS = 1000;

export function importFormat(name: string): ImportFormat {
  const f = IMPORT_FORMATS[name];
  if (!f) throw new AppError("invalid_input", `--format: unknown format "${name}" (one of ${Object.keys(IMPORT_FORMATS).join(", ")})`, [{ field: "format", message: "unknown format" }]);
  return f;
}

/** Imports a file (plain or .gz) from disk. */
export async function importFile(store: Store, ws: Workspace, path: string, options: ImportOptions): Promise<ImportSummary> {
  const format = importFormat(options.format);
  const info = await stat(path).catch(() => {
    throw new AppError("not_found", `${path}: no such file`, [{ field: "file", message: "no such file" }]);
  });
  if (!info.isFile()) throw new AppError("invalid_input", `${path}: not a file`, [{ field: "file", message: "not a file" }]);
  const gz = path.endsWith(".gz") || (await isGzip(path));
  return importStream(store, ws, createReadStream(path), { ...options, format: format.name, gzip: gz, totalBytes: info.size });
}

async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(2);
    await fh.read(buf, 0, 2, 0);
    return buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Imports from any byte stream (a file, a request body, generated data). */
export async function importStream(
  store: Store,
  ws: Workspace,
  input: Readable,
  options: ImportOptions & { gzip?: boolean; totalBytes?: number },
): Promise<ImportSummary> {
  const format = importFormat(options.format);
  const currency = options.currency ?? ws.currency;
  const batchSize = options.batchSize ?? 5000;
  const summary: ImportSummary = { imported: 0, skipped: 0, errors: [], errorCount: 0, lines: 0, warnings: [] };
  const foreign = new Map<string, number>();
  // Products committed to the catalogue by this import's earlier batches (Batch.write).
  const knownProducts = new KnownProducts();
  let bytesRead = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytesRead += chunk.length;
      cb(null, chunk);
    },
  });
  let stream: Readable = input.pipe(counter);
  if (options.gzip) stream = stream.pipe(createGunzip());

  const mapper = format.start({ currency });
  let batch = new Batch(`import:${format.name}`);
  const report = (e: ImportError) => {
    summary.errorCount++;
    if (summary.errors.length < MAX_REPORTED_ERRORS) summary.errors.push(e);
  };
  const take = (items: ImportItem[]) => {
    for (const item of items) {
      if (item.kind === "error") report({ line: item.line, field: item.field, message: item.message });
      else batch.add(item);
    }
  };
  // One batch is written while the next is parsed: the parser waits only when
  // a second batch is ready before the first is committed, so memory stays
  // bounded by two batches. Batches commit in file order.
  let inFlight: Promise<void> = Promise.resolve();
  let writeError: unknown;
  const flush = async () => {
    if (batch.size === 0) return;
    const b = batch;
    batch = new Batch(`import:${format.name}`);
    for (const r of [...b.orders, ...b.refunds]) if (r.currency !== ws.currency) foreign.set(r.currency, (foreign.get(r.currency) ?? 0) + 1);
    await inFlight;
    if (writeError !== undefined) throw writeError;
    inFlight = b.write(store, ws, options.now(), knownProducts).then(
      (r) => {
        summary.imported += r.imported;
        summary.skipped += r.skipped;
        options.onProgress?.({ ...summary, bytesRead, totalBytes: options.totalBytes ?? 0 });
      },
      (err: unknown) => {
        writeError = err;
      },
    );
  };

  for await (const { fields, line } of rows(stream, format, report)) {
    summary.lines = line;
    take(mapper.row(fields, line));
    if (batch.size >= batchSize) await flush();
  }
  take(mapper.end());
  await flush();
  await inFlight;
  if (writeError !== undefined) throw writeError;
  summary.errors.sort((a, b) => a.line - b.line);
  for (const [currency, n] of foreign) {
    summary.warnings.push(
      `${n} orders and refunds are in ${currency}, not the workspace currency ${ws.currency}: they count as orders but not in revenue figures. ` +
        `To analyse them, import into a ${currency} workspace (FIDELIO_WORKSPACE=… FIDELIO_CURRENCY=${currency}).`,
    );
  }
  options.onProgress?.({ ...summary, bytesRead, totalBytes: options.totalBytes ?? bytesRead });
  if (summary.imported > 0) await refreshPlannerStatistics(store);
  return summary;
}

async function* rows(
  stream: Readable,
  format: ImportFormat,
  report: (e: ImportError) => void,
): AsyncGenerator<{ fields: Record<string, string>; line: number }> {
  if (format.layout === "whitespace") {
    let line = 0;
    for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
      line++;
      const parts = text.trim().split(/\s+/);
      if (parts.length === 1 && parts[0] === "") continue;
      const names = format.columns?.(parts.length);
      if (!names) {
        report({ line, field: "(line)", message: `expected 4 or 5 columns, found ${parts.length}` });
        continue;
      }
      const fields: Record<string, string> = {};
      names.forEach((n, i) => (fields[n] = parts[i] ?? ""));
      yield { fields, line };
    }
    return;
  }
  const parser = stream.pipe(
    new NumberedRecords({
      columns: (header: string[]) => header.map((h) => h.trim()),
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
    }),
  );
  parser.on("unreadable", (u: Unreadable) =>
    report({ line: u.from, field: "(line)", message: u.to > u.from ? `lines ${u.from}–${u.to} were read as one record and skipped: ${u.message}` : u.message }),
  );
  for await (const rec of parser) {
    const r: { fields: Record<string, string>; line: number } = rec;
    yield r;
  }
}

/** Lines the parser could not read as a record: from the line after the last record to where it gave up. */
interface Unreadable {
  from: number;
  to: number;
  message: string;
}

/**
 * csv-parse's stream with each record's line number: the parser pushes a
 * record the moment it ends it, when `info.lines` is that record's last
 * line — what the `info: true` option reports, without the snapshot of
 * every counter it builds per record (1.3 s of a million-line import,
 * and its garbage; docs/benchmarks.md, "Import").
 *
 * It also says which lines a skipped record took with it (`unreadable`).
 * After a malformed quote the parser cannot know where the next record
 * starts (its maintainers' answer, adaltas/node-csv#214): it reads on as if
 * inside the quoted field until a later quote, and those lines are lost
 * with the bad one. Reported from the line after the last good record, so
 * that nobody has to guess what did not go in.
 */
class NumberedRecords extends Parser {
  /** The line the last record (read or skipped) ended on; the header is line 1. */
  #end = 1;

  constructor(options: Options) {
    super(options);
    // Emitted by the parser as it skips, in line order with the records it pushes.
    this.on("skip", (err: Error & { lines?: number }) => {
      const to = err.lines ?? this.info.lines;
      const unreadable: Unreadable = { from: Math.min(this.#end + 1, to), to, message: err.message };
      this.#end = to;
      this.emit("unreadable", unreadable);
    });
  }

  override push(record: unknown): boolean {
    if (record === null) return super.push(null);
    this.#end = this.info.lines;
    return super.push({ fields: record, line: this.info.lines });
  }
}

/** Records waiting to be written together. */
class Batch {
  constructor(readonly source: string) {}
  customers: CustomerRecord[] = [];
  products: ProductRecord[] = [];
  orders: OrderRecord[] = [];
  refunds: RefundRecord[] = [];
  size = 0;

  add(item: Exclude<ImportItem, { kind: "error" }>): void {
    this.size++;
    if (item.kind === "customer") this.customers.push(item.record);
    else if (item.kind === "product") this.products.push(item.record);
    else if (item.kind === "order") this.orders.push(item.record);
    else this.refunds.push(item.record);
  }

  /**
   * Writes the batch in one transaction. `knownProducts`: products already
   * committed by this import, left out of the catalogue upsert; the ones
   * this batch notes join it once the transaction has committed (not
   * before: a transaction the store runs again must note them again).
   */
  async write(store: Store, ws: Workspace, now: Date, knownProducts: KnownProducts): Promise<{ imported: number; skipped: number }> {
    const noted: string[] = [];
    const result = await store.transaction(async (tx) => {
      noted.length = 0;
      let imported = 0;
      let skipped = 0;
      if (this.customers.length > 0) {
        const r = await writeCustomers(tx, ws, this.customers, this.source, now);
        imported += r.inserted;
        skipped += this.customers.length - r.inserted;
      }
      if (this.products.length > 0) {
        const before = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM products WHERE workspace_id = $1 AND external_id = ANY($2::text[])", [ws.id, this.products.map((p) => p.externalId)]);
        await writeProducts(tx, ws, this.products, now);
        const existing = before[0]?.n ?? 0;
        imported += this.products.length - existing;
        skipped += existing;
      }
      if (this.orders.length > 0) {
        const r = await writeOrders(tx, ws, this.orders, this.source, now, { knownProducts: knownProducts.of(ws.id) });
        noted.push(...r.notedProducts);
        imported += r.inserted.length;
        skipped += r.existing.length;
      }
      if (this.refunds.length > 0) {
        const r = await writeRefunds(tx, ws, this.refunds, this.source, now);
        imported += r.inserted.length;
        skipped += r.existing.length;
      }
      return { imported, skipped };
    });
    knownProducts.add(ws.id, noted);
    return result;
  }
}
