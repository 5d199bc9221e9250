/**
 * Every import format on small fixture files, idempotent re-import, malformed
 * lines, gzip, and the real CDNOW sample. Runs on PGlite and PostgreSQL.
 */
import { gzipSync } from "node:zlib";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { count, openTestStore, openTestWorkspace, type TestStore } from "../../../test/helpers.ts";
import { ensureWorkspace, type Workspace } from "../../workspaces/index.ts";
import { getCustomerProfile, getOrder, getProduct, getRefund } from "../../customers/index.ts";
import { CustomerRecord, OrderRecord, importFile, writeCustomers, writeOrders, type ImportSummary } from "../index.ts";
import { parseInput } from "../../shared/index.ts";

const fixture = (name: string) => new URL(`../../../test/fixtures/import/${name}`, import.meta.url).pathname;
const now = () => new Date("2026-01-01T00:00:00Z");

let t: TestStore;
let ws: Workspace;
beforeAll(async () => {
  const opened = await openTestWorkspace();
  t = opened;
  ws = opened.ws;
});
afterAll(async () => {
  await t.cleanup();
});

const run = (file: string, format: string, extra: { currency?: string; batchSize?: number } = {}): Promise<ImportSummary> =>
  importFile(t.store, ws, file, { format, now, ...extra });
const errorsOf = (s: ImportSummary) => s.errors.map((e) => [e.line, e.field]);
/** A file of these lines (newline-terminated) in a directory of its own. */
const fileOf = (name: string, lines: readonly string[]): string => {
  const file = join(mkdtempSync(join(tmpdir(), "fidelio-import-")), name);
  writeFileSync(file, lines.join("\n") + "\n");
  return file;
};

describe("orders-csv", () => {
  it("imports orders with their lines and reports each malformed line", async () => {
    const s = await run(fixture("orders.csv"), "orders-csv");
    expect(s).toMatchObject({ imported: 4, skipped: 0, errorCount: 4, lines: 10 });
    expect(errorsOf(s)).toEqual([
      [6, "placed_at"],
      [7, "quantity"],
      [8, "currency"],
      [9, "unit_price"],
    ]);
    expect(await getOrder(t.store, ws, "1001")).toMatchObject({
      customerExternalId: "c-1",
      status: "paid",
      subtotalMinor: 3250,
      discountMinor: 100,
      shippingMinor: 490,
      totalMinor: 3640,
      discountCodes: ["WELCOME", "SPRING"],
      salesChannel: "web",
      lines: [
        { productId: "p-1", sku: "SKU1", quantity: 2, unitPriceMinor: 1250, totalMinor: 2500 },
        { productId: "p-2", quantity: 1, unitPriceMinor: 800, discountMinor: 50, totalMinor: 750 },
      ],
    });
    expect(await getOrder(t.store, ws, "1002")).toMatchObject({ placedAt: "2025-02-01T00:00:00.000Z", status: "placed" });
    // An email alone identifies the customer.
    expect(await getOrder(t.store, ws, "1003")).toMatchObject({ customerExternalId: "bob@example.com", currency: "USD", totalMinor: 2000, placedAt: "2025-03-01T09:30:00.000Z", lines: [] });
    expect((await getCustomerProfile(t.store, ws, "c-1")).rollup).toMatchObject({ orderCount: 2, revenueMinor: 3640 + 3000 });
  });

  it("changes nothing when the same file is imported again", async () => {
    const before = await t.store.query("SELECT * FROM customer_rollups ORDER BY customer_id");
    const events = await count(t.store, "SELECT count(*) AS n FROM events");
    const s = await run(fixture("orders.csv"), "orders-csv");
    expect(s).toMatchObject({ imported: 0, skipped: 4, errorCount: 4 });
    expect(await t.store.query("SELECT * FROM customer_rollups ORDER BY customer_id")).toEqual(before);
    expect(await count(t.store, "SELECT count(*) AS n FROM events")).toBe(events);
  });
});

