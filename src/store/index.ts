/**
 * @module store — the database seam. `openStore` picks the implementation:
 * a PostgreSQL server when a URL is given, else embedded PGlite.
 */
import { join } from "node:path";
import { PgliteStore } from "./pglite.ts";
import { PostgresStore } from "./postgres.ts";
import { migrate } from "./migrate.ts";
import { lockDataDir } from "./data-dir-lock.ts";
import type { Store } from "./store.ts";

export type { CopyData, CopyParts, Store, Queryable, Row } from "./store.ts";
export { BinaryCopyReader, BinaryCopyRows, type CopyRow, type PackedRow, type PackedType } from "./copy-binary.ts";
export { copyOutPages, copyOutRows, copySettings, idPages, readPackedPages } from "./copy-out.ts";
export { StoreError, copyField } from "./store.ts";
export { PgliteStore } from "./pglite.ts";
export { PostgresStore } from "./postgres.ts";
export { migrate } from "./migrate.ts";
export { vacuumWhereDue, maintenancePass, scheduleMaintenance, type MaintenanceStep } from "./maintenance.ts";

/**
 * Refreshes the query planner's statistics after a bulk load. PGlite runs no
 * autovacuum, and a PostgreSQL server's comes later: with stale statistics a
 * freshly imported `orders` table looks empty to the planner, and analytics
 * queries pick nested loops that take minutes instead of a second.
 */
export async function refreshPlannerStatistics(store: Store): Promise<void> {
  await store.exec("ANALYZE customers, customer_rollups, orders, order_lines, refunds, products, events");
}

export interface StoreOptions {
  /** postgres://… — use a PostgreSQL server. */
  databaseUrl?: string | undefined;
  /** Folder of the embedded database; undefined with no URL means in memory. */
  dataDir?: string | undefined;
  /** PostgreSQL schema to work in (tests give each suite its own). */
  searchPath?: string | undefined;
  /** A backup (PGlite dump) to load into an empty data folder. */
  restoreFrom?: Uint8Array | undefined;
}

/** Opens the store, holding the data-folder lock for PGlite, and applies migrations. */
export async function openStore(options: StoreOptions): Promise<Store> {
  if (options.databaseUrl) {
    const store = new PostgresStore(options.databaseUrl, { searchPath: options.searchPath });
    await migrate(store);
    return store;
  }
  const unlock = options.dataDir ? await lockDataDir(options.dataDir) : async () => {};
  try {
    const pglite = await PgliteStore.open({
      ...(options.dataDir ? { dataDir: join(options.dataDir, "pgdata") } : {}),
      ...(options.restoreFrom ? { loadDataDir: options.restoreFrom } : {}),
      onClose: unlock,
    });
    await migrate(pglite);
    return pglite;
  } catch (err) {
    await unlock();
    throw err;
  }
}
