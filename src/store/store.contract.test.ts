/**
 * The Store contract: the same suite runs on PGlite and, when DATABASE_URL is
 * set (CI's second pass), on PostgreSQL. Both must behave identically.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestStore, type TestStore } from "../../test/helpers.ts";
import { BinaryCopyReader, BinaryCopyRows, StoreError, copyField, copyOutPages, copyOutRows, copySettings, idPages, readPackedPages } from "./index.ts";
import { migrate } from "./index.ts";

let t: TestStore;
beforeAll(async () => {
  t = await openTestStore();
});
afterAll(async () => {
  await t.cleanup();
});

describe(`Store contract (${process.env.DATABASE_URL ? "postgres" : "pglite"})`, () => {
  it("applies migrations once and records them", async () => {
    const again = await migrate(t.store);
    expect(again).toEqual([]);
    const rows = await t.store.query<{ name: string }>("SELECT name FROM schema_migrations ORDER BY name");
    expect(rows.map((r) => r.name)).toContain("001_init.sql");
  });

  it("gives every table a workspace_id column", async () => {
    // known_time_zones is reference data PostgreSQL itself supplies, the same for every workspace.
    const rows = await t.store.query<{ table_name: string; has: boolean }>(
      `SELECT t.table_name, EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = t.table_schema
              AND c.table_name = t.table_name AND c.column_name IN ('workspace_id')) OR t.table_name = 'workspaces' AS has
         FROM information_schema.tables t WHERE t.table_schema = current_schema() AND t.table_name NOT IN ('schema_migrations', 'known_time_zones')`,
    );
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.filter((r) => !r.has).map((r) => r.table_name)).toEqual([]);
  });

  it("returns the same value types on both drivers", async () => {
    const [row] = await t.store.query<{ big: unknown; num: unknown; day: unknown; at: unknown; doc: unknown; arr: unknown; flag: unknown }>(
      "SELECT 9007199254740991::int8 AS big, 12.5::numeric AS num, '2024-02-29'::date AS day, '2024-01-01T10:00:00Z'::timestamptz AS at, '{\"a\":[1,2]}'::jsonb AS doc, ARRAY['x','y']::text[] AS arr, true AS flag",
    );
    expect(row).toEqual({ big: 9007199254740991, num: 12.5, day: "2024-02-29", at: new Date("2024-01-01T10:00:00Z"), doc: { a: [1, 2] }, arr: ["x", "y"], flag: true });
  });

  it("binds parameters, never interpolates them", async () => {
    const evil = "x'); DROP TABLE workspaces; --";
    const [row] = await t.store.query<{ v: string }>("SELECT $1::text AS v", [evil]);
    expect(row?.v).toBe(evil);
    expect(await t.store.query("SELECT 1 FROM workspaces LIMIT 1")).toBeDefined();
  });

  it("commits a transaction that resolves and rolls back one that throws", async () => {
    await t.store.transaction(async (tx) => {
      await tx.query("INSERT INTO workspaces (id, name, currency) VALUES ('tx-ok', 'ok', 'EUR')");
    });
    await expect(
      t.store.transaction(async (tx) => {
        await tx.query("INSERT INTO workspaces (id, name, currency) VALUES ('tx-bad', 'bad', 'EUR')");
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const ids = (await t.store.query<{ id: string }>("SELECT id FROM workspaces WHERE id LIKE 'tx-%' ORDER BY id")).map((r) => r.id);
    expect(ids).toEqual(["tx-ok"]);
  });

  it("reports constraint violations with their SQLSTATE", async () => {
    const err = await t.store.query("INSERT INTO workspaces (id, name, currency) VALUES ('tx-ok', 'dup', 'EUR')").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err instanceof StoreError ? err.sqlState : undefined).toBe("23505");
  });

  it("keeps concurrent transactions isolated and loses no increment", async () => {
    await t.store.query("INSERT INTO workspaces (id, name, currency) VALUES ('counter', '0', 'EUR')");
    await Promise.all(
      Array.from({ length: 20 }, () =>
        t.store.transaction(async (tx) => {
          const [r] = await tx.query<{ name: string }>("SELECT name FROM workspaces WHERE id = 'counter' FOR UPDATE");
          await tx.query("UPDATE workspaces SET name = $1 WHERE id = 'counter'", [String(Number(r?.name ?? 0) + 1)]);
        }),
      ),
    );
    const [row] = await t.store.query<{ name: string }>("SELECT name FROM workspaces WHERE id = 'counter'");
    expect(row?.name).toBe("20");
  });

  it("gives the event log monotonic ids", async () => {
    await t.store.query("INSERT INTO workspaces (id, name, currency) VALUES ('log', 'log', 'EUR') ON CONFLICT DO NOTHING");
    for (let i = 0; i < 5; i++) {
      await t.store.query(
        "INSERT INTO events (workspace_id, message_id, type, occurred_at, received_at) VALUES ('log', $1, 'track', now(), now())",
        [`m${i}`],
      );
    }
    const ids = (await t.store.query<{ id: number }>("SELECT id FROM events WHERE workspace_id = 'log' ORDER BY message_id")).map((r) => r.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(5);
  });
  it("bulk-loads rows with copyFrom, escaping values and keeping nulls, alone or inside a transaction", async () => {
    await t.store.query("CREATE TABLE copy_probe (id integer, label text, amount double precision, day date, flag boolean)");
    const awkward = "tab\there, back\\slash\nnew line";
    const line = (id: number, label: string | null, amount: number | null, day: string | null, flag: boolean) =>
      [id, label, amount, day, flag].map((v) => copyField(v)).join("\t") + "\n";
    await t.store.copyFrom("copy_probe", ["id", "label", "amount", "day", "flag"], line(1, awkward, 12.25, "2024-02-29", true) + line(2, null, null, null, false));
    await t.store.transaction(async (tx) => {
      await tx.copyFrom("copy_probe", ["id", "label", "amount", "day", "flag"], Array.from({ length: 5000 }, (_, i) => line(100 + i, `row ${i}`, i / 4, "2025-01-01", i % 2 === 0)).join(""));
    });
    // A failed COPY inside a transaction rolls back with it.
    await expect(
      t.store.transaction(async (tx) => {
        await tx.copyFrom("copy_probe", ["id", "label", "amount", "day", "flag"], line(9000, "kept?", 1, "2025-01-01", true));
        await tx.copyFrom("copy_probe", ["id", "label", "amount", "day", "flag"], "not-a-number\tx\t1\t2025-01-01\tt\n");
      }),
    ).rejects.toBeInstanceOf(StoreError);
    const rows = await t.store.query<{ id: number; label: string | null; amount: number | null; day: string | null; flag: boolean }>("SELECT * FROM copy_probe WHERE id < 100 ORDER BY id");
    expect(rows).toEqual([
      { id: 1, label: awkward, amount: 12.25, day: "2024-02-29", flag: true },
      { id: 2, label: null, amount: null, day: null, flag: false },
    ]);
    const [count] = await t.store.query<{ n: number; sum: number; none: number }>(
      "SELECT count(*)::int AS n, sum(amount)::float8 AS sum, count(*) FILTER (WHERE id = 9000)::int AS none FROM copy_probe WHERE id >= 100",
    );
    expect(count).toEqual({ n: 5000, sum: (4999 * 5000) / 2 / 4, none: 0 });
    await expect(t.store.copyFrom("copy_probe; DROP TABLE workspaces", ["id"], "1\n")).rejects.toThrow("not a plain identifier");
  });

  it("keeps working after a copyOut whose reader throws, alone or in a transaction, and never empties a caller's buffer", async () => {
    await t.store.query("CREATE TABLE copy_out_probe (n integer)");
    const bytes = new BinaryCopyRows(1);
    for (let k = 0; k < 20_000; k++) bytes.row().int4(k);
    const data = Buffer.from(bytes.finish());
    await t.store.copyFrom("copy_out_probe", ["n"], data);
    expect(data.length).toBeGreaterThan(0); // still the caller's: PGlite moves a copy to its worker
    const boom = () => {
      throw new Error("reader failed");
    };
    await expect(t.store.copyOut("SELECT n FROM copy_out_probe", boom)).rejects.toThrow("reader failed");
    expect(await t.store.query("SELECT count(*)::int AS n FROM copy_out_probe")).toEqual([{ n: 20_000 }]);
    await expect(
      t.store.transaction(async (tx) => {
        await tx.query("INSERT INTO copy_out_probe VALUES (-1)");
        await tx.copyOut("SELECT n FROM copy_out_probe", boom);
      }),
    ).rejects.toThrow("reader failed");
    expect(await t.store.query("SELECT count(*)::int AS n FROM copy_out_probe")).toEqual([{ n: 20_000 }]);
  });

  it("loads binary COPY data in parts, made as the load pulls them, and aborts on a part that throws", async () => {
    await t.store.query("CREATE TABLE parts_probe (workspace_id text, id bigint, label text)");
    const part = (from: number, to: number) => {
      const rows = new BinaryCopyRows(3);
      for (let k = from; k < to; k++) rows.row().text("w").int8(k).text(`row ${k}`);
      return rows.finish();
    };
    // Every part made once, in order.
    const made: number[] = [];
    function* parts(count: number, size: number, failAt = -1): Generator<Uint8Array<ArrayBuffer>> {
      for (let p = 0; p < count; p++) {
        if (p === failAt) throw new Error("part failed");
        made.push(p);
        yield part(p * size, (p + 1) * size);
      }
    }
    await t.store.transaction(async (tx) => tx.copyFrom("parts_probe", ["workspace_id", "id", "label"], parts(7, 1000)));
    expect(made).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const [all] = await t.store.query<{ n: number; lo: number; hi: number; distinct: number }>(
      "SELECT count(*)::int AS n, min(id)::int AS lo, max(id)::int AS hi, count(DISTINCT id)::int AS distinct FROM parts_probe",
    );
    expect(all).toEqual({ n: 7000, lo: 0, hi: 6999, distinct: 7000 });
    expect(await t.store.query("SELECT label FROM parts_probe WHERE id = 4321")).toEqual([{ label: "row 4321" }]);
    // No parts at all, and one part outside a transaction.
    await t.store.copyFrom("parts_probe", ["workspace_id", "id", "label"], parts(0, 10));
    await t.store.copyFrom("parts_probe", ["workspace_id", "id", "label"], [part(7000, 7010)]);
    // A part that throws aborts the load and its transaction, its own error coming through (not as a database error); the store goes on working.
    const failure = await t.store
      .transaction(async (tx) => {
        await tx.query("INSERT INTO parts_probe VALUES ('w', -1, 'before')");
        await tx.copyFrom("parts_probe", ["workspace_id", "id", "label"], parts(5, 100, 3));
      })
      .catch((err: unknown) => err);
    expect(failure).toMatchObject({ message: "part failed" });
    expect(failure).not.toBeInstanceOf(StoreError);
    expect(await t.store.query("SELECT count(*)::int AS n FROM parts_probe")).toEqual([{ n: 7010 }]);
    // A part that is not a whole binary payload is refused.
    await expect(t.store.copyFrom("parts_probe", ["workspace_id", "id", "label"], [part(0, 1), part(1, 2).subarray(0, 30)])).rejects.toThrow();
    expect(await t.store.query("SELECT count(*)::int AS n FROM parts_probe")).toEqual([{ n: 7010 }]);

    // Read back in pages of ids: every row once, in page order, parsed while the next page is read.
    const ids: number[] = [];
    await t.store.transaction(async (tx) => {
      const pages = await idPages(tx, "parts_probe", "w", 2500);
      expect(pages).toEqual([
        [0, 2500],
        [2500, 5000],
        [5000, 7010],
      ]);
      await copyOutPages(
        tx,
        pages.map(([lo, hi]) => `SELECT id FROM parts_probe WHERE id >= ${lo} AND id < ${hi} ORDER BY id`),
        (row) => ids.push(row.int8(0)),
      );
    });
    expect(ids).toEqual(Array.from({ length: 7010 }, (_, k) => k));
    expect(await idPages(t.store, "parts_probe", "nobody", 10)).toEqual([]);
    await expect(idPages(t.store, "parts_probe; DROP TABLE workspaces", "w", 10)).rejects.toThrow("not a plain identifier");
    // A page whose rows the caller cannot take: the error comes through, the next page settles first, the store goes on.
    await expect(
      t.store.transaction((tx) =>
        copyOutPages(tx, ["SELECT id FROM parts_probe WHERE id < 10", "SELECT id FROM parts_probe WHERE id >= 10"], () => {
          throw new Error("row refused");
        }),
      ),
    ).rejects.toThrow("row refused");
    await expect(t.store.transaction((tx) => copyOutPages(tx, ["SELECT id FROM parts_probe WHERE id < 10", "SELECT no_such_column FROM parts_probe"], () => {}))).rejects.toThrow();
    expect(await t.store.query("SELECT count(*)::int AS n FROM parts_probe")).toEqual([{ n: 7010 }]);
  });

  it("refuses numbers a binary COPY field cannot hold exactly", () => {
    const rows = new BinaryCopyRows(1).row();
    expect(() => rows.int2(40_000)).toThrow("not a smallint");
    expect(() => rows.int4(1.5)).toThrow("not an integer");
    expect(() => rows.int4(2 ** 31)).toThrow("not an integer");
    expect(() => rows.int8(2 ** 53)).toThrow("not a bigint");
    expect(() => rows.int8(Number.NaN)).toThrow("not a bigint");
    expect(() => rows.int8(Number.POSITIVE_INFINITY)).toThrow("not a bigint");
    expect(() => rows.int4(-(2 ** 31)).int2(-32_768).int8(-(2 ** 53) + 1)).not.toThrow();
  });

  it("writes and reads binary COPY: every type the code uses, nulls, and rows split across chunks", async () => {
    await t.store.query("CREATE TABLE binary_probe (i2 smallint, i4 integer, i8 bigint, f8 double precision, b boolean, t text, d date, at timestamptz)");
    const at = new Date("2024-02-29T12:34:56.789Z");
    const rows = new BinaryCopyRows(8);
    rows.row().int2(-7).int4(-2_000_000_000).int8(-9_007_199_254_740_991).float8(Math.PI).bool(true).text("café ☕\ttab").date(19_782).timestamptz(at);
    rows.row().null().null().null().null().null().null().null().null();
    for (let k = 0; k < 3000; k++) rows.row().int2(k % 100).int4(k).int8(2 ** 40 + k).float8(k / 8).bool(k % 2 === 0).text(`row ${k}`).date(19_000 + k).timestamptz(new Date(at.getTime() + k));
    await t.store.transaction(async (tx) => tx.copyFrom("binary_probe", ["i2", "i4", "i8", "f8", "b", "t", "d", "at"], rows.finish()));
    const [first] = await t.store.query("SELECT * FROM binary_probe WHERE i4 = -2000000000");
    expect(first).toEqual({ i2: -7, i4: -2_000_000_000, i8: -9_007_199_254_740_991, f8: Math.PI, b: true, t: "café ☕\ttab", d: "2024-02-29", at });
    const [nulls] = await t.store.query<{ n: number }>("SELECT count(*)::int AS n FROM binary_probe WHERE i2 IS NULL AND t IS NULL AND at IS NULL");
    expect(nulls?.n).toBe(1);

    // Read back with COPY TO, the settings bound in the transaction; the reader is fed one byte at a time on the second pass.
    const read = async (byteByByte: boolean) => {
      const out: { i8: number; f8: number; b: boolean; micros: number; i4: number }[] = [];
      let nullRows = 0;
      const reader = new BinaryCopyReader((row) => {
        if (row.isNull(0)) nullRows++;
        else out.push({ i4: row.int4(1), i8: row.int8(2), f8: row.float8(3), b: row.bool(4), micros: row.timestamptzMicros(7) });
      });
      await t.store.transaction(async (tx) => {
        const setting = await copySettings(tx, { probe_min: "-2000000000" });
        await tx.copyOut(`SELECT i2, i4, i8, f8, b, t, d, at FROM binary_probe WHERE i4 IS NULL OR i4 >= ${setting("probe_min")}::int ORDER BY i4 NULLS FIRST`, (chunk) => {
          if (!byteByByte) reader.push(chunk);
          else for (let i = 0; i < chunk.length; i++) reader.push(chunk.subarray(i, i + 1));
        });
      });
      reader.end();
      return { out, nullRows };
    };
    for (const byteByByte of [false, true]) {
      const { out, nullRows } = await read(byteByByte);
      expect(nullRows).toBe(1);
      expect(out).toHaveLength(3001);
      expect(out[0]).toEqual({ i4: -2_000_000_000, i8: -9_007_199_254_740_991, f8: Math.PI, b: true, micros: at.getTime() * 1000 });
      expect(out[3000]).toEqual({ i4: 2999, i8: 2 ** 40 + 2999, f8: 2999 / 8, b: false, micros: (at.getTime() + 2999) * 1000 });
    }
    // copyOutRows: a reader of its own for each COPY, two in one transaction.
    const counts = await t.store.transaction(async (tx) => {
      const setting = await copySettings(tx, { low: "0", high: "1000" });
      let low = 0;
      let high = 0;
      await copyOutRows(tx, `SELECT i4 FROM binary_probe WHERE i4 >= ${setting("low", "int")} AND i4 < ${setting("high", "int")}`, () => low++);
      await copyOutRows(tx, `SELECT i4 FROM binary_probe WHERE i4 >= ${setting("high")}::int`, () => high++);
      return [low, high];
    });
    expect(counts).toEqual([1000, 2000]);
    await expect(t.store.transaction(async (tx) => (await copySettings(tx, { low: "0" }))("low", "int); DROP TABLE workspaces; --"))).rejects.toThrow("not a plain type name");
    // A reader that never saw the trailer says so.
    const cut = new BinaryCopyReader(() => {});
    cut.push(new BinaryCopyRows(1).row().int4(1).finish().subarray(0, 20));
    expect(() => cut.end()).toThrow("ended early");
  });

  it("reads packed pages: every packed type exactly, every row once, and a NULL refused rather than dropped", async () => {
    await t.store.query("CREATE TABLE packed_probe (workspace_id text NOT NULL, id bigint PRIMARY KEY, i4 integer, f8 double precision, b boolean, at timestamptz)");
    const at = Date.UTC(2024, 1, 29, 12, 34, 56, 789);
    await t.store.query(
      `INSERT INTO packed_probe SELECT 'w', g, g - 2000000000, g / 8.0, g % 3 = 0, to_timestamp(${at / 1000} + g / 1000.0) FROM generate_series(1, 2500) g`,
    );
    // The extremes of each type, including what a float or a date must keep exactly.
    await t.store.query(`INSERT INTO packed_probe VALUES ('w', 9007199254740991, -2147483648, 'NaN', true, '1970-01-01T00:00:00Z'), ('w', 2600, 2147483647, '-Infinity', false, '2255-01-01T00:00:00.000001Z')`);
    const rows = new Map<number, { i4: number; f8: number; b: boolean; micros: number }>();
    await t.store.transaction(async (tx) => {
      const pages = [[1, 1001], [1001, 2001], [2001, 2601], [9007199254740991, 9007199254740992]];
      await readPackedPages(
        tx,
        pages.map(([lo, hi]) => `SELECT id, i4, f8, b, at FROM packed_probe WHERE id >= ${lo} AND id < ${hi}`),
        ["int8", "int4", "float8", "bool", "timestamptz"],
        (row) => {
          expect(rows.has(row.int8(0))).toBe(false);
          rows.set(row.int8(0), { i4: row.int4(1), f8: row.float8(2), b: row.bool(3), micros: row.timestamptzMicros(4) });
        },
      );
    });
    expect(rows.size).toBe(2502);
    expect(rows.get(1)).toEqual({ i4: -1_999_999_999, f8: 0.125, b: false, micros: (at + 1) * 1000 });
    expect(rows.get(2499)).toEqual({ i4: 2499 - 2_000_000_000, f8: 2499 / 8, b: true, micros: (at + 2499) * 1000 });
    expect(rows.get(9_007_199_254_740_991)).toEqual({ i4: -2_147_483_648, f8: NaN, b: true, micros: 0 });
    expect(rows.get(2600)).toEqual({ i4: 2_147_483_647, f8: -Infinity, b: false, micros: Date.UTC(2255, 0, 1) * 1000 + 1 });
    // An empty page is no rows; a NULL in a packed column is an error, not a lost row.
    let seen = 0;
    await t.store.transaction((tx) => readPackedPages(tx, ["SELECT id FROM packed_probe WHERE id < 0"], ["int8"], () => seen++));
    expect(seen).toBe(0);
    await t.store.query("UPDATE packed_probe SET i4 = NULL WHERE id = 7");
    await expect(t.store.transaction((tx) => readPackedPages(tx, ["SELECT id, i4 FROM packed_probe WHERE id < 10"], ["int8", "int4"], () => {}))).rejects.toThrow(
      "a packed read got 8 of 9 rows: a column was NULL",
    );
    await expect(t.store.transaction((tx) => readPackedPages(tx, ["SELECT id FROM packed_probe"], [], () => {}))).rejects.toThrow("at least one column");
  });
});

describe.skipIf(process.env.DATABASE_URL !== undefined)("PGlite in a worker thread", () => {
  it("runs with 32 MB of shared buffers (resident in its WASM memory from the start; see pglite-worker.ts)", async () => {
    expect(await t.store.query("SHOW shared_buffers")).toEqual([{ shared_buffers: "32MB" }]);
  });

  it("does not block the event loop during a long query", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    await t.store.query("SELECT pg_sleep(0.6)");
    clearInterval(timer);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    // A blocked loop would tick at most once; a free one about 60 times.
    expect(ticks).toBeGreaterThan(30);
  });

});