describe("customers-csv and products-csv", () => {
  it("imports customers with consents, first touch and custom traits", async () => {
    const s = await run(fixture("customers.csv"), "customers-csv");
    expect(s).toMatchObject({ imported: 1, skipped: 2, errorCount: 3 }); // c-1 and c-2 already existed (orders)
    expect(errorsOf(s)).toEqual([
      [5, "email"],
      [6, "birthday"],
      [7, "email_consent"],
    ]);
    expect(await getCustomerProfile(t.store, ws, "c-1")).toMatchObject({
      email: "ana@example.com",
      phone: "+33611223344",
      birthday: "1990-04-12",
      timeZone: "Europe/Paris",
      acquisitionChannel: "google",
      firstTouch: { source: "google", medium: "cpc", campaign: "brand" },
      consents: { email: { granted: true, source: "import" }, sms: { granted: false } },
      traits: { shoe_size: { value: "38", source: "import:customers-csv" }, favourite_colour: { value: "green" } },
      createdAt: "2024-12-01T00:00:00.000Z",
    });
    expect(await getCustomerProfile(t.store, ws, "dora@example.com")).toMatchObject({ firstName: "Dora" });
    const again = await run(fixture("customers.csv"), "customers-csv");
    expect(again).toMatchObject({ imported: 0, skipped: 3 });
  });

  it("imports products and names the bad column", async () => {
    const s = await run(fixture("products.csv"), "products-csv");
    // p-1 and p-2 entered the catalogue from the order lines above; the file completes them.
    expect(s).toMatchObject({ imported: 0, skipped: 2, errorCount: 3 });
    expect(errorsOf(s)).toEqual([
      [4, "title"],
      [5, "price"],
      [6, "url"],
    ]);
    expect(await getProduct(t.store, ws, "p-1")).toMatchObject({ title: "Espresso beans 1 kg", priceMinor: 2490, currency: "EUR", usageDays: 30, category: "coffee" });
    expect(await getProduct(t.store, ws, "p-2")).toMatchObject({ priceMinor: 1600, currency: "EUR" });
    expect(await run(fixture("products.csv"), "products-csv")).toMatchObject({ imported: 0, skipped: 2 });
  });
});

describe("a NUL character in a file", () => {
  it("is a bad line named by its field; the other lines go in", async () => {
    const file = fileOf("customers.csv", ["external_id,email,first_name", "nul-ok,ok@example.com,Ada", "nul-bad,bad@example.com,Bo\u0000b"]);
    const s = await run(file, "customers-csv");
    expect(s).toMatchObject({ imported: 1, errorCount: 1 });
    expect(errorsOf(s)).toEqual([[3, "first_name"]]);
    expect(s.errors[0]?.message).toMatch(/NUL character/);
  });
});

describe("line numbers", () => {
  it("name the physical line a record ends on, after a quoted field over two lines", async () => {
    const file = fileOf("customers.csv", [
      "customer_id,email,first_name", // 1
      'ln-ok,ln-ok@example.com,"Ada', // 2: a quoted name over two lines
      'Lovelace"', // 3
      "ln-nul,ln-nul@example.com,Bo\u0000b", // 4: refused by its field
      "ln-last,ln-last@example.com,Eve\u0000", // 5: refused by its field
      "ln-end,ln-end@example.com,Fay", // 6
    ]);
    const s = await run(file, "customers-csv");
    expect(s).toMatchObject({ imported: 2, errorCount: 2 });
    expect(errorsOf(s)).toEqual([
      [4, "first_name"],
      [5, "first_name"],
    ]);
    expect(await count(t.store, "SELECT count(*) AS n FROM customers WHERE external_id IN ('ln-ok', 'ln-end')")).toBe(2);
  });

  it("name every line a malformed quote takes with it, from the line after the last good record", async () => {
    const file = fileOf("customers.csv", [
      "customer_id,email,first_name", // 1
      "q-ok,q-ok@example.com,Ada", // 2
      'q-bad,q-bad@example.com,"Bo"x', // 3: text after a closing quote
      "q-lost1,q-lost1@example.com,Cy", // 4 and 5: read by the parser as inside a quoted field
      "q-lost2,q-lost2@example.com,Dee", // 5
      'q-next,q-next@example.com,"Eve"', // 6: its quote ends the confusion, and the record with it
      "q-end,q-end@example.com,Fay", // 7
    ]);
    const s = await run(file, "customers-csv");
    expect(s).toMatchObject({ imported: 2, errorCount: 2 });
    expect(errorsOf(s)).toEqual([
      [3, "(line)"],
      [4, "(line)"],
    ]);
    expect(s.errors[1]?.message).toMatch(/^lines 4–6 were read as one record and skipped: /);
    expect(await count(t.store, "SELECT count(*) AS n FROM customers WHERE external_id IN ('q-ok', 'q-end')")).toBe(2);
  });
});

