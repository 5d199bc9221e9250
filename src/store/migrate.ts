import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Store } from "./store.ts";

const migrationsDir = fileURLToPath(new URL("./migrations/", import.meta.url));

/** Applies every migration not yet applied, in file-name order, each in its own transaction. */
export async function migrate(store: Store): Promise<string[]> {
  await store.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
  );
  const done = new Set(
    (await store.query<{ name: string }>("SELECT name FROM schema_migrations")).map((r) => r.name),
  );
  const files = (await readdir(migrationsDir)).filter((f) => f.endsWith(".sql")).sort();
  const applied: string[] = [];
  for (const file of files) {
    if (done.has(file)) continue;
    const sql = await readFile(migrationsDir + file, "utf8");
    // Several statements need the simple-query protocol (exec), so the
    // transaction is spelled out; file names are ours (NNN_name.sql), never input.
    try {
      await store.exec(`BEGIN;\n${sql}\n;INSERT INTO schema_migrations (name) VALUES ('${file}');\nCOMMIT;`);
    } catch (err) {
      await store.exec("ROLLBACK").catch(() => {});
      throw err;
    }
    applied.push(file);
  }
  return applied;
}
