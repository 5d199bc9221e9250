import { Worker } from "node:worker_threads";
import { StoreError, copyStatement, type CopyData, type CopyParts, type Queryable, type Row, type Store } from "./store.ts";

interface Reply {
  id?: number;
  ready?: boolean;
  rows?: Row[];
  data?: Uint8Array;
  error?: { message: string; code?: string; constraint?: string };
}


/**
 * The embedded implementation of Store: PGlite (PostgreSQL compiled to WASM)
 * in a worker thread. PGlite has one connection, so a transaction holds a
 * lock that other queries wait on, exactly like a pool of size one.
 */
export class PgliteStore implements Store {
  readonly kind = "pglite" as const;
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #lock: Promise<void> = Promise.resolve();
  #closed = false;
  #onClose: () => Promise<void> = async () => {};

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on("message", (msg: Reply) => {
      if (msg.id === undefined) return;
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.error) p.reject(new StoreError(msg.error.message, msg.error.code, msg.error.constraint));
      else p.resolve(msg);
    });
    worker.on("error", (err) => {
      for (const p of this.#pending.values()) p.reject(new StoreError(`database worker failed: ${err.message}`));
      this.#pending.clear();
    });
  }

  /** Opens (or creates) the database in `dataDir`, or in memory when it is undefined. */
  static async open(
    options: { dataDir?: string; loadDataDir?: Uint8Array; onClose?: () => Promise<void> } = {},
  ): Promise<PgliteStore> {
    const worker = new Worker(new URL("./pglite-worker-boot.mjs", import.meta.url), {
      workerData: { dataDir: options.dataDir, loadDataDir: options.loadDataDir },
    });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (msg: Reply) => {
        if (msg.ready) {
          worker.off("message", onMessage);
          worker.off("error", reject);
          resolve();
        }
      };
      worker.on("message", onMessage);
      worker.once("error", reject);
    }).catch((err: unknown) => {
      throw new StoreError(`cannot open the embedded database: ${err instanceof Error ? err.message : String(err)}`);
    });
    const store = new PgliteStore(worker);
    store.#onClose = options.onClose ?? (async () => {});
    return store;
  }

  #send(op: "query" | "exec" | "dump" | "close" | "copy" | "copyOut", sql?: string, params?: readonly unknown[], data?: Uint8Array<ArrayBuffer>): Promise<Reply> {
    if (this.#closed) return Promise.reject(new StoreError("the store is closed"));
    const id = this.#nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // The COPY data is moved to the worker, not copied.
      this.#worker.postMessage({ id, op, sql, params: params ? [...params] : undefined, data }, data ? [data.buffer] : []);
    });
  }

  async #rawCopy(table: string, columns: readonly string[], data: CopyData | CopyParts): Promise<void> {
    const sql = copyStatement(table, columns, "'/dev/blob'", data);
    // Bytes the caller made are moved, so they are copied first: the caller may still hold them.
    if (typeof data === "string" || data instanceof Uint8Array) {
      await this.#send("copy", sql, undefined, typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data));
      return;
    }
    // PGlite reads a COPY's data as one blob: one statement per part, the
    // next part made while the worker thread loads the one before.
    let loading: Promise<unknown> | null = null;
    try {
      for (const part of data) {
        const bytes = new Uint8Array(part);
        if (loading) await loading;
        loading = this.#send("copy", sql, undefined, bytes);
      }
    } catch (err) {
      // Settled before anything else is sent; the part's own error is the one reported.
      await loading?.catch(() => {});
      throw err;
    }
    if (loading) await loading;
  }

  copyFrom(table: string, columns: readonly string[], data: CopyData | CopyParts): Promise<void> {
    // Parts are one statement each here: in a transaction of their own, so that the load stays all or nothing.
    if (typeof data !== "string" && !(data instanceof Uint8Array)) return this.transaction((tx) => tx.copyFrom(table, columns, data));
    return this.#exclusive(() => this.#rawCopy(table, columns, data));
  }

  async #rawCopyOut(query: string, onChunk: (chunk: Uint8Array) => void): Promise<void> {
    // PGlite writes COPY TO output to a blob: one chunk, moved from the worker.
    const reply = await this.#send("copyOut", `COPY (${query}) TO '/dev/blob' (FORMAT binary)`);
    if (!reply.data) throw new StoreError("the database returned no COPY data");
    onChunk(reply.data);
  }

  copyOut(query: string, onChunk: (chunk: Uint8Array) => void): Promise<void> {
    return this.#exclusive(() => this.#rawCopyOut(query, onChunk));
  }

  /** Runs `fn` when no transaction is open, holding the connection until it settles. */
  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#lock;
    let release: () => void = () => {};
    this.#lock = new Promise<void>((r) => (release = r));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  async #rawQuery<T extends Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    const reply = await this.#send("query", sql, params);
    const rows: T[] = [];
    // Rows cross the thread boundary as structured clones of plain objects.
    for (const r of reply.rows ?? []) rows.push(narrow<T>(r));
    return rows;
  }

  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.#exclusive(() => this.#rawQuery<T>(sql, params));
  }

  async exec(sql: string): Promise<void> {
    await this.#exclusive(() => this.#send("exec", sql));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.#exclusive(async () => {
      await this.#rawQuery("BEGIN");
      const tx: Queryable = {
        query: <R extends Row = Row>(sql: string, params?: readonly unknown[]) => this.#rawQuery<R>(sql, params),
        copyFrom: (table: string, columns: readonly string[], data: CopyData | CopyParts) => this.#rawCopy(table, columns, data),
        copyOut: (query: string, onChunk: (chunk: Uint8Array) => void) => this.#rawCopyOut(query, onChunk),
      };
      try {
        const result = await fn(tx);
        await this.#rawQuery("COMMIT");
        return result;
      } catch (err) {
        await this.#rawQuery("ROLLBACK").catch(() => {});
        throw err;
      }
    });
  }

  /** A gzip'd tarball of the whole data directory (PGlite's dumpDataDir). */
  async dump(): Promise<Uint8Array> {
    const reply = await this.#exclusive(() => this.#send("dump"));
    if (!reply.data) throw new StoreError("the database returned no dump");
    return reply.data;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#exclusive(() => this.#send("close")).catch(() => {});
    this.#closed = true;
    await this.#worker.terminate();
    await this.#onClose();
  }
}

/**
 * The worker sends rows that the database typed; the caller names the shape it
 * selected. This is the one place where that promise is taken on trust, as
 * every SQL driver's generic `query<T>` does.
 */
function narrow<T extends Row>(row: Row): T;
function narrow(row: Row): Row {
  return row;
}