describe("shopify-orders", () => {
  it("groups an export's rows into orders keyed by customer email", async () => {
    const s = await run(fixture("shopify-orders.csv"), "shopify-orders");
    expect(s).toMatchObject({ imported: 3, errorCount: 1 });
    expect(errorsOf(s)).toEqual([[6, "Created at"]]);
    expect(await getOrder(t.store, ws, "shopify-export:#1001")).toMatchObject({
      customerExternalId: "jo@example.com",
      placedAt: "2025-03-01T09:00:00.000Z",
      subtotalMinor: 4500,
      shippingMinor: 490,
      taxMinor: 900,
      totalMinor: 5890,
      discountCodes: ["SPRING"],
      lines: [
        { sku: "SKU1", title: "Espresso beans", quantity: 2, unitPriceMinor: 1250 },
        { sku: "SKU9", title: "Grinder", quantity: 1, unitPriceMinor: 2000 },
      ],
    });
    expect(await getCustomerProfile(t.store, ws, "jo@example.com")).toMatchObject({ firstName: "Jo", lastName: "March", consents: { email: { granted: true } } });
    expect(await getOrder(t.store, ws, "shopify-export:#1002")).toMatchObject({ status: "refunded", salesChannel: "pos" });
    expect(await getOrder(t.store, ws, "shopify-export:#1003")).toMatchObject({ status: "cancelled" });
    // A cancelled order does not count as a purchase.
    expect((await getCustomerProfile(t.store, ws, "beth@example.com")).rollup.orderCount).toBe(0);
  });
});

