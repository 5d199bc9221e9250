import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import pg from "pg";
import { from as copyFromStdin, to as copyToStdout } from "pg-copy-streams";
import { StoreError, copyStatement, typeParsers, type CopyData, type CopyParts, type Queryable, type Row, type Store } from "./store.ts";
import { joinedBinaryCopy } from "./copy-binary.ts";

function wrap(err: unknown): StoreError {
  if (err instanceof pg.DatabaseError) return new StoreError(err.message, err.code, err.constraint);
  return new StoreError(err instanceof Error ? err.message : String(err));
}

const types = {
  getTypeParser: (oid: number, format?: string) => typeParsers[oid] ?? pg.types.getTypeParser(oid, format === "binary" ? "binary" : "text"),
};

class PgQueryable implements Queryable {
  constructor(private readonly client: pg.Pool | pg.PoolClient) {}
  async query<T extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    try {
      const res = await this.client.query<T>({ text: sql, values: [...params], types });
      return res.rows;
    } catch (err) {
      throw wrap(err);
    }
  }

  async copyFrom(table: string, columns: readonly string[], data: CopyData | CopyParts): Promise<void> {
    const sql = copyStatement(table, columns, "STDIN", data);
    // An error of the caller's own parts comes out as it is, not as a database error.
    let partFailure: { err: unknown } | null = null;
    function* parts(all: CopyParts): Generator<Uint8Array<ArrayBuffer>> {
      try {
        yield* joinedBinaryCopy(all);
      } catch (err) {
        partFailure = { err };
        throw err;
      }
    }
    await this.#withClient(async (client) => {
      const chunks = typeof data === "string" ? [Buffer.from(data, "utf8")] : data instanceof Uint8Array ? [data] : parts(data);
      // One statement, the parts pulled as the socket drains: the server
      // loads what is already sent while the next part is made. A part that
      // throws destroys the stream, which sends CopyFail.
      await pipeline(
        Readable.from(chunks, { objectMode: true }),
        async function* (source: AsyncIterable<Uint8Array>) {
          for await (const chunk of source) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        },
        client.query(copyFromStdin(sql)),
      );
    }).catch((err: unknown) => {
      throw partFailure ? partFailure.err : err;
    });
  }

  async copyOut(query: string, onChunk: (chunk: Uint8Array) => void): Promise<void> {
    await this.#withClient(async (client) => {
      const stream = client.query(copyToStdout(`COPY (${query}) TO STDOUT (FORMAT binary)`));
      // The stream is read to its end even when onChunk throws: a COPY
      // abandoned half-way leaves the connection stuck (the next query on it,
      // or the transaction's ROLLBACK, would wait forever).
      let failure: { err: unknown } | null = null;
      for await (const chunk of stream) {
        if (failure || !(chunk instanceof Uint8Array)) continue;
        try {
          onChunk(chunk);
        } catch (err) {
          failure = { err };
        }
      }
      if (failure) throw failure.err;
    });
  }

  /**
   * Runs `fn` on this queryable's client: a transaction's as it is, or one
   * lent by the pool. A lent client that failed is discarded, not returned.
   */
  async #withClient(fn: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    if (!(this.client instanceof pg.Pool)) {
      try {
        await fn(this.client);
      } catch (err) {
        throw err instanceof StoreError ? err : wrap(err);
      }
      return;
    }
    const lent = await this.client.connect().catch((err: unknown) => Promise.reject(wrap(err)));
    try {
      await fn(lent);
      lent.release();
    } catch (err) {
      lent.release(err instanceof Error ? err : true);
      throw err instanceof StoreError ? err : wrap(err);
    }
  }
}

/** The PostgreSQL server implementation of Store (a connection pool). */
export class PostgresStore implements Store {
  readonly kind = "postgres" as const;
  readonly #pool: pg.Pool;
  readonly #q: PgQueryable;

  constructor(url: string, options: { searchPath?: string; max?: number } = {}) {
    this.#pool = new pg.Pool({
      connectionString: url,
      max: options.max ?? 10,
      // Sessions in UTC: `timestamptz ± interval` and date casts then never depend on the server's zone.
      options: `-c TimeZone=UTC${options.searchPath ? ` -c search_path=${options.searchPath}` : ""}`,
    });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    this.#pool.on("error", () => {});
    this.#q = new PgQueryable(this.#pool);
  }

  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.#q.query<T>(sql, params);
  }

  async exec(sql: string): Promise<void> {
    await this.#q.query(sql);
  }

  copyFrom(table: string, columns: readonly string[], data: CopyData | CopyParts): Promise<void> {
    return this.#q.copyFrom(table, columns, data);
  }

  copyOut(query: string, onChunk: (chunk: Uint8Array) => void): Promise<void> {
    return this.#q.copyOut(query, onChunk);
  }

  /**
   * Runs `fn` in a transaction; a deadlock or serialization failure (SQLSTATE
   * 40P01, 40001) rolls back and runs it again, up to 5 times, so concurrent
   * writers never lose a batch. `fn` must therefore be safe to run twice.
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#transactionOnce(fn);
      } catch (err) {
        const retryable = err instanceof StoreError && (err.sqlState === "40P01" || err.sqlState === "40001");
        if (!retryable || attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
      }
    }
  }

  async #transactionOnce<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect().catch((err: unknown) => {
      throw wrap(err);
    });
    try {
      await client.query("BEGIN");
      const result = await fn(new PgQueryable(client));
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err instanceof pg.DatabaseError ? wrap(err) : err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
