/**
 * Reading many rows with binary COPY through the Store seam (`copyOut`):
 * the two steps every such read takes.
 */
import { BinaryCopyReader, type CopyRow } from "./copy-binary.ts";
import { StoreError, type Queryable } from "./store.ts";

/**
 * COPY takes no bound parameters, so a query's values are set as settings
 * of the current transaction (`set_config(…, true)`, itself bound) and read
 * back in the query through the returned `setting(name)`: a sub-select, so
 * PostgreSQL reads it once (an init plan), where current_setting() called
 * per row made a 2.8-million-order read 9.8 s instead of 3.6 s
 * (docs/benchmarks.md, "Models"). Call it inside a transaction.
 */
export async function copySettings(tx: Queryable, values: Readonly<Record<string, string>>): Promise<(name: string) => string> {
  const entries = Object.entries(values);
  for (const [name] of entries) if (!/^[a-z_]+$/.test(name)) throw new StoreError(`not a plain setting name: ${name}`);
  if (entries.length > 0) {
    await tx.query(`SELECT ${entries.map(([name], i) => `set_config('fidelio.${name}', $${i + 1}, true)`).join(", ")}`, entries.map(([, v]) => v));
  }
  return (name) => {
    if (!(name in values)) throw new StoreError(`no setting ${name} was set for this query`);
    return `(SELECT current_setting('fidelio.${name}'))`;
  };
}

/**
 * Runs `COPY (query) TO STDOUT (FORMAT binary)` and hands each row to
 * `onRow`. One reader per COPY: each output is a whole stream, header to
 * trailer (a reader shared by two COPYs stops at the first one's trailer).
 */
export async function copyOutRows(db: Queryable, query: string, onRow: (row: CopyRow) => void): Promise<void> {
  const reader = new BinaryCopyReader(onRow);
  await db.copyOut(query, (chunk) => reader.push(chunk));
  reader.end();
}