describe("online-retail (UCI layout)", () => {
  it("makes an order of each invoice, a refund of each C invoice, a guest order without CustomerID", async () => {
    const s = await run(fixture("online-retail.csv"), "online-retail", { currency: "GBP" });
    expect(s.imported).toBe(6);
    expect(errorsOf(s).map((e) => e[0])).toEqual([9, 10, 11, 12, 13]);
    expect(errorsOf(s).slice(0, 4)).toEqual([
      [9, "Quantity"],
      [10, "InvoiceDate"],
      [11, "UnitPrice"],
      [12, "(order)"],
    ]);
    expect(await getOrder(t.store, ws, "uci:536365")).toMatchObject({
      customerExternalId: "17850",
      currency: "GBP",
      placedAt: "2010-12-01T08:26:00.000Z",
      totalMinor: 6 * 255 + 6 * 339,
      lines: [
        { productId: "85123A", title: "WHITE HANGING HEART T-LIGHT HOLDER", quantity: 6, unitPriceMinor: 255 },
        { productId: "71053", quantity: 6, unitPriceMinor: 339 },
      ],
    });
    expect(await getOrder(t.store, ws, "uci:536367")).toMatchObject({ placedAt: "2010-12-01T08:34:00.000Z", totalMinor: 32 * 169 });
    expect(await getOrder(t.store, ws, "uci:536368")).toMatchObject({ guest: true });
    expect(await getRefund(t.store, ws, "uci:C536383")).toMatchObject({ customerExternalId: "17850", amountMinor: 930, currency: "GBP", orderExternalId: null });
    expect(await getRefund(t.store, ws, "uci:C536379")).toMatchObject({ customerExternalId: "14527", amountMinor: 2750 });
    // Products named only in the log's lines enter the catalogue.
    expect(await getProduct(t.store, ws, "85123A")).toMatchObject({ title: "WHITE HANGING HEART T-LIGHT HOLDER", priceMinor: 255, currency: "GBP" });
    const c = await getCustomerProfile(t.store, ws, "17850");
    expect(c).toMatchObject({ traits: { country: { value: "United Kingdom" } }, rollup: { orderCount: 2, refundCount: 1 } });
  });

  it("notes each product named in lines once per import, in whichever batch names it first", async () => {
    const fresh = await ensureWorkspace(t.store, "products-once", "GBP");
    const header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country";
    // Five invoices, one a batch; P1 in every one, P2 from the third on.
    const lines = [1, 2, 3, 4, 5].flatMap((k) => [
      `70000${k},P1,FIRST PRODUCT,1,2011-01-0${k}T10:00:00,1.50,9000${k},France`,
      ...(k >= 3 ? [`70000${k},P2,SECOND PRODUCT,2,2011-01-0${k}T10:00:00,2.00,9000${k},France`] : []),
    ]);
    const file = fileOf("log.csv", [header, ...lines]);
    const s = await importFile(t.store, fresh, file, { format: "online-retail", now, batchSize: 1 });
    expect(s).toMatchObject({ imported: 5, errorCount: 0 });
    expect(await getProduct(t.store, fresh, "P1")).toMatchObject({ title: "FIRST PRODUCT", priceMinor: 150 });
    expect(await getProduct(t.store, fresh, "P2")).toMatchObject({ title: "SECOND PRODUCT", priceMinor: 200 });
    expect(await count(t.store, "SELECT count(*)::int AS n FROM products WHERE workspace_id = $1", [fresh.id])).toBe(2);
  });

  it("writeOrders leaves out of the catalogue the products its caller vouches are there, and says which it noted", async () => {
    const fresh = await ensureWorkspace(t.store, "products-known", "EUR");
    const order = (id: string, productId: string) =>
      parseInput(OrderRecord, { externalId: id, placedAt: "2026-01-01T00:00:00Z", currency: "EUR", totalMinor: 100, lines: [{ productId, quantity: 1, unitPriceMinor: 100 }] });
    const first = await t.store.transaction((tx) => writeOrders(tx, fresh, [order("k1", "vouched"), order("k2", "named")], "test", now(), { knownProducts: new Set(["vouched"]) }));
    expect(first.notedProducts).toEqual(["named"]);
    expect(await getProduct(t.store, fresh, "named")).toMatchObject({ title: "named" });
    await expect(getProduct(t.store, fresh, "vouched")).rejects.toMatchObject({ code: "not_found" });
  });

  it.skipIf(!process.env.DATABASE_URL)("gives the id of a customer another transaction committed while the upsert waited (PostgreSQL)", async () => {
    // Transaction A inserts "raced" and holds it; B's upsert of the same key waits for A, then finds the row
    // unchanged — but its statement's snapshot predates A's commit, so the id comes from the look-up after it.
    const fresh = await ensureWorkspace(t.store, "customer-race", "EUR");
    const record = parseInput(CustomerRecord, { externalId: "raced" });
    let commitA: () => void = () => {};
    const held = new Promise<void>((resolve) => (commitA = resolve));
    let insertedA: () => void = () => {};
    const aInserted = new Promise<void>((resolve) => (insertedA = resolve));
    const a = t.store.transaction(async (tx) => {
      const r = await writeCustomers(tx, fresh, [record], "test", now());
      insertedA();
      await held;
      return r.ids.get("raced");
    });
    await aInserted;
    const b = t.store.transaction((tx) => writeCustomers(tx, fresh, [record], "test", now()));
    // Until B waits on A's row lock (PostgreSQL lists it as waiting on a Lock).
    for (let waiting = 0; waiting === 0; ) {
      const [row] = await t.store.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
      waiting = row?.n ?? 0;
    }
    commitA();
    const [idA, rb] = await Promise.all([a, b]);
    expect(idA).toBeGreaterThan(0);
    expect(rb.ids.get("raced")).toBe(idA);
    expect(rb.inserted).toBe(0);
  });

  it("reads .gz files directly and re-imports idempotently", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fidelio-gz-"));
    const gz = join(dir, "retail.csv.gz");
    writeFileSync(gz, gzipSync(readFileSync(fixture("online-retail.csv"))));
    const s = await run(gz, "online-retail", { currency: "GBP" });
    expect(s).toMatchObject({ imported: 0, skipped: 6, errorCount: 5 });
    // Same content, other name, no .gz suffix: recognised by its magic bytes.
    const hidden = join(dir, "retail.bin");
    writeFileSync(hidden, readFileSync(gz));
    expect(await run(hidden, "online-retail", { currency: "GBP" })).toMatchObject({ skipped: 6 });
  });
});

describe("cdnow", () => {
  it("reads both layouts and gives the same ids in each", async () => {
    const master = await run(fixture("cdnow-master.txt"), "cdnow");
    expect(master).toMatchObject({ imported: 5, errorCount: 2 });
    expect(errorsOf(master)).toEqual([
      [7, "date"],
      [8, "cds"],
    ]);
    expect(await getOrder(t.store, ws, "cdnow:2:19970112:2")).toMatchObject({ customerExternalId: "2", currency: "USD", totalMinor: 7700, lines: [{ quantity: 5, totalMinor: 7700 }] });
    // Dollars into a euro workspace: imported, and the user is told what that means.
    expect(master.warnings).toEqual([expect.stringContaining("5 orders and refunds are in USD, not the workspace currency EUR")]);
    const sample = await run(fixture("cdnow-sample.txt"), "cdnow");
    expect(sample).toMatchObject({ imported: 0, skipped: 3, errorCount: 0 });
  });

  it("imports the real CDNOW sample: 2,357 customers, 6,919 purchases", async () => {
    const own = await openTestStore();
    try {
      const w = await ensureWorkspace(own.store, "cdnow", "USD");
      const s = await importFile(own.store, w, new URL("../../../data/cdnow/CDNOW_sample.txt", import.meta.url).pathname, { format: "cdnow", now });
      expect(s).toMatchObject({ imported: 6919, skipped: 0, errorCount: 0, lines: 6919 });
      expect(await count(own.store, "SELECT count(*) AS n FROM customers WHERE workspace_id = 'cdnow'")).toBe(2357);
      // Total spend of the sample, summed from the file independently of the importer.
      const text = readFileSync(new URL("../../../data/cdnow/CDNOW_sample.txt", import.meta.url), "utf8");
      const cents = text.trim().split(/\r?\n/).reduce((sum, l) => sum + Math.round(Number(l.trim().split(/\s+/)[4]) * 100), 0);
      expect(await count(own.store, "SELECT sum(revenue_minor) AS n FROM customer_rollups WHERE workspace_id = 'cdnow'")).toBe(cents);
    } finally {
      await own.cleanup();
    }
  });
});

describe("bad files", () => {
  it("refuses an unknown format and a missing file with the field named", async () => {
    await expect(run(fixture("orders.csv"), "excel")).rejects.toMatchObject({ code: "invalid_input", issues: [{ field: "format" }] });
    await expect(run(fixture("nope.csv"), "orders-csv")).rejects.toMatchObject({ code: "not_found", issues: [{ field: "file" }] });
  });
});
